"""The supervisor's dashboard over a year and over five years of history, and among 100 sites.

    .venv/bin/python bench/bench_dashboard.py [--duration 10] [--clients 4] [--spans 1y 5y] [--sites 100]

Data: the demo installation (compound DHXZ with 49 grids, the annex SSBG with 5) with its history played
through the app's own services by `gridpatrol.history` (the same generator `gridpatrol demo --history` uses:
patrols materialised, submitted, missed; problems found, reported, dispatched, fixed, reworked, verified,
rejected; points booked, months closed), once with one year and once with five years, on a temp SQLite file
and, when GRIDPATROL_BENCH_POSTGRES_URL is set, on a scratch PostgreSQL database. Building is not timed.
On PostgreSQL the one-year database then gets 99 more sites (`--sites`): copies of DHXZ's grids, leaders'
assignments, plans, patrols, problems, ledger and month closes, made with INSERT … SELECT (so 100 × 49 =
4,900 grids and a year of patrols each), and the dashboard is measured again among them.

Measured under gunicorn with 4 workers (production settings), `--clients` closed-loop clients (default 4),
each logged in through the login form:
  1. `GET /s/DHXZ/dashboard` as the compound's supervisor (zhuguan): every figure of the page, server-rendered;
  2. `GET /s/DHXZ/dashboard.json` as the same: the charts' data;
  3. with 100 sites, `GET /dashboard` as the provincial supervisor (shengji): the sites overview;
  4. the floor: `POST /notifications/read` (session check, CSRF, one UPDATE, commit), the cheapest
     authenticated write, on the same server with the same clients;
and the bare-Flask baseline once per run. Targets: dashboard p95 at 4 clients < 150 ms; at most 15 SQL
statements per page (counted in process with the test client, the same request); p95 at five years ≤ 1.3 × p95
at one year. Each row is printed with its ratio to the floor measured in the same run. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import harness  # noqa: E402
import sqlalchemy as sa  # noqa: E402

TARGET_P95_MS = 150.0
TARGET_STATEMENTS = 15
TARGET_SPAN_RATIO = 1.3
PASSWORD = "demo2026"  # the demo's logins
SITE = "DHXZ"
SUPERVISOR = "zhuguan"
PROVINCIAL = "shengji"
SPAN_MONTHS = {"1m": 1, "1y": 12, "5y": 60}  # 1m: bench/run --quick (last month and this one so far)
SEED = 2026


@dataclass
class Scenario:
    backend: str
    span: str
    sites: int
    build_s: float = 0.0
    facts: str = ""
    statements: dict[str, int] = field(default_factory=dict)
    in_process_ms: dict[str, float] = field(default_factory=dict)
    results: list[harness.Result] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.backend}, {self.span}, {self.sites} site{'s' if self.sites > 1 else ''}"


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------

def build_history(url: str, months: int, seed: int) -> str:
    """Load the demo with `months` of history before the current month, through the services; returns a line of
    what it holds."""
    from gridpatrol.core.time import utcnow
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.demo import services as demo
    from gridpatrol.history import services as history

    app = harness.in_process_app(url)
    try:
        with app.app_context(), job_transaction() as session:
            now = utcnow()
            start = history.history_start(now, months, app.config["DEFAULT_TIMEZONE"])
            demo.load_demo(session, history_start=start)
            session.commit()
            last = [""]
            report = history.play(session, start=start, end=now, seed=seed,
                                  progress=lambda line: last.__setitem__(0, line))
            return (f"{report.patrols:,} patrols, {report.problems:,} problems from {start:%Y-%m-%d} "
                    f"(last month: {last[0]})")
    finally:
        harness.release_app(app)


def clone_sites(url: str, copies: int) -> str:
    """Add `copies` sites, each a copy of DHXZ's grids, assignments, plans, patrols, issues, ledger and month
    closes (INSERT … SELECT with the keys mapped through the grids' codes and the plans' names). Patrols keep
    their natural key (plan, grid, window); an issue's patrol is mapped through it; a ledger entry's source id
    is offset per copy (the ledger's uniqueness is per source and the dashboard only sums it)."""
    engine = sa.create_engine(harness._psycopg_url(url))
    try:
        with engine.begin() as conn:
            src = conn.execute(sa.text("SELECT id FROM sites WHERE code = :c"), {"c": SITE}).scalar_one()

            def columns(table: str) -> list[str]:
                return [r[0] for r in conn.execute(sa.text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                    "AND table_schema = 'public' ORDER BY ordinal_position"), {"t": table}) if r[0] != "id"]

            def copy(table: str, replace: dict[str, str], source: str, where: str, params: dict) -> None:
                cols = columns(table)
                select = ", ".join(replace.get(c, f"o.{c}") for c in cols)
                conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {source} "
                                     f"WHERE {where}"), params)

            for k in range(1, copies + 1):
                code = f"P{k:03d}"
                copy("sites", {"code": "CAST(:code AS varchar)", "name": "o.name || ' ' || CAST(:code AS varchar)"}, "sites o", "o.id = :src",
                     {"code": code, "src": src})
                new = conn.execute(sa.text("SELECT id FROM sites WHERE code = :c"), {"c": code}).scalar_one()
                p = {"src": src, "new": new, "offset": k * 10_000_000}
                copy("grids", {"site_id": ":new"}, "grids o", "o.site_id = :src", p)
                conn.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS grid_map (old_id int, new_id int)"))
                conn.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS plan_map (old_id int, new_id int)"))
                conn.execute(sa.text("TRUNCATE grid_map, plan_map"))
                conn.execute(sa.text("INSERT INTO grid_map SELECT o.id, n.id FROM grids o JOIN grids n "
                                     "ON n.site_id = :new AND n.code = o.code WHERE o.site_id = :src"), p)
                copy("grid_assignments", {"grid_id": "m.new_id"}, "grid_assignments o JOIN grid_map m "
                     "ON m.old_id = o.grid_id", "true", p)
                copy("patrol_plans", {"site_id": ":new"}, "patrol_plans o", "o.site_id = :src", p)
                conn.execute(sa.text("INSERT INTO plan_map SELECT o.id, n.id FROM patrol_plans o JOIN patrol_plans n "
                                     "ON n.site_id = :new AND n.name = o.name WHERE o.site_id = :src"), p)
                copy("plan_grids", {"plan_id": "pm.new_id", "grid_id": "gm.new_id",
                                    "patroller_grid_id": "pg.new_id"},
                     "plan_grids o JOIN plan_map pm ON pm.old_id = o.plan_id JOIN grid_map gm ON gm.old_id = o.grid_id "
                     "LEFT JOIN grid_map pg ON pg.old_id = o.patroller_grid_id", "true", p)
                copy("patrols", {"site_id": ":new", "plan_id": "pm.new_id", "grid_id": "gm.new_id"},
                     "patrols o JOIN plan_map pm ON pm.old_id = o.plan_id JOIN grid_map gm ON gm.old_id = o.grid_id",
                     "o.site_id = :src", p)
                copy("issues", {"site_id": ":new", "grid_id": "gm.new_id", "patrol_id": "np.id"},
                     "issues o LEFT JOIN grid_map gm ON gm.old_id = o.grid_id "
                     "LEFT JOIN patrols op ON op.id = o.patrol_id "
                     "LEFT JOIN plan_map pm ON pm.old_id = op.plan_id "
                     "LEFT JOIN patrols np ON np.plan_id = pm.new_id AND np.grid_id = gm.new_id "
                     "AND np.window_start = op.window_start", "o.site_id = :src", p)
                copy("points_entries", {"site_id": ":new", "source_id": "o.source_id + :offset", "corrects_id": "NULL"},
                     "points_entries o", "o.site_id = :src", p)
                copy("points_month_closes", {"site_id": ":new"}, "points_month_closes o", "o.site_id = :src", p)
            conn.execute(sa.text("ANALYZE"))
            counts = conn.execute(sa.text("SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM grids), "
                                          "(SELECT count(*) FROM patrols), (SELECT count(*) FROM issues), "
                                          "(SELECT count(*) FROM points_entries)")).one()
        return (f"{counts[0]} sites, {counts[1]:,} grids, {counts[2]:,} patrols, {counts[3]:,} issues, "
                f"{counts[4]:,} ledger entries")
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# In process: statements and time per page
# --------------------------------------------------------------------------------------------------

def in_process(url: str, pages: list[tuple[str, str]], runs: int) -> tuple[dict[str, int], dict[str, float]]:
    """For each (username, path): the SQL statements of one request (after warming up) and the median time of
    `runs` requests, through the test client logged in with the form."""
    from gridpatrol.extensions import db

    app = harness.in_process_app(url)
    statements: dict[str, int] = {}
    times: dict[str, float] = {}
    try:
        with app.app_context():
            engine = db.engine
        for username, path in pages:
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = harness.CSRF_META_RE.search(page).group(1)
            answer = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
            if answer.status_code != 302:
                raise RuntimeError(f"in-process login of {username} answered {answer.status_code}")
            for _ in range(2):
                client.get(path)
            seen: list[str] = []

            def count(conn, cursor, statement, parameters, context, executemany):
                seen.append(statement)

            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                response = client.get(path)
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {path} as {username} answered {response.status_code}")
            statements[path] = len(seen)
            elapsed = []
            for _ in range(runs):
                began = time.perf_counter()
                client.get(path)
                elapsed.append(time.perf_counter() - began)
            times[path] = statistics.median(elapsed) * 1e3
    finally:
        harness.release_app(app)
    return statements, times


# --------------------------------------------------------------------------------------------------
# Under load
# --------------------------------------------------------------------------------------------------

def measure(url: str, scenario: Scenario, args, *, overview: bool, floor: bool = True) -> None:
    label = scenario.name
    with harness.gunicorn("wsgi:app", database_url=url, workers=4) as server:
        def as_user(username: str):
            return lambda ctx: harness.login(ctx.host, ctx.port, username, PASSWORD)

        for path in (f"/s/{SITE}/dashboard", f"/s/{SITE}/dashboard.json"):
            print(f"  [{label}] measuring GET {path}, {args.clients} clients ...", flush=True)
            scenario.results.append(harness.measure(
                server, path, duration=args.duration, clients=args.clients, warmup=args.warmup,
                client_setup=as_user(SUPERVISOR), expect_status={200}, label=f"GET {path} ({label})"))
        if overview:
            print(f"  [{label}] measuring GET /dashboard (sites overview), {args.clients} clients ...", flush=True)
            scenario.results.append(harness.measure(
                server, "/dashboard", duration=args.duration, clients=args.clients, warmup=args.warmup,
                client_setup=as_user(PROVINCIAL), expect_status={200}, label=f"GET /dashboard ({label})"))

        if not floor:  # bench/run measures the floor once per database, before the benchmarks
            return

        def floor_setup(ctx: harness.ClientContext) -> dict[str, str]:
            headers = harness.login(ctx.host, ctx.port, SUPERVISOR, PASSWORD, api_csrf_token=True)
            return {**headers, "Content-Type": "application/x-www-form-urlencoded"}

        def floor_request(ctx: harness.ClientContext, seq: int) -> harness.Request:
            return harness.Request("POST", "/notifications/read", dict(ctx.state),
                                   f"csrf_token={ctx.state['X-CSRFToken']}".encode())

        print(f"  [{label}] measuring the floor, POST /notifications/read ...", flush=True)
        scenario.results.append(harness.measure(
            server, "/notifications/read", duration=args.duration, clients=args.clients, warmup=args.warmup,
            client_setup=floor_setup, request_factory=floor_request, expect_status={302},
            label=f"floor: POST /notifications/read ({label})"))


def run_scenario(url: str, backend: str, span: str, args, *, floor: bool = True) -> Scenario:
    scenario = Scenario(backend, span, 1)
    print(f"[{scenario.name}] playing the history through the services (not timed against the target) ...",
          flush=True)
    began = time.perf_counter()
    scenario.facts = build_history(url, SPAN_MONTHS[span], args.seed)
    scenario.build_s = time.perf_counter() - began
    print(f"  built in {scenario.build_s:.0f} s: {scenario.facts}", flush=True)
    pages = [(SUPERVISOR, f"/s/{SITE}/dashboard"), (SUPERVISOR, f"/s/{SITE}/dashboard.json")]
    scenario.statements, scenario.in_process_ms = in_process(url, pages, args.profile_runs)
    measure(url, scenario, args, overview=False, floor=floor)
    return scenario


def run_many_sites(url: str, args, *, floor: bool = True) -> Scenario:
    scenario = Scenario("PostgreSQL", "1y", args.sites)
    print(f"[{scenario.name}] copying DHXZ into {args.sites - 1} more sites ...", flush=True)
    began = time.perf_counter()
    scenario.facts = clone_sites(url, args.sites - 1)
    scenario.build_s = time.perf_counter() - began
    print(f"  copied in {scenario.build_s:.0f} s: {scenario.facts}", flush=True)
    pages = [(SUPERVISOR, f"/s/{SITE}/dashboard"), (SUPERVISOR, f"/s/{SITE}/dashboard.json"),
             (PROVINCIAL, "/dashboard")]
    scenario.statements, scenario.in_process_ms = in_process(url, pages, args.profile_runs)
    measure(url, scenario, args, overview=True, floor=floor)
    return scenario


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------

def verdicts(scenarios: list[Scenario]) -> list[str]:
    out = []
    for s in scenarios:
        floor = next((r for r in s.results if r.label.startswith("floor:")), None)
        out.append(f"{s.name}: {s.facts}")
        for r in s.results:
            if r.label.startswith("floor:"):
                out.append(f"  floor {r.rps:,.0f} req/s, p95 {r.p95_ms:.1f} ms")
                continue
            path = r.label.split(" ", 2)[1]
            to_floor = (f"{r.rps / floor.rps:.2f} × the floor's rate, p95 {r.p95_ms / floor.p95_ms:.1f} × the "
                        "floor's" if floor and floor.rps and floor.p95_ms else "no floor")
            met = "met" if r.p95_ms < TARGET_P95_MS else "MISSED"
            statements = s.statements.get(path)
            counted = (f"; {statements} SQL statements (target ≤ {TARGET_STATEMENTS}: "
                       f"{'met' if statements <= TARGET_STATEMENTS else 'MISSED'}), "
                       f"{s.in_process_ms[path]:.1f} ms in process" if statements is not None else "")
            out.append(f"  GET {path}: p95 {r.p95_ms:.1f} ms at {r.clients} clients (target < {TARGET_P95_MS:g}: "
                       f"{met}); {to_floor}{counted}")
    by_key = {(s.backend, s.span, s.sites): s for s in scenarios}
    for backend in sorted({s.backend for s in scenarios}):
        one, five = by_key.get((backend, "1y", 1)), by_key.get((backend, "5y", 1))
        if one and five:
            for r1 in one.results:
                if r1.label.startswith("floor:"):
                    continue
                path = r1.label.split(" ", 2)[1]
                r5 = next((r for r in five.results if r.label.split(" ", 2)[1] == path), None)
                if r5 and r1.p95_ms:
                    ratio = r5.p95_ms / r1.p95_ms
                    out.append(f"{backend} GET {path}: p95 at 5 years ÷ p95 at 1 year = {ratio:.2f} (target ≤ "
                               f"{TARGET_SPAN_RATIO:g}: {'met' if ratio <= TARGET_SPAN_RATIO else 'MISSED'})")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options; parse_args([]) gives its defaults (bench/run uses them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per load run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds before each run (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent logged-in clients (default 4)")
    parser.add_argument("--spans", nargs="+", default=["1y", "5y"], choices=sorted(SPAN_MONTHS),
                        help="histories to measure (default 1y 5y)")
    parser.add_argument("--sites", type=int, default=100,
                        help="sites in the PostgreSQL many-sites run (default 100; 1 skips it)")
    parser.add_argument("--seed", type=int, default=SEED, help="the history's seed (default 2026)")
    parser.add_argument("--profile-runs", type=int, default=20, help="in-process requests per page (default 20)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    machine = harness.machine_info({"GRIDPATROL_WORKERS": "4"})
    print(harness.format_machine(machine))
    backends = harness.database_backends(machine, postgres_note="a scratch database per history, dropped afterwards")
    print()
    print(f"measuring bare Flask GET / (baseline), {args.clients} clients ...", flush=True)
    base = harness.baseline(duration=args.duration, clients=args.clients, workers=4)

    scenarios: list[Scenario] = []
    for backend, database in backends:
        for span in args.spans:
            with database() as url:
                scenarios.append(run_scenario(url, backend, span, args))
                if backend == "PostgreSQL" and span == "1y" and args.sites > 1:
                    scenarios.append(run_many_sites(url, args))

    results = [r for s in scenarios for r in s.results]
    print()
    harness.print_table([base] + results, baseline=base)
    print()
    for line in verdicts(scenarios):
        print(line)
    if not args.no_save:
        extra = {"args": vars(args), "scenarios": [{"name": s.name, "build_s": s.build_s, "facts": s.facts,
                                                    "statements": s.statements, "in_process_ms": s.in_process_ms}
                                                   for s in scenarios]}
        path = harness.save_results("dashboard", [base] + results, machine=machine, baseline=base, extra=extra)
        print(f"\nsaved {path.relative_to(harness.REPO_ROOT)}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
