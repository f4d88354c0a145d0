"""`gridpatrol demo`: a ready-to-try GridPatrol on SQLite, with the demo compound loaded."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

REPO_ROOT = Path(__file__).resolve().parents[2]


def _demo_secret(instance_path: str) -> str:
    path = Path(instance_path) / "demo-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _load_quickly(engine) -> None:
    """For this load only, on the demo's own SQLite file: no fsync per commit (a crash mid-load means --reset and
    load again) and a larger page cache. The served demo (gunicorn, the scheduler) opens its own connections with
    the usual durable settings."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection, _record) -> None:  # runs after core.db's own settings
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.execute("PRAGMA cache_size = -200000")
        cursor.close()

    engine.dispose()


@click.command("demo")
@click.option("--host", default=None, help="Address to serve on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to serve on (default 8000).")
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Delete the demo database first.")
@click.option("--no-serve", is_flag=True, help="Prepare the database and exit.")
@click.option("--history", "history_span", default="1y", show_default=True, type=click.Choice(["0", "1y", "5y"]),
              help="How much past to play into a new demo: none, a year or five years (ending now).")
@click.option("--seed", default=2026, show_default=True, type=int, help="The history's random seed (same seed, "
              "same history).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo keeps its database and secret key (default: the instance folder).")
@with_appcontext
def demo(host: str | None, port: int | None, workers: int, reset: bool, no_serve: bool, history_span: str,
         seed: int, data_dir: Path | None) -> None:
    """Create the demo SQLite database, load the demo compound (with a history) and serve it with gunicorn."""
    from flask_migrate import upgrade

    from gridpatrol import create_app
    from gridpatrol.core.time import utcnow
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.demo import services
    from gridpatrol.history import services as history

    # From here on SIGTERM (a service manager, `kill`) stops the demo as Ctrl+C does: through the `finally` below,
    # which stops gunicorn and the scheduler too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    instance = str(data_dir) if data_dir else current_app.instance_path
    Path(instance).mkdir(parents=True, exist_ok=True)
    db_file = Path(instance).resolve() / "gridpatrol-demo.sqlite"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)
    database_url = f"sqlite:///{db_file}"
    host = host or current_app.config["DEMO_HOST"]
    port = port or current_app.config["DEMO_PORT"]

    app = create_app({"DATABASE_URL": database_url}, serving=False)
    with app.app_context():
        from gridpatrol.extensions import db

        upgrade()
        _load_quickly(db.engine)
        started = time.monotonic()
        with job_transaction() as session:
            if services.demo_loaded(session):
                click.echo(f"demo data already in {db_file} (use --reset to start over)")
            else:
                now = utcnow()
                months = history.SPANS[history_span]
                start = history.history_start(now, months, current_app.config["DEFAULT_TIMEZONE"]) if months else None
                loaded = services.load_demo(session, history_start=start)
                click.echo(f"loaded demo data into {db_file}: {', '.join(loaded)}")
                if start is not None:
                    session.commit()
                    click.echo(f"playing the history from {start:%Y-%m-%d} to now (seed {seed}):")
                    history.play(session, start=start, end=now, seed=seed, progress=click.echo)
        db.engine.dispose()
        click.echo(f"ready in {time.monotonic() - started:.0f} s")

    click.echo("")
    click.echo("Demo logins (password for all: %s):" % services.DEMO_PASSWORD)
    for login in services.DEMO_LOGINS:
        team = f" ({login.team})" if login.team else ""
        where = login.site or "all sites"
        click.echo(f"  {login.username:<10} {login.display_name:<8} {', '.join(r.value for r in login.roles)}{team}"
                   f" @ {where}")
    if no_serve:
        return

    env = dict(os.environ)
    env.update({
        "GRIDPATROL_DATABASE_URL": database_url,
        "GRIDPATROL_SECRET_KEY": _demo_secret(instance),
        "GRIDPATROL_BIND": f"{host}:{port}",
        "GRIDPATROL_WORKERS": str(workers),
    })
    env.pop("GRIDPATROL_SETTINGS", None)
    click.echo(f"\nGridPatrol demo on http://{host}:{port}/  (Ctrl+C to stop)")
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]
    # The scheduler is its own process, as in production: it makes patrols, marks misses and reminds.
    scheduler = [sys.executable, "-c", "from gridpatrol.cli import main; main()", "scheduler", "run"]
    processes: list[subprocess.Popen] = []
    try:
        for command in (gunicorn, scheduler):
            processes.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, preexec_fn=_die_with_parent))
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        codes = _stop_all(processes)
    sys.exit(max(codes, default=0))


STOP_GRACE_SECONDS = 20


def _stop_all(processes: list[subprocess.Popen]) -> list[int]:
    """SIGTERM each child (gunicorn finishes its requests, the scheduler its job), then SIGKILL what is left after
    the grace period, so the demo never returns while something still serves its port."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    codes = []
    for p in processes:
        try:
            codes.append(p.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return [abs(code) for code in codes]


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be sent SIGTERM if the demo process dies without stopping us (SIGKILL,
    a crash), so no server is left behind serving a demo nobody runs."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
