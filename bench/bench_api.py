"""The API under load: a tablet's 30-item submission with a bearer token, and the issue list at 20,000 issues.

    .venv/bin/python bench/bench_api.py [--duration 10] [--clients 8] [--issue-clients 1 4 8] [--issues 20000]
                                        [--photo-run] [--no-session-run] [--no-page-path] [--skip-submissions]
                                        [--skip-issues] [--workers 4] [--no-save]

1. Submissions: gunicorn with 4 workers (production settings) and `--clients` load processes, each holding a
   personal API token of its own grid leader (`accounts.tokens.create`, as `gridpatrol tokens create` does), POST
   the tablet's 30-item payload (client_uuid, completed_at, answers[{item_id, result, note, photos}], scans) as
   the JSON body to `/api/v1/sites/S000/patrols/<id>/submission` with `Authorization: Bearer …`, a different
   pre-made open patrol per request (the data of bench_patrols.py: one site of 49 grids, a 30-item checklist).
   With --photo-run also once as multipart with one small JPEG (unique bytes per submission); unless
   --no-session-run also with each leader's browser session and CSRF token instead of the token (what the tablet's
   outbox sends, bench_patrols.py's submission), to tell what the token costs. A short warm-up run
   precedes each measured run; afterwards the database must hold exactly one submitted patrol, one submission
   and 30 answers per 200 (`consistent`, else `INCONSISTENT` and the exit status is 1).
   On the same server, in the same run, **the floor**: `POST /notifications/read`, the app's cheapest
   authenticated write (session, CSRF, one UPDATE, commit), as bench_patrols.py measures it. Each submission
   row is printed as a ratio to that floor; target for the API ≥ 0.5 with 0 errors. The page path (a session, CSRF, the JSON payload to
   `/s/<site>/patrols/<id>/submit`) measured 0.30–0.34 in bench_patrols.py before the tablet moved to the API;
   it now answers a 308 to the API, so it cannot be measured beside it.
2. The issue list: the 20,000 issues of bench_queue.py (one site BENCH of 49 grids, five years, ~5 events each),
   `GET /api/v1/sites/BENCH/issues?per_page=50` with a supervisor's token (the queue's default: open issues by
   deadline), at each load level of `--issue-clients`; p50/p95/p99 against the queue page's target p95 < 100 ms,
   and, unless --no-page-path, the page `GET /s/BENCH/issues` at the same level for comparison.

Both parts run on a temp SQLite file and, when GRIDPATROL_BENCH_POSTGRES_URL is set, on a scratch PostgreSQL
database (created and dropped; without the variable a note is printed and PostgreSQL is skipped). A bare-Flask
baseline is measured in the same run at every load level. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import bench_patrols as patrols_bench  # noqa: E402
import bench_queue as queue_bench  # noqa: E402
import harness  # noqa: E402
import sqlalchemy as sa  # noqa: E402

TARGET_FLOOR_RATIO = 0.5  # an API submission's rps ÷ the floor's, same server, same run
TARGET_P95_MS = queue_bench.TARGET_P95_MS  # the queue page's
SITE = patrols_bench.SUBMIT_SITE
ISSUES_PATH = "/api/v1/sites/BENCH/issues?per_page=50"
PAGE_PATH = "/s/BENCH/issues"


def make_tokens(url: str, usernames: list[str]) -> list[str]:
    """A personal API token for each user, made through the service (`gridpatrol tokens create` does the same)."""
    from gridpatrol.accounts import tokens
    from gridpatrol.accounts.models import User
    from gridpatrol.core.time import utcnow
    from gridpatrol.core.transaction import job_transaction

    app = harness.in_process_app(url)
    made = []
    with app.app_context(), job_transaction() as session:
        for name in usernames:
            user = session.scalar(sa.select(User).where(User.username == name))
            _row, token = tokens.create(session, user, name="bench_api", expires_days=1, now=utcnow())
            made.append(token)
    harness.release_app(app)
    return made


def _get(server: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------
# 1: submissions
# --------------------------------------------------------------------------------------------------

def api_submission_factory(tokens: list[str], item_ids: list[int], pools: list[list[int]], photo: bytes | None):
    def setup(ctx: harness.ClientContext) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[ctx.index]}"}

    def factory(ctx: harness.ClientContext, seq: int) -> harness.Request:
        pool = pools[ctx.index]
        patrol_id = pool[min(seq, len(pool) - 1)]  # past the end: a refused resubmission shows as an error
        answers = [{"item_id": item_id, "result": "pass", "note": "", "photos": []} for item_id in item_ids]
        files = {}
        if photo is not None:
            files["p1"] = patrols_bench.unique_jpeg(photo, uuid.uuid4().bytes)
            answers[0]["photos"] = ["p1"]
        payload = {"client_uuid": str(uuid.uuid4()), "answers": answers, "scans": [],
                   "completed_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        if files:
            body, content_type = patrols_bench.multipart({"payload": json.dumps(payload)}, files)
        else:
            body, content_type = json.dumps(payload).encode(), "application/json"
        return harness.Request("POST", f"/api/v1/sites/{SITE}/patrols/{patrol_id}/submission",
                               {**ctx.state, "Content-Type": content_type, "Accept": "application/json"}, body)

    return setup, factory


def _submit_run(server, url: str, args, backend: str, label: str, path: str,
                make_factory) -> tuple[harness.Result, str]:
    """A warm-up run and a measured run of one kind of submission, each on fresh patrols; the database check."""
    per_client = math.ceil(args.max_submissions / args.clients)
    warm_per_client = math.ceil(args.warm_submissions / args.clients)
    warm_pools = patrols_bench.make_pools(url, args.clients, warm_per_client)
    pools = patrols_bench.make_pools(url, args.clients, per_client)
    setup, factory = make_factory(warm_pools)
    warm = harness.measure(server, path, duration=args.warmup, warmup=0, clients=args.clients,
                           max_requests=warm_per_client * args.clients, client_setup=setup, request_factory=factory,
                           expect_status={200}, timeout=patrols_bench.SUBMIT_TIMEOUT_S,
                           label=f"warm-up {label} ({backend})")
    if warm.requests and warm.errors == warm.requests:
        raise RuntimeError(f"every warm-up request of {label} failed, e.g. {warm.error_samples[:2]}")
    setup, factory = make_factory(pools)
    print(f"  [{backend}] measuring {label} ...", flush=True)
    result = harness.measure(server, path, duration=args.duration, warmup=0, clients=args.clients,
                             max_requests=per_client * args.clients, client_setup=setup, request_factory=factory,
                             expect_status={200}, timeout=patrols_bench.SUBMIT_TIMEOUT_S,
                             label=f"{label} ({backend})")
    _ok, text = patrols_bench.check_submissions(url, warm_pools + pools, [warm, result])
    if make_factory.photo is not None:
        removed = patrols_bench.remove_photo_files(url, warm_pools + pools)
        text += f"; removed the {removed} photo files it stored under instance/photos"
    return result, f"[{backend}] {label}: {text}"


class _Factory:
    """make_factory(pools) -> (setup, factory), remembering whether it sends a photo (its files are removed)."""

    def __init__(self, build, photo: bytes | None) -> None:
        self.build, self.photo = build, photo

    def __call__(self, pools):
        return self.build(pools, self.photo)


def bench_submissions(url: str, backend: str, args, photo: bytes) -> tuple[list[harness.Result], list[str]]:
    data = patrols_bench.prepare_submissions(url, args.clients)
    tokens = make_tokens(url, data.leaders)
    with harness.gunicorn("wsgi:app", database_url=url, workers=args.workers) as server:
        results, notes = submission_runs(server, url, data, tokens, backend, args, photo)
        results.append(patrols_bench.measure_floor(server, data, args, backend))
    return results, notes


def submission_runs(server, url: str, data, tokens: list[str], backend: str, args,
                    photo: bytes) -> tuple[list[harness.Result], list[str]]:
    """The token runs (and the session run unless args.no_session_run) on a running server whose database
    bench_patrols.prepare_submissions filled, `tokens` those of data.leaders. bench/run calls it on its own server."""
    variants = [("no photo", None)] + ([(f"1 JPEG {len(photo) // 1024} KB", photo)] if args.photo_run else [])
    results, notes = [], []
    for name, jpeg in variants:
        make = _Factory(lambda pools, p: api_submission_factory(tokens, data.item_ids, pools, p), jpeg)
        result, note = _submit_run(server, url, args, backend, f"API submit 30 items, token, {name}",
                                   f"/api/v1/sites/{SITE}/patrols/<id>/submission", make)
        results.append(result)
        notes.append(note)
    if not args.no_session_run:  # the same endpoint with the browser's session and CSRF token (the tablet's way)
        make = _Factory(lambda pools, p: patrols_bench.submission_factory(data, pools, p), None)
        result, note = _submit_run(server, url, args, backend, "API submit 30 items, session, no photo",
                                   f"/api/v1/sites/{SITE}/patrols/<id>/submission", make)
        results.append(result)
        notes.append(note)
    return results, notes


def submission_lines(results: list[harness.Result], base: harness.Result) -> list[str]:
    floors = {r.label.rsplit("(", 1)[1]: r for r in results if r.label.startswith("floor:")}
    lines = []
    for r in results:
        backend = r.label.rsplit("(", 1)[1]
        floor = floors.get(backend)
        to_floor = r.rps / floor.rps if floor and floor.rps else float("nan")
        if r.label.startswith("floor:"):
            lines.append(f"  {r.label}: {r.rps:,.1f} requests/s = {r.rps / base.rps:.3f} × the bare baseline")
        else:
            if ", session," in r.label:
                lines.append(f"  {r.label}: {r.rps:,.1f} submissions/s = {to_floor:.2f} × the floor, {r.errors} "
                             "errors (the tablet's way: its session and CSRF token; for comparison)")
                continue
            verdict = "met" if to_floor >= TARGET_FLOOR_RATIO and not r.errors else "MISSED"
            lines.append(f"  {r.label}: {r.rps:,.1f} submissions/s = {to_floor:.2f} × the floor, "
                         f"{r.errors} errors (target ≥ {TARGET_FLOOR_RATIO:g} × the floor, 0 errors: {verdict}; "
                         "the page path measured 0.30–0.34 in bench_patrols.py)")
    return lines


# --------------------------------------------------------------------------------------------------
# 2: the issue list
# --------------------------------------------------------------------------------------------------

def bench_issue_list(url: str, backend: str, args, notes: list[str]) -> list[harness.Result]:
    began = time.perf_counter()
    world = queue_bench.build(url, args.issues, max(args.issue_clients))
    tokens = make_tokens(url, world.supervisors)
    notes.append(f"[{backend}] {args.issues:,} issues ({', '.join(f'{k} {v:,}' for k, v in world.counts.items())}"
                 f"; {world.overdue} overdue), {world.events:,} events, 49 grids; built in "
                 f"{time.perf_counter() - began:.0f} s")
    with harness.gunicorn("wsgi:app", database_url=url, workers=args.workers) as server:
        return issue_list_runs(server, world, tokens, backend, args)


def issue_list_runs(server, world, tokens: list[str], backend: str, args) -> list[harness.Result]:
    """The issue list (and the page beside it unless args.no_page_path) at each level of args.issue_clients, on a
    running server whose database bench_queue.build filled (`world`), `tokens` those of world.supervisors."""
    open_count = sum(world.counts[s] for s in queue_bench.OPEN_MIX)
    results: list[harness.Result] = []
    status, body = _get(server, ISSUES_PATH, {"Authorization": f"Bearer {tokens[0]}"})
    if status != 200:
        raise RuntimeError(f"GET {ISSUES_PATH} answered {status}: {body[:300]!r}")
    page = json.loads(body)
    if len(page["items"]) != min(50, open_count) or page["total"] != open_count:
        raise RuntimeError(f"GET {ISSUES_PATH} lists {len(page['items'])} of {page['total']} issues, not "
                           f"{min(50, open_count)} of the {open_count} open ones")
    for clients in args.issue_clients:
        def api_setup(ctx: harness.ClientContext) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[ctx.index % len(tokens)]}", "Accept": "application/json"}

        print(f"  [{backend}] measuring GET {ISSUES_PATH}, token, {clients} clients ...", flush=True)
        results.append(harness.measure(server, ISSUES_PATH, duration=args.duration, clients=clients,
                                       warmup=args.warmup, client_setup=api_setup, expect_status={200},
                                       label=f"API GET issues?per_page=50, token ({backend})"))
        if not args.no_page_path:
            def page_setup(ctx: harness.ClientContext) -> dict[str, str]:
                return harness.login(ctx.host, ctx.port, world.supervisors[ctx.index % len(world.supervisors)],
                                     queue_bench.PASSWORD)

            print(f"  [{backend}] measuring GET {PAGE_PATH} (the page), {clients} clients ...", flush=True)
            results.append(harness.measure(server, PAGE_PATH, duration=args.duration, clients=clients,
                                           warmup=args.warmup, client_setup=page_setup, expect_status={200},
                                           label=f"page GET /issues, session ({backend})"))
    return results


# --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options; parse_args([]) gives its defaults (bench/run uses them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per load run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each run (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="load clients of the submissions (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--issue-clients", type=int, nargs="+", default=[1, 4, 8],
                        help="load levels of the issue list (default 1 4 8)")
    parser.add_argument("--issues", type=int, default=20000, help="issues in the database (default 20000)")
    parser.add_argument("--max-submissions", type=int, default=4000,
                        help="patrols made for each measured submission run, the run's request cap (default 4000)")
    parser.add_argument("--warm-submissions", type=int, default=800, help="patrols for each warm-up run")
    parser.add_argument("--photo-run", action="store_true", help="also submit through the API with one JPEG")
    parser.add_argument("--no-session-run", action="store_true",
                        help="skip the submissions with a session and CSRF token instead of a bearer token")
    parser.add_argument("--no-page-path", action="store_true",
                        help="skip the queue page measured beside the API's issue list")
    parser.add_argument("--skip-submissions", action="store_true", help="only the issue list")
    parser.add_argument("--skip-issues", action="store_true", help="only the submissions")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    machine = harness.machine_info({"GRIDPATROL_WORKERS": str(args.workers)})
    print(harness.format_machine(machine))
    backends = harness.database_backends(machine)
    levels = sorted(({args.clients} if not args.skip_submissions else set())
                    | (set(args.issue_clients) if not args.skip_issues else set()))
    bases: dict[int, harness.Result] = {}
    for clients in levels:
        print(f"  measuring bare Flask GET / (baseline), {clients} clients ...", flush=True)
        bases[clients] = harness.baseline(duration=args.duration, clients=clients, workers=args.workers,
                                          warmup=args.warmup, label=f"bare Flask (baseline), {clients} clients")

    submissions: list[harness.Result] = []
    lists: list[harness.Result] = []
    notes: list[str] = []
    photo = patrols_bench.small_jpeg()
    for backend, database in backends:
        if not args.skip_submissions:
            print(f"\n== [{backend}] submissions: gunicorn {args.workers} workers, {args.clients} clients, "
                  f"{args.duration:g} s measured ==", flush=True)
            with database() as url:
                got, more = bench_submissions(url, backend, args, photo)
                submissions += got
                notes += more
        if not args.skip_issues:
            print(f"\n== [{backend}] the issue list at {args.issues:,} issues ==", flush=True)
            with database() as url:
                lists += bench_issue_list(url, backend, args, notes)

    print()
    for note in notes:
        print("  " + note)
    if submissions:
        base = bases[args.clients]
        print(f"\n-- submissions, {args.clients} clients --")
        harness.print_table([base] + submissions, baseline=base)
        print()
        for line in submission_lines(submissions, base):
            print(line)
    if lists:
        for clients in args.issue_clients:
            print(f"\n-- the issue list, {clients} clients --")
            harness.print_table([bases[clients]] + [r for r in lists if r.clients == clients],
                                baseline=bases[clients])
        print()
        for r in lists:
            met = r.p95_ms < TARGET_P95_MS and not r.errors
            print(f"  {r.label}, {r.clients} clients: p50 {r.p50_ms:.1f} / p95 {r.p95_ms:.1f} / p99 {r.p99_ms:.1f} ms, "
                  f"{r.rps:.1f} rps, {r.server_cpu_ms_per_request or float('nan'):.2f} ms server CPU per request "
                  f"(target p95 < {TARGET_P95_MS:g} ms: {'met' if met else 'MISSED'})")

    if not args.no_save:
        path = harness.save_results("api", list(bases.values()) + submissions + lists, machine=machine,
                                    baseline=bases.get(args.clients), extra={"args": vars(args), "notes": notes})
        print(f"\nsaved {path.relative_to(harness.REPO_ROOT)}")
    inconsistent = any("INCONSISTENT" in n for n in notes)
    return 1 if inconsistent or any(r.errors for r in submissions + lists) else 0


if __name__ == "__main__":
    sys.exit(main())
