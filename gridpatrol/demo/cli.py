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


@click.command("demo")
@click.option("--host", default=None, help="Address to serve on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to serve on (default 8000).")
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Delete the demo database first.")
@click.option("--no-serve", is_flag=True, help="Prepare the database and exit.")
@with_appcontext
def demo(host: str | None, port: int | None, workers: int, reset: bool, no_serve: bool) -> None:
    """Create the demo SQLite database, load the demo compound and serve it with gunicorn."""
    from flask_migrate import upgrade

    from gridpatrol import create_app
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.demo import services

    instance = current_app.instance_path
    db_file = Path(instance) / "gridpatrol-demo.sqlite"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)
    database_url = f"sqlite:///{db_file}"
    host = host or current_app.config["DEMO_HOST"]
    port = port or current_app.config["DEMO_PORT"]

    app = create_app({"DATABASE_URL": database_url}, serving=False)
    with app.app_context():
        upgrade()
        with job_transaction() as session:
            if services.demo_loaded(session):
                click.echo(f"demo data already in {db_file} (use --reset to start over)")
            else:
                loaded = services.load_demo(session)
                click.echo(f"loaded demo data into {db_file}: {', '.join(loaded)}")

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
    processes = [subprocess.Popen(command, cwd=REPO_ROOT, env=env) for command in (gunicorn, scheduler)]
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait() for p in processes]
    sys.exit(max(codes))
