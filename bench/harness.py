"""Benchmark harness: real gunicorn servers, a pure-Python load generator, result tables.

Every benchmark in bench/ reuses this module (scripts there can `import harness`):

    import harness

    base = harness.baseline(duration=10, clients=8)               # the bare Flask app
    with harness.sqlite_database() as db_url:                     # temp file, `gridpatrol db upgrade`
        with harness.gunicorn("wsgi:app", database_url=db_url) as url:
            res = harness.measure(url, "/healthz/live", duration=10, clients=8, label="healthz sqlite")
    harness.print_table([base, res], baseline=base)

Also shared by the benchmarks: database_backends() (SQLite, plus PostgreSQL when configured), login() for a
load client's client_setup, in_process_app() / release_app() / bulk_insert() to load data and check it in
this process, and Clock / timed_runs() for in-process wall and CPU timings.

Servers run `python -m gunicorn -c config/gunicorn.conf.py APP_SPEC` from the repository root with the
*production* settings: no GRIDPATROL_SETTINGS file, DEBUG/TESTING off, a freshly generated secret key,
the database URL the caller gives, and every other GRIDPATROL_* variable of the calling shell removed.
Only loopback is ever bound or targeted, and every load loop stops at a duration and a request count.

Figures are machine-dependent: never assert them in unit tests. Compare ratios to `baseline()` taken in
the same run instead (see bench/README.md).
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from array import array
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Container, Iterator, Mapping, Self, Sequence, TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = REPO_ROOT / "config" / "gunicorn.conf.py"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
BARE_APP_SPEC = "bench.bare_app:app"
GRIDPATROL_APP_SPEC = "wsgi:app"
POSTGRES_ENV = "GRIDPATROL_BENCH_POSTGRES_URL"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}

# Hard bounds on every load run, whatever the caller asks for.
MAX_DURATION_S = 600.0
MAX_WARMUP_S = 60.0
MAX_CLIENTS = 64
DEFAULT_MAX_REQUESTS = 1_000_000
MAX_REQUESTS_LIMIT = 10_000_000

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------------------------------
# Environment for child processes
# --------------------------------------------------------------------------------------------------

def clean_environ() -> dict[str, str]:
    """os.environ without any GRIDPATROL_* variable.

    The app rejects GRIDPATROL_* names it does not know (GRIDPATROL_BENCH_POSTGRES_URL included), and a
    stray GRIDPATROL_SETTINGS would turn the production settings into something else.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("GRIDPATROL_")}


def _gridpatrol_command() -> list[str]:
    script = Path(sys.executable).parent / "gridpatrol"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from gridpatrol.cli import main; sys.exit(main())"]


def migrate(database_url: str, *, timeout: float = 300.0) -> None:
    """Run `gridpatrol db upgrade` against database_url (production settings, clean environment)."""
    env = clean_environ()
    env["GRIDPATROL_DATABASE_URL"] = database_url
    proc = subprocess.run(_gridpatrol_command() + ["db", "upgrade"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"`gridpatrol db upgrade` failed for {_redact(database_url)}:\n{proc.stdout}{proc.stderr}")


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------

# Inside migrated_templates(): the migrated database every new one is copied from, per kind of database
# ("sqlite" → the template file's path; a PostgreSQL server URL → the template database's name).
_templates: dict[str, str] | None = None


@contextmanager
def migrated_templates() -> Iterator[None]:
    """Within this block, sqlite_database() and postgres_database() migrate one database per kind once and copy
    it for every later call (a file copy; CREATE DATABASE … TEMPLATE), instead of running every migration again
    (seconds each on a busy machine). The copies are the same schema and rows as a migrated database. The
    templates are removed when the block ends. bench/run uses it; a single benchmark makes few databases."""
    global _templates
    if _templates is not None:
        yield
        return
    _templates = {}
    tmp = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-template-"))
    _templates["dir"] = str(tmp)
    try:
        yield
    finally:
        made, _templates = _templates, None
        shutil.rmtree(tmp, ignore_errors=True)
        for server_url, name in made.items():
            if server_url not in ("dir", "sqlite"):
                _drop_database(server_url, name)


def _sqlite_template() -> str:
    if "sqlite" not in _templates:
        path = Path(_templates["dir"]) / "template.sqlite"
        migrate(f"sqlite:///{path}")
        _templates["sqlite"] = str(path)
    return _templates["sqlite"]


@contextmanager
def sqlite_database(*, migrate_schema: bool = True) -> Iterator[str]:
    """A SQLite file in a fresh temp directory, migrated; yields its URL; deletes it afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-sqlite-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"  # absolute path → sqlite:////tmp/...
    try:
        if migrate_schema and _templates is not None:
            shutil.copyfile(_sqlite_template(), tmp / "bench.sqlite")  # closed after migrating: no WAL left
        elif migrate_schema:
            migrate(url)
        yield url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def postgres_url_from_env() -> str | None:
    """GRIDPATROL_BENCH_POSTGRES_URL, or None (callers print a note and skip the PostgreSQL runs)."""
    return os.environ.get(POSTGRES_ENV) or None


def _psycopg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@contextmanager
def postgres_database(server_url: str | None = None, *, scratch: bool = True,
                      migrate_schema: bool = True) -> Iterator[str]:
    """A migrated PostgreSQL database; yields its URL.

    With scratch=True (the default) a database `gridpatrol_bench_<pid>_<hex>` is created on the server of
    server_url (default: $GRIDPATROL_BENCH_POSTGRES_URL), migrated, and dropped afterwards, so the run
    never touches the database named in the URL (the test suite may be wiping that one concurrently).
    If the role may not CREATE DATABASE, a note is printed and the named database is migrated and used
    in place. scratch=False always uses it in place.
    """
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    server_url = server_url or postgres_url_from_env()
    if not server_url:
        raise RuntimeError(f"no PostgreSQL URL: pass one or set {POSTGRES_ENV}")
    base = make_url(_psycopg_url(server_url))
    if base.host not in LOOPBACK_HOSTS and base.host is not None:
        raise ValueError(f"benchmarks only target loopback; {base.host!r} is not")
    name = None
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    template_key = base.render_as_string(hide_password=False)
    copied = False
    try:
        if scratch:
            candidate = f"gridpatrol_bench_{os.getpid()}_{secrets.token_hex(3)}"
            try:
                template = _pg_template(admin, base) if migrate_schema and _templates is not None else None
                with admin.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{candidate}"'
                                         + (f' TEMPLATE "{template}"' if template else "")))
                name, copied = candidate, template is not None
            except sa.exc.ProgrammingError as exc:
                print(f"note: cannot create a scratch database ({exc.orig}); using "
                      f"{base.database!r} in place", file=sys.stderr)
                if _templates is not None:
                    _templates.pop(template_key, None)
        url = base.set(database=name).render_as_string(hide_password=False) if name else \
            base.render_as_string(hide_password=False)
        try:
            if migrate_schema and not copied:
                migrate(url)
            yield url
        finally:
            if name:
                _drop_database(template_key, name)
    finally:
        admin.dispose()


def _pg_template(admin, base) -> str:
    """The migrated template database on this server (inside migrated_templates()), made on first use."""
    import sqlalchemy as sa

    key = base.render_as_string(hide_password=False)
    if key not in _templates:
        name = f"gridpatrol_bench_{os.getpid()}_template"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        _templates[key] = name
        migrate(base.set(database=name).render_as_string(hide_password=False))
    return _templates[key]


def _drop_database(server_url: str, name: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            major = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
            if int(major) >= 130000:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :n"), {"n": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def postgres_server_version(url: str) -> str:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(_psycopg_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


# Printed instead of the PostgreSQL runs when GRIDPATROL_BENCH_POSTGRES_URL is not set.
POSTGRES_SKIPPED_NOTE = (f"note: PostgreSQL skipped: set {POSTGRES_ENV}, e.g. "
                         "postgresql+psycopg://postgres@127.0.0.1:5432/test "
                         "(a scratch database is created and dropped)")

# (name, database) as database_backends() returns them: calling database() gives a context manager that
# yields the URL of a fresh migrated database and removes it afterwards.
Backend = tuple[str, Callable[[], AbstractContextManager[str]]]


def database_backends(machine: dict[str, Any] | None = None, *,
                      postgres_note: str = "a scratch database, dropped afterwards") -> list[Backend]:
    """The databases a benchmark runs on: SQLite always, PostgreSQL when GRIDPATROL_BENCH_POSTGRES_URL is set.

    Returns [("SQLite", sqlite_database)] plus ("PostgreSQL", a postgres_database on that server), to be used as
    `for backend, database in backends: with database() as url: ...` (every call makes a new database).
    Prints one line: `postgres: <server version> (<postgres_note>)`, or POSTGRES_SKIPPED_NOTE without the
    variable. The server version is also stored as machine["postgresql"] when machine is given.
    """
    backends: list[Backend] = [("SQLite", sqlite_database)]
    pg_url = postgres_url_from_env()
    if pg_url:
        version = postgres_server_version(pg_url)
        if machine is not None:
            machine["postgresql"] = version
        print(f"postgres: {version} ({postgres_note})")
        backends.append(("PostgreSQL", lambda: postgres_database(pg_url)))
    else:
        print(POSTGRES_SKIPPED_NOTE)
    return backends


# --------------------------------------------------------------------------------------------------
# gunicorn
# --------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings config/gunicorn.conf.py yields under env (default: the clean environment)."""
    code = ("import json, runpy; ns = runpy.run_path(%r); "
            "print(json.dumps({k: ns[k] for k in ('bind', 'workers', 'threads', 'worker_class', "
            "'preload_app', 'keepalive', 'max_requests', 'max_requests_jitter', 'timeout') if k in ns}))"
            % str(GUNICORN_CONF))
    out = subprocess.run([sys.executable, "-c", code], env=dict(env if env is not None else clean_environ()),
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


class ServerURL(str):
    """The base URL of a running server (a plain str everywhere), with facts about the server attached."""

    pid: int
    workers: int
    threads: int
    app_spec: str
    log_path: Path
    access_log_path: Path | None
    config: dict[str, Any]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def _children(pid: int) -> list[int]:
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields and int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _cpu_ticks(pid: int, *, include_reaped: bool = False) -> int:
    fields = _proc_stat(pid)
    if not fields:
        return 0
    ticks = int(fields[11]) + int(fields[12])
    if include_reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by a gunicorn master and all its workers, including recycled ones.

    Workers that exited (max_requests) have been reaped by the master, so their time is in its cutime.
    None where /proc is not available.
    """
    if not Path(f"/proc/{pid}/stat").exists():
        return None
    ticks = _cpu_ticks(pid, include_reaped=True) + sum(_cpu_ticks(c) for c in _children(pid))
    return ticks / _CLK_TCK


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, summed over all cores; None without /proc."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return (sum(values) - idle) / _CLK_TCK, sum(values) / _CLK_TCK


def _wait_workers_idle(master: int, workers: int, deadline: float) -> None:
    """Wait until `workers` workers exist and none burns CPU (i.e. every worker finished loading the app).

    With preload_app=False each worker imports the app after "Booting worker"; one that answered a
    request does not prove the others have. Without /proc this falls back to a short sleep.
    """
    if not Path(f"/proc/{master}/stat").exists():
        time.sleep(2.0)
        return
    previous: dict[int, int] = {}
    quiet_rounds = 0
    while time.monotonic() < deadline:
        kids = _children(master)
        ticks = {k: _cpu_ticks(k) for k in kids}
        busy = len(kids) < workers or any(ticks[k] - previous.get(k, -10**9) > 1 for k in kids)
        quiet_rounds = 0 if busy else quiet_rounds + 1
        if quiet_rounds >= 2:
            return
        previous = ticks
        time.sleep(0.25)


def _probe(url: str, path: str, headers: Mapping[str, str] | None = None,
           timeout: float = 2.0) -> tuple[int, str | None] | None:
    """(status, Location) of one GET on a fresh connection, or None when nothing answered."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={**(headers or {}), "Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    except OSError:
        return None
    finally:
        conn.close()


@contextmanager
def gunicorn(app_spec: str = GRIDPATROL_APP_SPEC, *, database_url: str | None = None,
             env: Mapping[str, str] | None = None, workers: int | None = None, threads: int | None = None,
             access_log: bool = False, ready_path: str | None = None,
             ready_headers: Mapping[str, str] | None = None, ready_timeout: float = 90.0,
             keep_logs: bool = False, stop_timeout: float = 40.0) -> Iterator[ServerURL]:
    """Run `gunicorn -c config/gunicorn.conf.py app_spec` on a free loopback port; yield its URL.

    database_url: GRIDPATROL_DATABASE_URL (required for the GridPatrol app).
    env: extra variables, e.g. {"GRIDPATROL_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000"}; may not set
         GRIDPATROL_SETTINGS, GRIDPATROL_BIND, DEBUG or TESTING (benchmarks measure production settings).
    workers/threads: GRIDPATROL_WORKERS / GRIDPATROL_THREADS; None keeps the config file's defaults.
    access_log: write gunicorn's access log (costs a write per request; off in the default production env).
    ready_path: polled until 200 (default /healthz/live for GridPatrol, / otherwise); ready_headers go with
        it (e.g. {"X-Forwarded-Proto": "https"} when env turns on FORCE_HTTPS with PROXY_COUNT=1).
    The server is stopped with SIGTERM (graceful), then SIGKILL after stop_timeout. Logs live in a temp
    directory that is removed afterwards unless keep_logs or the server failed.
    """
    extra = dict(env or {})
    for key in ("GRIDPATROL_SETTINGS", "GRIDPATROL_BIND"):
        if key in extra:
            raise ValueError(f"{key} is managed by the harness: benchmarks run the production settings "
                             "on a port it picks")
    for key in ("GRIDPATROL_DEBUG", "GRIDPATROL_TESTING"):
        if extra.get(key, "").strip().lower() in {"1", "true", "yes", "on"}:
            raise ValueError(f"{key} must stay off in a benchmark")
    if app_spec == GRIDPATROL_APP_SPEC and not (database_url or extra.get("GRIDPATROL_DATABASE_URL")):
        raise ValueError("the GridPatrol app needs database_url (see sqlite_database / postgres_database)")
    ready_path = ready_path or ("/healthz/live" if app_spec == GRIDPATROL_APP_SPEC else "/")

    log_dir = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-gunicorn-"))
    failed = False
    for attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        child_env = clean_environ()
        child_env.update({
            "GRIDPATROL_SECRET_KEY": secrets.token_urlsafe(48),
            "GRIDPATROL_BIND": f"127.0.0.1:{port}",
        })
        if database_url:
            child_env["GRIDPATROL_DATABASE_URL"] = database_url
        if workers is not None:
            child_env["GRIDPATROL_WORKERS"] = str(workers)
        if threads is not None:
            child_env["GRIDPATROL_THREADS"] = str(threads)
        access_log_path = log_dir / "access.log" if access_log else None
        if access_log_path:
            child_env["GRIDPATROL_ACCESS_LOG"] = str(access_log_path)
        child_env.update(extra)
        config = gunicorn_config(child_env)

        log_path = log_dir / f"gunicorn-{attempt}.log"
        log_file = open(log_path, "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app_spec],
            cwd=REPO_ROOT, env=child_env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C in the terminal reaches only us; the finally below stops gunicorn
        )
        url = ServerURL(f"http://127.0.0.1:{port}")
        url.pid = process.pid
        url.workers = int(config["workers"])
        url.threads = int(config.get("threads", 1))
        url.app_spec = app_spec
        url.log_path = log_path
        url.access_log_path = access_log_path
        url.config = config
        try:
            if _wait_ready(process, url, ready_path, ready_headers, ready_timeout):
                break
        except BaseException as exc:
            _stop(process, stop_timeout)
            log_file.close()
            exc.add_note(f"gunicorn log kept in {log_dir}")
            raise
        # exited because the port was taken: try another one
        log_file.close()
    else:
        raise RuntimeError("gunicorn could not bind a free port three times:\n" + url.log_text())

    try:
        yield url
    finally:
        code = _stop(process, stop_timeout)
        log_file.close()
        text = url.log_text()
        if code not in (0, None) or "Traceback" in text:
            failed = True
            print(f"warning: gunicorn ({app_spec}) exited with {code}; log kept in {log_dir}:\n"
                  + _tail(text), file=sys.stderr)
        if not (keep_logs or failed):
            shutil.rmtree(log_dir, ignore_errors=True)
        elif keep_logs:
            print(f"gunicorn log kept in {log_dir}", file=sys.stderr)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(process: subprocess.Popen, url: ServerURL, ready_path: str,
                ready_headers: Mapping[str, str] | None, timeout: float) -> bool:
    """True when ready; False when gunicorn exited because its port was taken; raises otherwise."""
    deadline = time.monotonic() + timeout
    wrong_since: float | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = url.log_text()
            if "Address already in use" in text:
                return False
            raise RuntimeError(f"gunicorn exited with {process.returncode} before it was ready:\n{_tail(text)}")
        booted = url.log_text().count("Booting worker")
        answer = _probe(url, ready_path, ready_headers) if booted >= url.workers else None
        if answer and answer[0] == 200:
            _wait_workers_idle(process.pid, url.workers, min(deadline, time.monotonic() + 30))
            return True
        if answer:  # the app answers, but not 200: give it a moment (a worker may still be loading), then stop
            wrong_since = wrong_since or time.monotonic()
            if time.monotonic() - wrong_since > 15:
                _stop(process, 10)
                location = f" (Location: {answer[1]})" if answer[1] else ""
                raise RuntimeError(f"{ready_path} keeps answering HTTP {answer[0]}{location}, not 200; "
                                   f"pass ready_path/ready_headers:\n{_tail(url.log_text())}")
        time.sleep(0.1)
    _stop(process, 10)
    raise RuntimeError(f"gunicorn was not ready within {timeout:.0f}s:\n{_tail(url.log_text())}")


def _stop(process: subprocess.Popen, timeout: float) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


# --------------------------------------------------------------------------------------------------
# Load generator
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One HTTP request of a load run. path includes any query string."""

    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class ClientContext:
    """Given to client_setup and request_factory: which client this is and what its setup returned."""

    index: int
    base_url: str
    host: str
    port: int
    state: Any = None


@dataclass
class Result:
    label: str
    url: str
    path: str
    clients: int
    duration_s: float
    elapsed_s: float
    requests: int
    errors: int
    reconnects: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    status_counts: dict[str, int]
    error_samples: list[str]
    server_cpu_ms_per_request: float | None = None
    server_cpu_cores: float | None = None
    machine_busy_cores: float | None = None
    generator_cpu_cores: float | None = None
    other_busy_cores: float | None = None
    generator_cpu_ms_per_request: float | None = None
    server: dict[str, Any] = field(default_factory=dict)
    stopped_by: str = "duration"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_loopback(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"only plain http on loopback is supported, not {url!r}")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"benchmarks only target loopback; {parts.hostname!r} is not")
    return parts.hostname, parts.port or 80


def _percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.BadStatusLine)


class _Connection:
    """One keep-alive connection that reopens itself when the server closed it."""

    def __init__(self, host: str, port: int, timeout: float, keepalive: bool):
        self.host, self.port, self.timeout, self.keepalive = host, port, timeout, keepalive
        self.conn: http.client.HTTPConnection | None = None
        self.opened = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, req: Request, retry_stale: bool) -> tuple[int, bytes]:
        headers = dict(req.headers)
        if not self.keepalive:
            headers["Connection"] = "close"
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.opened += 1
            try:
                self.conn.request(req.method, req.path, body=req.body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except _STALE:
                # A reused connection the server closed meanwhile (keepalive timeout, worker recycled by
                # max_requests): reopen and send once more, as browsers and urllib3 do.
                self.close()
                if fresh or attempt or not retry_stale:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class _ClientSpec:
    base_url: str
    host: str
    port: int
    request: Request
    request_factory: Callable[[ClientContext, int], Request] | None
    client_setup: Callable[[ClientContext], Any] | None
    expect_status: Container[int] | None
    warmup: float
    duration: float
    max_requests: int
    timeout: float
    keepalive: bool
    retry_stale: bool
    barrier_timeout: float


def _ok(status: int, expect: Container[int] | None) -> bool:
    return status in expect if expect is not None else 200 <= status < 400


def _client_main(index: int, spec: _ClientSpec, start: Any, go: Any, queue: Any) -> None:
    report: dict[str, Any] = {"index": index, "fatal": None}
    conn = _Connection(spec.host, spec.port, spec.timeout, spec.keepalive)
    try:
        ctx = ClientContext(index=index, base_url=spec.base_url, host=spec.host, port=spec.port)
        if spec.client_setup is not None:
            ctx.state = spec.client_setup(ctx)
        setup_headers = ctx.state if isinstance(ctx.state, Mapping) and spec.request_factory is None else None

        def make(seq: int) -> Request:
            if spec.request_factory is not None:
                return spec.request_factory(ctx, seq)
            if setup_headers:
                r = spec.request
                return Request(r.method, r.path, {**r.headers, **setup_headers}, r.body)
            return spec.request

        start.wait(spec.barrier_timeout)
        # Warm-up: not recorded. Then every client opens a new connection, so connections spread over
        # workers that are all up, and the measured window starts at the same moment for all.
        seq = 0
        warm_end = time.monotonic() + spec.warmup
        while time.monotonic() < warm_end and seq < spec.max_requests:
            try:
                conn.send(make(seq), spec.retry_stale)
            except Exception:
                time.sleep(0.01)
            seq += 1
        conn.close()
        conn.opened = 0
        go.wait(spec.barrier_timeout)

        latencies = array("d")
        statuses: dict[str, int] = {}
        errors = 0
        samples: list[str] = []
        cpu0 = os.times()
        t0 = time.monotonic()
        end = t0 + spec.duration
        last = t0
        n = 0
        stopped_by = "duration"
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if n >= spec.max_requests:
                stopped_by = "max_requests"
                break
            req = make(seq + n)
            n += 1
            began = time.perf_counter()
            try:
                status, _ = conn.send(req, spec.retry_stale)
            except Exception as exc:  # a failed request is an error, never the end of the run
                errors += 1
                statuses["exception"] = statuses.get("exception", 0) + 1
                if len(samples) < 5:
                    samples.append(f"{req.method} {req.path}: {exc!r}")
                time.sleep(0.01)
                last = time.monotonic()
                continue
            latencies.append(time.perf_counter() - began)
            last = time.monotonic()
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if not _ok(status, spec.expect_status):
                errors += 1
                if len(samples) < 5:
                    samples.append(f"{req.method} {req.path}: HTTP {status}")
        cpu1 = os.times()
        report.update({
            "latencies": latencies.tobytes(), "requests": n, "errors": errors, "statuses": statuses,
            "samples": samples, "elapsed": max(last, t0) - t0 if n else spec.duration,
            "reconnects": max(0, conn.opened - 1), "stopped_by": stopped_by,
            "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        })
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        report["fatal"] = repr(exc)
        for barrier in (start, go):
            barrier.abort()
    finally:
        conn.close()
        queue.put(report)


def _mp_context():
    # fork lets request factories and setups be closures; spawn where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def measure(url: str, path: str = "/", *, duration: float = 10.0, clients: int = 8,
            max_requests: int = DEFAULT_MAX_REQUESTS, warmup: float = 2.0, method: str = "GET",
            headers: Mapping[str, str] | None = None, body: bytes | str | None = None,
            request_factory: Callable[[ClientContext, int], Request] | None = None,
            client_setup: Callable[[ClientContext], Any] | None = None,
            expect_status: Container[int] | None = None, timeout: float = 10.0, keepalive: bool = True,
            retry_stale: bool = True, label: str | None = None, setup_timeout: float = 60.0) -> Result:
    """Hammer url+path with `clients` processes for `duration` seconds (or max_requests in total).

    Each client process holds one keep-alive http.client connection (keepalive=False: a new connection
    per request, like nginx's default upstream behaviour) and sends requests back to back, timing each
    from first byte sent to last byte read (a retry on a stale keep-alive connection is included).
    - method/headers/body: one fixed request; or request_factory(ctx, seq) -> Request for varying ones.
    - client_setup(ctx): run once per client before the clock starts (e.g. log in); its return value is
      ctx.state, and when it is a dict and no request_factory is given, it is added to every request's
      headers (e.g. {"Cookie": "session=..."}).
    - expect_status: statuses that count as success (default 200-399); anything else is an error.
    Errors never stop the run. A `warmup` period (not recorded) precedes the measured window.
    When url came from gunicorn(), the server's CPU time over the window is measured as well.
    """
    host, port = _check_loopback(url)
    if not path.startswith("/"):
        raise ValueError("path must start with /")
    if not 0 < duration <= MAX_DURATION_S:
        raise ValueError(f"duration must be in (0, {MAX_DURATION_S:.0f}] seconds")
    if not 0 <= warmup <= MAX_WARMUP_S:
        raise ValueError(f"warmup must be in [0, {MAX_WARMUP_S:.0f}] seconds")
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be in [1, {MAX_CLIENTS}]")
    if not 1 <= max_requests <= MAX_REQUESTS_LIMIT:
        raise ValueError(f"max_requests must be in [1, {MAX_REQUESTS_LIMIT}]")
    if isinstance(body, str):
        body = body.encode()
    spec = _ClientSpec(
        base_url=str(url), host=host, port=port,
        request=Request(method.upper(), path, dict(headers or {}), body),
        request_factory=request_factory, client_setup=client_setup, expect_status=expect_status,
        warmup=warmup, duration=duration, max_requests=math.ceil(max_requests / clients), timeout=timeout,
        keepalive=keepalive, retry_stale=retry_stale, barrier_timeout=setup_timeout + warmup + timeout,
    )
    ctx = _mp_context()
    start = ctx.Barrier(clients + 1)
    go = ctx.Barrier(clients + 1)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_client_main, args=(i, spec, start, go, queue), daemon=True)
             for i in range(clients)]
    for p in procs:
        p.start()
    server_pid = getattr(url, "pid", None)
    cpu_before = cpu_after = None
    host_before = host_after = None
    reports: list[dict[str, Any]] = []
    try:
        try:
            start.wait(setup_timeout)
            go.wait(warmup + timeout + 30)
            host_before = machine_cpu_seconds()
            if server_pid:
                cpu_before = server_cpu_seconds(server_pid)
        except threading.BrokenBarrierError:
            pass  # a client failed during setup: its report says why
        deadline = time.monotonic() + setup_timeout + warmup + duration + 2 * timeout + 30
        while len(reports) < clients and time.monotonic() < deadline:
            try:
                reports.append(queue.get(timeout=max(0.1, deadline - time.monotonic())))
            except Exception:  # queue.Empty
                break
            if len(reports) == clients:
                host_after = machine_cpu_seconds()
                if server_pid:
                    cpu_after = server_cpu_seconds(server_pid)
    finally:
        for p in procs:
            p.join(timeout=5)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    fatal = [r["fatal"] for r in reports if r.get("fatal")]
    if fatal or len(reports) < clients:
        raise RuntimeError(f"load run on {url}{path} failed: {len(reports)}/{clients} clients reported; "
                           f"{fatal[:3]}")

    latencies = array("d")
    statuses: dict[str, int] = {}
    for r in reports:
        chunk = array("d")
        chunk.frombytes(r["latencies"])
        latencies.extend(chunk)
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    values = sorted(latencies)
    requests = sum(r["requests"] for r in reports)
    elapsed = max(r["elapsed"] for r in reports) or duration
    gen_cpu = sum(r["cpu"] for r in reports)
    server_cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None
    ms = 1000.0
    busy_cores = None
    if host_before and host_after and host_after[1] > host_before[1]:
        # busy share of all cores over the window, expressed in cores (2.0 = both cores saturated)
        busy_cores = (host_after[0] - host_before[0]) / (host_after[1] - host_before[1]) * (os.cpu_count() or 1)
    return Result(
        label=label or f"{url}{path}", url=str(url), path=path, clients=clients, duration_s=duration,
        elapsed_s=round(elapsed, 3), requests=requests, errors=sum(r["errors"] for r in reports),
        reconnects=sum(r["reconnects"] for r in reports), rps=requests / elapsed if elapsed else 0.0,
        p50_ms=_percentile(values, 50) * ms, p95_ms=_percentile(values, 95) * ms,
        p99_ms=_percentile(values, 99) * ms, max_ms=(values[-1] * ms if values else float("nan")),
        mean_ms=(sum(values) / len(values) * ms if values else float("nan")),
        status_counts=statuses, error_samples=[s for r in reports for s in r["samples"]][:10],
        server_cpu_ms_per_request=(server_cpu * ms / requests) if server_cpu is not None and requests else None,
        server_cpu_cores=(server_cpu / elapsed) if server_cpu is not None and elapsed else None,
        machine_busy_cores=busy_cores,
        generator_cpu_cores=(gen_cpu / elapsed) if elapsed else None,
        other_busy_cores=(busy_cores - (server_cpu / elapsed) - (gen_cpu / elapsed)
                          if busy_cores is not None and server_cpu is not None and elapsed else None),
        generator_cpu_ms_per_request=(gen_cpu * ms / requests) if requests else None,
        server=({"app_spec": url.app_spec, "workers": url.workers, "threads": url.threads}
                if isinstance(url, ServerURL) else {}),
        stopped_by="max_requests" if any(r["stopped_by"] == "max_requests" for r in reports) else "duration",
    )


def baseline(duration: float = 10.0, clients: int = 8, *, label: str = "bare Flask (baseline)",
             workers: int | None = None, threads: int | None = None, **measure_kwargs: Any) -> Result:
    """Measure bench/bare_app.py (GET /, a 3-byte text body) under the same gunicorn config."""
    with gunicorn(BARE_APP_SPEC, workers=workers, threads=threads, ready_path="/") as url:
        return measure(url, "/", duration=duration, clients=clients, label=label, **measure_kwargs)


# --------------------------------------------------------------------------------------------------
# Logging a load client in (for measure's client_setup)
# --------------------------------------------------------------------------------------------------

# The CSRF token every GridPatrol page carries in <meta name="csrf-token" content="...">.
CSRF_META_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def store_cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    """Put the cookies of every Set-Cookie header of response into jar (name → value)."""
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie = http.cookies.SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            jar[name] = morsel.value


def login(host: str, port: int, username: str, password: str, *, api_csrf_token: bool = False,
          timeout: float = 30.0) -> dict[str, str]:
    """Log in through the login form as a browser or tablet does; return the headers of the session.

    GET /login for the CSRF token of the page, POST the form with it (anything but a 302 raises), and with
    api_csrf_token=True also GET /api/v1/session/csrf-token for the token the JSON and multipart endpoints (and
    the API, called with the session) want. Returns
    {"Cookie": ...} (plus {"X-CSRFToken": ...} with api_csrf_token). One connection, closed afterwards.
    Made for measure's client_setup, each client its own session:
    `client_setup=lambda ctx: harness.login(ctx.host, ctx.port, names[ctx.index], password)`.
    """
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def call(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        conn.request(method, path, body=body, headers={**(headers or {}), **({"Cookie": cookie} if cookie else {})})
        response = conn.getresponse()
        data = response.read()
        store_cookies(response, jar)
        return response.status, data

    try:
        _, page = call("GET", "/login")
        token = CSRF_META_RE.search(page.decode()).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password,
                                       "next": ""}).encode()
        status, _ = call("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login of {username} answered {status}")
        extra = {}
        if api_csrf_token:
            status, data = call("GET", "/api/v1/session/csrf-token")
            if status != 200:
                raise RuntimeError(f"/api/v1/session/csrf-token answered {status} for {username}")
            extra["X-CSRFToken"] = json.loads(data)["token"]
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()), **extra}
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------
# In process: the app without a server, bulk data, timing
# --------------------------------------------------------------------------------------------------

def in_process_app(database_url: str):
    """The GridPatrol app on database_url in this process (serving=False): to load data before a server
    starts, to check the database after a run, or to time code without HTTP. Release it with release_app."""
    from gridpatrol import create_app

    return create_app({"DATABASE_URL": database_url}, serving=False)


def release_app(app) -> None:
    """Close the app's session and dispose of its engine's connections, so no connection outlives its use
    (a scratch PostgreSQL database is dropped at the end; a server started next gets the database to itself)."""
    from gridpatrol.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def bulk_insert(session, model, rows: list[dict]) -> list[int]:
    """INSERT rows of the ORM model in one executemany (no ORM objects built); returns their ids in order."""
    import sqlalchemy as sa

    if not rows:
        return []
    return list(session.scalars(sa.insert(model).returning(model.id, sort_by_parameter_order=True), rows))


class Clock:
    """Times its `with` block: afterwards .wall is the elapsed wall time and .cpu this process's CPU time,
    in seconds. On a busy machine the CPU figure is the steadier one (a database server's CPU is not in it)."""

    def __enter__(self) -> Self:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def timed_runs(repeat: int, run: Callable[[], Any],
               reset: Callable[[], None] | None = None) -> tuple[list[float], list[float], Any]:
    """Call run() `repeat` times, each timed with Clock, and reset() (not timed) before every run but the first.

    Returns (wall seconds per run, CPU seconds per run, what the last run returned), e.g. a detail line.
    """
    walls: list[float] = []
    cpus: list[float] = []
    last = None
    for i in range(repeat):
        if i and reset is not None:
            reset()
        with Clock() as clock:
            last = run()
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    return walls, cpus, last


# --------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------

def machine_info(gunicorn_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Cores, CPU model, Python, library versions and the gunicorn workers/threads a server gets."""
    from importlib import metadata

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = clean_environ()
    env.update(gunicorn_env or {})
    conf = gunicorn_config(env)

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "cpu_count": os.cpu_count(), "usable_cpus": usable, "cpu_model": cpu_model,
        "platform": platform.platform(), "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "gunicorn": version("gunicorn"), "flask": version("Flask"), "sqlalchemy": version("SQLAlchemy"),
        "psycopg": version("psycopg"), "gunicorn_workers": conf.get("workers"),
        "gunicorn_threads": conf.get("threads"), "gunicorn_worker_class": conf.get("worker_class"),
        "gunicorn_max_requests": conf.get("max_requests"), "gunicorn_keepalive": conf.get("keepalive"),
    }


def format_machine(info: Mapping[str, Any]) -> str:
    return "\n".join([
        f"machine : {info['cpu_count']} cores ({info['usable_cpus']} usable) {info['cpu_model']}".rstrip(),
        f"          {info['platform']}",
        f"python  : {info['python_implementation']} {info['python']}; gunicorn {info['gunicorn']}, "
        f"Flask {info['flask']}, SQLAlchemy {info['sqlalchemy']}, psycopg {info['psycopg']}",
        f"gunicorn: {info['gunicorn_workers']} workers x {info['gunicorn_threads']} threads "
        f"({info['gunicorn_worker_class']}), keepalive {info['gunicorn_keepalive']}s, "
        f"max_requests {info['gunicorn_max_requests']}",
    ])


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _cores(r: Result) -> str:
    """Where the machine's busy cores went in the window: server + load generator + the rest."""
    if r.machine_busy_cores is None:
        return "-"
    if r.server_cpu_cores is None or r.generator_cpu_cores is None or r.other_busy_cores is None:
        return f"{r.machine_busy_cores:.2f} busy"
    return (f"{r.server_cpu_cores:.2f}+{r.generator_cpu_cores:.2f}+{max(0.0, r.other_busy_cores):.2f}"
            f" of {os.cpu_count()}")


def format_table(results: Sequence[Result], baseline: Result | None = None) -> str:
    """A fixed-width table; with a baseline, ratios target/baseline for rps, p50 and p99.

    rps ratio < 1 means slower than the baseline; latency ratios > 1 mean slower.
    """
    header = ["target", "rps", "p50 ms", "p95 ms", "p99 ms", "max ms", "requests", "errors",
              "srv cpu ms/req", "cores srv+gen+rest"]
    if baseline is not None:
        header += ["rps/base", "p50/base", "p99/base"]
    rows = []
    for r in results:
        row = [r.label, _fmt(r.rps), _fmt(r.p50_ms, 2), _fmt(r.p95_ms, 2), _fmt(r.p99_ms, 2), _fmt(r.max_ms, 1),
               str(r.requests), str(r.errors), _fmt(r.server_cpu_ms_per_request, 2),
               _cores(r)]
        if baseline is not None:
            def ratio(a: float, b: float) -> str:
                return f"{a / b:.3f}" if b and not math.isnan(a) and not math.isnan(b) else "-"
            row += [ratio(r.rps, baseline.rps), ratio(r.p50_ms, baseline.p50_ms), ratio(r.p99_ms, baseline.p99_ms)]
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def print_table(results: Sequence[Result], baseline: Result | None = None, file: TextIO | None = None) -> None:
    out = file or sys.stdout
    print(format_table(results, baseline), file=out)
    for r in results:
        if r.errors:
            print(f"  {r.label}: {r.errors} errors, e.g. {r.error_samples[:3]}", file=out)
        if r.stopped_by == "max_requests":
            print(f"  {r.label}: stopped at max_requests before the duration ended", file=out)


def save_results(name: str, results: Sequence[Result], *, machine: Mapping[str, Any] | None = None,
                 baseline: Result | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write bench/results/<name>-<timestamp>.json (the directory is git-ignored); return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    payload = {
        "name": name, "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": dict(machine or {}), "baseline": baseline.label if baseline else None,
        "results": [r.as_dict() for r in results], **dict(extra or {}),
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path
