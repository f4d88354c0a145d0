"""The baseline every later benchmark divides by.

    .venv/bin/python bench/bench_baseline.py [--duration 10] [--clients 8] [--warmup 2]

1. the bare Flask app (bench/bare_app.py, GET /) under config/gunicorn.conf.py — the baseline;
2. GridPatrol's GET /healthz/live (the whole app stack plus a `SELECT 1`) on a migrated temp SQLite file;
3. the same on PostgreSQL when GRIDPATROL_BENCH_POSTGRES_URL is set (a scratch database on that server).

Prints the machine, a table (rps, latency percentiles, server CPU per request, ratios to the baseline)
and writes the figures to bench/results/baseline-<timestamp>.json. Nothing here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import sys

import harness


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options; parse_args([]) gives its defaults (bench/run uses them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds before each run (default 2)")
    parser.add_argument("--max-requests", type=int, default=harness.DEFAULT_MAX_REQUESTS,
                        help="stop a run after this many requests in total")
    parser.add_argument("--workers", type=int, default=None, help="GRIDPATROL_WORKERS (default: config file)")
    parser.add_argument("--threads", type=int, default=None, help="GRIDPATROL_THREADS (default: config file)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    server_env = {}
    if args.workers is not None:
        server_env["GRIDPATROL_WORKERS"] = str(args.workers)
    if args.threads is not None:
        server_env["GRIDPATROL_THREADS"] = str(args.threads)
    machine = harness.machine_info(server_env)
    print(harness.format_machine(machine))
    print(f"load    : {args.clients} client processes (keep-alive http.client), {args.warmup:g}s warm-up, "
          f"{args.duration:g}s measured per target, at most {args.max_requests} requests")
    print()

    run = dict(duration=args.duration, clients=args.clients, warmup=args.warmup, max_requests=args.max_requests)
    server = dict(workers=args.workers, threads=args.threads)
    results = []

    print("measuring bare Flask GET / ...", flush=True)
    base = harness.baseline(**run, **server)
    results.append(base)

    print("measuring GridPatrol GET /healthz/live on SQLite ...", flush=True)
    with harness.sqlite_database() as db_url:
        with harness.gunicorn("wsgi:app", database_url=db_url, **server) as url:
            results.append(harness.measure(url, "/healthz/live", label="GridPatrol /healthz/live (SQLite)", **run))

    pg_url = harness.postgres_url_from_env()
    if pg_url:
        machine["postgresql"] = harness.postgres_server_version(pg_url)
        print(f"measuring GridPatrol GET /healthz/live on PostgreSQL {machine['postgresql']} ...", flush=True)
        with harness.postgres_database(pg_url) as db_url:
            with harness.gunicorn("wsgi:app", database_url=db_url, **server) as url:
                results.append(harness.measure(url, "/healthz/live", label="GridPatrol /healthz/live (PostgreSQL)", **run))
    else:
        print(harness.POSTGRES_SKIPPED_NOTE)

    print()
    harness.print_table(results, baseline=base)
    print("\nrps/base < 1 and p50/base, p99/base > 1 mean slower than the bare Flask app on this machine;"
          "\nsrv cpu ms/req is CPU time of the gunicorn master and workers per request in the measured window.")
    if not args.no_save:
        path = harness.save_results("baseline", results, machine=machine, baseline=base,
                                    extra={"args": vars(args)})
        print(f"saved {path.relative_to(harness.REPO_ROOT)}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
