"""Builders for domain objects and small helpers the tests share (CTFd-style tests/helpers.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PASSWORD = "patrol2026!"
ALLOWED_TEST_ENV = {"GRIDPATROL_TEST_POSTGRES_URL", "GRIDPATROL_SETTINGS"}
_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class Credentials:
    id: int
    username: str
    password: str


def psycopg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def truncate_postgres(url: str) -> None:
    engine = sa.create_engine(psycopg_url(url))
    try:
        with engine.begin() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
            if tables:
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def make_user(app, username: str, *, roles=("staff",), password: str = DEFAULT_PASSWORD,
              display_name: str | None = None, locale: str | None = None) -> Credentials:
    from gridpatrol.accounts import services
    from gridpatrol.core.roles import Role
    from gridpatrol.core.transaction import job_transaction

    with app.app_context(), job_transaction() as session:
        user = services.create_user(session, username=username, display_name=display_name or username.title(),
                                    password=password, roles=[Role(r) for r in roles], locale=locale)
        return Credentials(user.id, user.username, password)


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = _CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, creds: Credentials, password: str | None = None):
    token = csrf_token(client)
    return client.post("/login", data={"csrf_token": token, "username": creds.username,
                                       "password": password or creds.password})


def post_form(client, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs):
    """POST with a valid CSRF token taken from the page at token_from (default: the same path)."""
    token = csrf_token(client, token_from or path)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def audit_actions(app, action: str | None = None) -> list:
    from gridpatrol.audit.models import AuditEvent
    from gridpatrol.extensions import db

    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session.scalars(query))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornServer:
    """The real thing: gunicorn with config/gunicorn.conf.py, started in a subprocess for a test."""

    def __init__(self, database_url: str, tmp_path: Path, workers: int = 4, threads: int = 2,
                 env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = tmp_path / "access.log"
        self.error_log = tmp_path / "gunicorn.log"
        extra = env or {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPATROL_")}
        env.update({
            "GRIDPATROL_SETTINGS": str(REPO_ROOT / "config" / "testing.py"),
            "GRIDPATROL_DATABASE_URL": database_url,
            "GRIDPATROL_BIND": f"127.0.0.1:{self.port}",
            "GRIDPATROL_WORKERS": str(workers),
            "GRIDPATROL_THREADS": str(threads),
            "GRIDPATROL_ACCESS_LOG": str(self.access_log),
            **extra,
        })
        self._log = open(self.error_log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self._wait_ready(workers)

    def _wait_ready(self, workers: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.error_log.read_text())
            try:
                with urllib.request.urlopen(self.url + "/healthz/live", timeout=2) as response:
                    if response.status == 200 and self.error_log.read_text().count("GridPatrol worker ready") >= workers:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready:\n" + self.error_log.read_text())

    def worker_pids_seen(self) -> set[str]:
        return set(re.findall(r"pid=<?(\d+)", self.access_log.read_text())) if self.access_log.exists() else set()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def run_cli(app, args: list[str], stdin: str | None = None):
    """Run the real console entry point (`gridpatrol …`) against this test's database."""
    from click.testing import CliRunner

    from gridpatrol.cli import main

    return CliRunner().invoke(main, args, input=stdin, env={"GRIDPATROL_DATABASE_URL": app.config["DATABASE_URL"]})


@contextmanager
def statements_run(engine) -> Iterator[list[str]]:
    """The SQL statements `engine` runs inside the block, in order (for tests that count what a read costs)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
