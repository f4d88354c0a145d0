"""The monthly points table over five years of history: exporting a month and a year, time and memory.

    .venv/bin/python bench/bench_points.py [--years 5] [--repeat 5] [--seed 1] [--no-save]
    GRIDPATROL_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_points.py

One site of 49 grids (7 × 7) with five years of history, loaded with bulk inserts (never timed):
one daily patrol per grid (≈ 89,000 patrols: ~89 % on time, ~6 % late, ~5 % missed; scores mostly 100, the
rest 60–99), ≈ 11 issues a day (≈ 20,000: half found on patrols by the grid's leader, the rest quick reports by
staff or other leaders; 8 % rejected; accepted ones 70/22/8 % minor/major/critical, a few re-dispatched with
another severity; 88 % closed a few days later) with their events (reported, dispatch, start, fix, verify or
reject), the ledger entries all of that earns (≈ 105,000), eight leader handovers, three appeals a month (one
overturned, its correction booked in the next month), every month closed.

Measured, in this process (wall and CPU, median of --repeat runs):
1. the last full month's table alone (`points.table.monthly_table`: the grouped SQL);
2. the month's workbook (`monthly_table` + `export.write_xlsx` into memory: points table + ledger detail);
3. the month's CSV;
4. a year: the last full calendar year as `export.write_year_xlsx` — a summary sheet (the year's figures per
   leader, points month by month, ranked) followed by the twelve monthly points tables, i.e. 12
   `monthly_table` calls and one workbook (the ledger detail stays in the monthly workbook);
   target month < 0.5 s, year < 5 s;
5. for reference, `points.services.check_month` of the same month (the ledger check page and
   `points rebuild --check`), which recomputes the month from the events through the ORM.
Memory, each in a fresh subprocess (so one run does not inherit another's high-water mark): the growth of
the peak RSS (`ru_maxrss`) over the export, and, in a second subprocess, the tracemalloc peak of Python
allocations during it; target < 200 MB.

SQLite (a temp file) and, when GRIDPATROL_BENCH_POSTGRES_URL is set, PostgreSQL (a scratch database, created
and dropped). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import harness  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from shapely.geometry import box  # noqa: E402

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ROWS = 7  # 7 × 7 = 49 grids
TARGET_MONTH_S, TARGET_YEAR_S, TARGET_MB = 0.5, 5.0, 200.0
CHUNK = 5000


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def month_of(when: dt.datetime) -> dt.date:
    w = when.astimezone(SHANGHAI)
    return dt.date(w.year, w.month, 1)


# --------------------------------------------------------------------------------------------------
# Data: five years of a 49-grid site, bulk inserted (ids assigned here, so entries can name their sources)
# --------------------------------------------------------------------------------------------------

def insert(session, table, rows: list[dict]) -> None:
    """executemany in chunks; every row gets every key some row has (None where it has none)."""
    keys = set().union(*(row.keys() for row in rows)) if rows else set()
    for row in rows:
        for key in keys - row.keys():
            row[key] = None
    for i in range(0, len(rows), CHUNK):
        session.execute(sa.insert(table), rows[i:i + CHUNK])


def load(url: str, years: int, seed: int) -> dict:
    from gridpatrol.accounts.models import Team, User, UserRole
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.grids.models import Grid, GridAssignment, Site
    from gridpatrol.issues.models import Issue, IssueEvent
    from gridpatrol.patrols.models import Patrol, PatrolPlan, PlanGrid
    from gridpatrol.points.models import Appeal, MonthClose, PointsEntry
    from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion

    rng = random.Random(seed)
    app = harness.in_process_app(url)
    end = month_of(dt.datetime.now(dt.timezone.utc))  # history up to the start of this month
    start = add_months(end, -12 * years)
    counts: dict[str, int] = {}
    with app.app_context(), job_transaction() as session:
        ids = functools.partial(harness.bulk_insert, session)  # ids(Model, rows): INSERT … RETURNING id

        created = local(start, 0) - dt.timedelta(days=30)
        (site_id,) = ids(Site, [{"code": "BENCH", "name": "行政中心", "timezone": "Asia/Shanghai", "grids_version": 1,
                                 "boundary": box(120.15, 30.28, 120.15 + ROWS * 0.001, 30.28 + ROWS * 0.001)}])
        grid_ids = ids(Grid, [{
            "site_id": site_id, "code": f"A{r * ROWS + c + 1:02d}", "name": f"网格{r * ROWS + c + 1:02d}", "level": 0,
            "categories": ["fire_safety"], "active": True,
            "geometry": box(120.15 + c * 0.001, 30.28 + r * 0.001, 120.151 + c * 0.001, 30.281 + r * 0.001)}
            for r in range(ROWS) for c in range(ROWS)])
        people = [(f"lead{i:02d}", f"网格长{i:02d}", "grid_leader") for i in range(len(grid_ids) + 8)]
        people += [(f"staff{i:02d}", f"职工{i:02d}", "staff") for i in range(30)]
        people += [("boss", "主任", "supervisor"), ("boss2", "副主任", "supervisor"), ("fixer", "维修工", "rectifier")]
        user_ids = ids(User, [{"username": u, "display_name": n, "password_hash": "!", "active": True}
                              for u, n, _r in people])
        session.execute(sa.insert(UserRole), [{"user_id": uid, "role": r} for uid, (_u, _n, r) in zip(user_ids, people)])
        leaders, spare = user_ids[:len(grid_ids)], user_ids[len(grid_ids):len(grid_ids) + 8]
        staff = user_ids[len(grid_ids) + 8:len(grid_ids) + 38]
        boss, boss2 = user_ids[-3], user_ids[-2]
        (team_id,) = ids(Team, [{"name": "维修班组", "kind": "maintenance", "active": True}])

        # leader history: everyone from the start; eight handovers to a new leader at random moments
        history: dict[int, list[tuple[dt.datetime, dt.datetime | None, int]]] = {
            g: [(created, None, u)] for g, u in zip(grid_ids, leaders)}
        total_days = (end - start).days
        for new_leader, grid in zip(spare, rng.sample(grid_ids, 8)):
            when = local(start + dt.timedelta(days=rng.randrange(30, total_days - 30)), 12)
            first, _to, old = history[grid][0]
            history[grid] = [(first, when, old), (when, None, new_leader)]
        insert(session, GridAssignment.__table__, [
            {"grid_id": g, "user_id": u, "role": "leader", "effective_from": f, "effective_to": t}
            for g, spans in history.items() for f, t, u in spans])

        def leader_at(grid: int, when: dt.datetime) -> int:
            for f, t, u in history[grid]:
                if f <= when and (t is None or when < t):
                    return u
            raise AssertionError("no leader")

        template = ChecklistTemplate(code="DAILY", name="日常巡查标准", active=True)
        version = TemplateVersion(template=template, number=1, status="published", published_at=created)
        for i in range(10):
            version.items.append(TemplateItem(position=i, code=f"D-{i + 1:02d}", category="fire_safety",
                                              text=f"检查项 {i + 1}", weight=1 + i % 3, allow_na=True,
                                              critical=i == 9, photo_on_fail=False))
        session.add(template)
        session.flush()
        item_ids = [item.id for item in version.items]
        (plan_id,) = ids(PatrolPlan, [{
            "site_id": site_id, "name": "每日巡查", "kind": "routine", "template_id": template.id,
            "recurrence": "daily", "weekdays": [], "window_start": dt.time(8), "window_minutes": 120,
            "grace_minutes": 60, "starts_on": start, "active": True, "materialized_until": local(end, 0)}])
        session.execute(sa.insert(PlanGrid), [{"plan_id": plan_id, "grid_id": g} for g in grid_ids])

        patrols, entries, issues, events = [], [], [], []
        patrol_of: dict[tuple[int, dt.date], int] = {}
        next_entry = 1

        def entry(user_id, when_month, rule, points, source_type, source_id, reason, *, month=None, corrects=None):
            nonlocal next_entry
            entries.append({"id": next_entry, "site_id": site_id, "user_id": user_id, "month": month or when_month,
                            "event_month": when_month, "rule_code": rule, "rule_version": 1, "points": points,
                            "source_type": source_type, "source_id": source_id, "reason": reason,
                            "corrects_id": corrects, "created_at": created})
            next_entry += 1
            return next_entry - 1

        day = start
        while day < end:
            window, due, grace = local(day, 8), local(day, 10), local(day, 11)
            month = dt.date(day.year, day.month, 1)
            for g, code in zip(grid_ids, (f"A{i + 1:02d}" for i in range(len(grid_ids)))):
                pid = len(patrols) + 1
                assignee = leader_at(g, window)
                r = rng.random()
                row = {"id": pid, "plan_id": plan_id, "grid_id": g, "site_id": site_id,
                       "template_version_id": version.id, "kind": "routine", "window_start": window, "due_at": due,
                       "grace_until": grace, "assignee_id": assignee, "failed_critical": False, "created_at": window}
                if r < 0.05:
                    row.update(status="missed", missed_at=grace)
                    entry(assignee, month, "patrol_missed", -3, "patrol", pid, f"patrol {pid} of grid {code} missed")
                else:
                    late = r < 0.11
                    done = due + dt.timedelta(minutes=rng.randrange(1, 59)) if late else \
                        window + dt.timedelta(minutes=rng.randrange(10, 119))
                    score = 100.0 if rng.random() < 0.6 else round(rng.uniform(60, 99.9), 2)
                    row.update(status="submitted", started_at=done - dt.timedelta(minutes=10), completed_at=done,
                               submitted_at=done + dt.timedelta(seconds=30), submitted_by_id=assignee, score=score,
                               failed_critical=rng.random() < 0.02)
                    entry(assignee, month, "patrol_late" if late else "patrol_on_time", 1 if late else 2, "patrol",
                          pid, f"patrol {pid} of grid {code}")
                patrols.append(row)
                patrol_of[(g, day)] = pid
            for _n in range(rng.randint(6, 16)):  # ≈ 11 issues a day
                iid = len(issues) + 1
                g = rng.choice(grid_ids)
                reported = local(day, rng.randrange(8, 17), rng.randrange(60))
                leader = leader_at(g, reported)
                kind = rng.random()
                patrol_id = item_id = None
                if kind < 0.55 and patrols[patrol_of[(g, day)] - 1]["status"] == "submitted":
                    reporter, source = leader, "patrol"
                    patrol_id, item_id = patrol_of[(g, day)], item_ids[iid % len(item_ids)]
                    used = {(i["patrol_id"], i["item_id"]) for i in issues[-40:]}
                    if (patrol_id, item_id) in used:
                        patrol_id = item_id = None
                        source = "report"
                elif kind < 0.8:
                    reporter, source = rng.choice(staff), "report"
                else:
                    reporter, source = rng.choice(leaders), "report"
                severity = rng.choices(["minor", "major", "critical"], [70, 22, 8])[0]
                row = {"id": iid, "site_id": site_id, "grid_id": g, "level": 0, "category": "fire_safety",
                       "severity": severity, "title": f"问题 {iid}", "source": source, "patrol_id": patrol_id,
                       "item_id": item_id, "reporter_id": reporter, "reported_at": reported, "rework_count": 0,
                       "version": 1, "updated_at": reported, "team_id": None, "deadline": None,
                       "should_have_been_found": None}
                events.append({"issue_id": iid, "at": reported, "actor_id": reporter, "action": "reported",
                               "to_state": "reported", "data": {}})
                month = month_of(reported)
                decided = reported + dt.timedelta(hours=1)
                if rng.random() < 0.08:
                    row.update(state="rejected", rejected_at=decided, reject_reason="invalid")
                    events.append({"issue_id": iid, "at": decided, "actor_id": boss, "action": "reject",
                                   "from_state": "reported", "to_state": "rejected", "data": {"reason": "invalid"}})
                    entry(reporter, month, "report_rejected", 0, "issue", iid, f"issue {iid} rejected (invalid)")
                else:
                    row.update(state="dispatched", dispatched_at=decided, team_id=team_id,
                               deadline=decided + dt.timedelta(days=3), accepted_severity=severity,
                               accepted_at=decided)  # the acceptance facts the points read (issues.models)
                    events.append({"issue_id": iid, "at": decided, "actor_id": boss, "action": "dispatch",
                                   "from_state": "reported", "to_state": "dispatched",
                                   "data": {"team": "维修班组", "assignee": None, "severity": severity}})
                    if rng.random() < 0.03:  # re-dispatched with another severity: the first one counts
                        row["severity"] = rng.choice([s for s in ("minor", "major", "critical") if s != severity])
                        events.append({"issue_id": iid, "at": decided + dt.timedelta(hours=1), "actor_id": boss,
                                       "action": "redispatch", "data": {"severity": row["severity"]}})
                    entry(reporter, month, f"issue_found_{severity}", {"minor": 1, "major": 3, "critical": 5}[severity],
                          "issue", iid, f"issue {iid} found")
                    if source == "report":  # 应巡未发现, decided at acceptance: about a third of the reports
                        row["should_have_been_found"] = rng.random() < 0.3
                    if row.get("should_have_been_found") and reporter != leader:
                        entry(leader, month, "missed_in_own_grid", -1, "issue", iid,
                              f"issue {iid} in own grid found by someone else")
                    if rng.random() < 0.88:
                        fixed = decided + dt.timedelta(days=rng.randint(1, 8), hours=rng.randint(0, 6))
                        closed = fixed + dt.timedelta(hours=2)
                        row.update(state="closed", fixed_at=fixed, closed_at=closed)
                        for at, action, to in ((decided + dt.timedelta(hours=2), "start", "in_progress"),
                                               (fixed, "report_fix", "awaiting_verification"),
                                               (closed, "verify_pass", "closed")):
                            events.append({"issue_id": iid, "at": at, "actor_id": boss2, "action": action,
                                           "to_state": to, "data": {}})
                issues.append(row)
            day += dt.timedelta(days=1)

        # three appeals a month on missed patrols; one overturned, its correction in the next month
        appeals = []
        by_month: dict[dt.date, list[dict]] = {}
        for e in entries:
            if e["rule_code"] == "patrol_missed":
                by_month.setdefault(e["month"], []).append(e)
        for month, missed in sorted(by_month.items()):
            for k, e in enumerate(rng.sample(missed, min(3, len(missed)))):
                aid = len(appeals) + 1
                decided = local(add_months(month, 1), 9) + dt.timedelta(days=1)
                row = {"id": aid, "entry_id": e["id"], "user_id": e["user_id"], "reason": "当日请假",
                       "state": "overturned" if k == 0 else "upheld", "created_at": decided - dt.timedelta(hours=2),
                       "decided_by_id": boss, "decided_at": decided, "decision_note": "核实", "correction_id": None}
                if k == 0:
                    row["correction_id"] = entry(
                        e["user_id"], add_months(month, 1), "appeal_overturned", 3, "appeal", aid,
                        f"corrects entry {e['id']} (patrol_missed, {month:%Y-%m}): appeal {aid} upheld",
                        corrects=e["id"])
                appeals.append(row)
        insert(session, Patrol.__table__, patrols)
        insert(session, Issue.__table__, issues)
        insert(session, IssueEvent.__table__, events)
        insert(session, PointsEntry.__table__, entries)
        insert(session, Appeal.__table__, appeals)
        months = []
        month = start
        while month < end:
            months.append({"site_id": site_id, "month": month, "closed_at": local(add_months(month, 1), 0) +
                           dt.timedelta(days=4), "closed_by_id": None})
            month = add_months(month, 1)
        insert(session, MonthClose.__table__, months)
        if session.get_bind().dialect.name == "postgresql":
            for table in ("patrols", "issues", "points_entries", "points_appeals"):
                session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
        counts = {"patrols": len(patrols), "issues": len(issues), "issue events": len(events),
                  "ledger entries": len(entries), "appeals": len(appeals), "months": len(months),
                  "leader assignments": sum(len(s) for s in history.values())}
    with app.app_context():
        from gridpatrol.extensions import db

        if db.engine.dialect.name == "postgresql":  # what autovacuum would have done on a live database
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
    harness.release_app(app)
    return {"counts": counts, "month": add_months(end, -1), "year": add_months(end, -1).year
            if add_months(end, -1).month == 12 else add_months(end, -1).year - 1}


# --------------------------------------------------------------------------------------------------
# What is measured
# --------------------------------------------------------------------------------------------------

def export_month(session, site, month: dt.date, fmt: str = "xlsx") -> str:
    from gridpatrol.points import export, table

    t = table.monthly_table(session, site, month)
    buffer = io.BytesIO()
    (export.write_xlsx if fmt == "xlsx" else export.write_csv)(t, buffer, locale="zh")
    return f"{len(t.rows)} leaders, {len(t.entries):,} entries, {len(buffer.getvalue()) / 1024:,.0f} KiB {fmt}"


def export_year(session, site, year: int) -> str:
    from gridpatrol.points import export, table

    months = table.yearly_tables(session, site, year, until=dt.date(year, 12, 1))
    buffer = io.BytesIO()
    export.write_year_xlsx(months, buffer, locale="zh")
    return (f"{len(months)} monthly tables, {sum(len(m.rows) for m in months):,} leader rows, "
            f"{sum(len(m.entries) for m in months):,} entries summed, {len(buffer.getvalue()) / 1024:,.0f} KiB xlsx "
            f"({len(months) + 1} sheets)")


def table_only(session, site, month: dt.date) -> str:
    from gridpatrol.points import table

    t = table.monthly_table(session, site, month)
    return f"{len(t.rows)} rows, {len(t.entries):,} entries, {t.totals.patrols_due:,} patrols due"


def check_only(session, site, month: dt.date) -> str:
    from gridpatrol.points import services

    return f"{len(services.check_month(session, site, month))} differences"


def timed(app, repeat: int, run) -> tuple[float, float, str]:
    from gridpatrol.extensions import db
    from gridpatrol.grids.models import Site

    walls, cpus, detail = [], [], ""
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        for _i in range(repeat):
            db.session.expire_all()
            with harness.Clock() as clock:
                detail = run(db.session, site)
            walls.append(clock.wall)
            cpus.append(clock.cpu)
            db.session.rollback()
    return statistics.median(walls), statistics.median(cpus), detail


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM) to its current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(kind: str, url: str, period: str, mode: str) -> None:
    """Run one export in this fresh process and print its memory figures as JSON (see `memory`).

    The peak RSS is reset just before the export (Linux), so the peak read after it is the export's own
    high-water mark, not the one left by importing the app; elsewhere ru_maxrss is the fallback."""
    import tracemalloc

    from gridpatrol.extensions import db
    from gridpatrol.grids.models import Site
    from gridpatrol.points import export, table  # noqa: F401  (imported before the baseline)

    app = harness.in_process_app(url)
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        db.session.rollback()
        reset = _reset_peak_rss()
        before = _status_kb("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if mode == "trace":
            tracemalloc.start()
        began = time.perf_counter()
        if kind == "month":
            detail = export_month(db.session, site, dt.date.fromisoformat(period + "-01"))
        else:
            detail = export_year(db.session, site, int(period))
        wall = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else None
        after = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_before_kb": before, "rss_after_kb": after, "trace_peak": peak, "wall": wall,
                      "detail": detail, "peak_reset": reset}))


def memory(kind: str, url: str, period: str, modes: tuple[str, ...] = ("rss", "trace")) -> dict:
    results = {}
    for mode in modes:
        env = harness.clean_environ()
        proc = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, "--period", period,
                               "--mode", mode], capture_output=True, text=True, env=env, cwd=harness.REPO_ROOT,
                              timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"memory child failed:\n{proc.stdout}\n{proc.stderr}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def bench(url: str, backend: str, years: int, repeat: int, seed: int, *, trace: bool = True) -> list[dict]:
    began = time.perf_counter()
    data = load(url, years, seed)
    counts = ", ".join(f"{v:,} {k}" for k, v in data["counts"].items())
    print(f"  [{backend}] loaded in {time.perf_counter() - began:.1f} s: {counts}", flush=True)
    month, year = data["month"], data["year"]
    app = harness.in_process_app(url)
    figures = []
    for label, run, target, reps in (
            (f"month {month:%Y-%m}: table only (SQL)", lambda s, site: table_only(s, site, month), None, repeat),
            (f"month {month:%Y-%m}: workbook (table + xlsx)", lambda s, site: export_month(s, site, month),
             TARGET_MONTH_S, repeat),
            (f"month {month:%Y-%m}: CSV", lambda s, site: export_month(s, site, month, "csv"), TARGET_MONTH_S,
             repeat),
            (f"year {year}: summary + 12 monthly tables (xlsx)", lambda s, site: export_year(s, site, year),
             TARGET_YEAR_S, max(1, repeat // 2)),
            (f"month {month:%Y-%m}: services.check_month (reference)", lambda s, site: check_only(s, site, month),
             None, max(1, repeat // 2))):
        wall, cpu, detail = timed(app, reps, run)
        figures.append({"backend": backend, "label": label, "wall_s": wall, "cpu_s": cpu, "detail": detail,
                        "target_s": target, "runs": reps})
    harness.release_app(app)
    for kind, period, target in (("month", f"{month:%Y-%m}", TARGET_MB), ("year", str(year), TARGET_MB)):
        mem = memory(kind, url, period, ("rss", "trace") if trace else ("rss",))
        rss_mb = (mem["rss"]["rss_after_kb"] - mem["rss"]["rss_before_kb"]) / 1024
        figures.append({"backend": backend, "label": f"{kind} {period}: memory", "rss_growth_mb": rss_mb,
                        "rss_before_mb": mem["rss"]["rss_before_kb"] / 1024,
                        "rss_peak_mb": mem["rss"]["rss_after_kb"] / 1024, "peak_reset": mem["rss"]["peak_reset"],
                        "trace_peak_mb": mem["trace"]["trace_peak"] / 2 ** 20 if trace else None, "target_mb": target,
                        "detail": mem["rss"]["detail"]})
    return figures


def show(f: dict) -> str:
    if "wall_s" in f:
        verdict = "" if f["target_s"] is None else (
            f"  target < {f['target_s']:g} s: " + ("met" if f["wall_s"] < f["target_s"] else "MISSED"))
        return (f"  [{f['backend']}] {f['label']:<52} {f['wall_s'] * 1e3:>8,.0f} ms wall {f['cpu_s'] * 1e3:>8,.0f} ms "
                f"CPU (median of {f['runs']}){verdict}\n      {f['detail']}")
    worst = max(f["rss_growth_mb"], f["trace_peak_mb"] or 0.0)
    verdict = "met" if worst < f["target_mb"] else "MISSED"
    how = "RSS before" if f["peak_reset"] else "ru_maxrss before"
    return (f"  [{f['backend']}] {f['label']:<52} peak RSS +{f['rss_growth_mb']:,.1f} MB over the export "
            f"({how} {f['rss_before_mb']:,.0f} MB, peak {f['rss_peak_mb']:,.0f} MB), tracemalloc peak "
            + (f"{f['trace_peak_mb']:,.1f} MB" if f["trace_peak_mb"] is not None else "not measured")
            + f"  target < {f['target_mb']:g} MB: {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options; parse_args([]) gives its defaults (bench/run uses them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=5, help="years of history (default 5)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (default 5; the year: half)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="skip the second subprocess per export (the tracemalloc peak; bench/run --quick)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    parser.add_argument("--child", choices=["month", "year"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--period", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["rss", "trace"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.url, args.period, args.mode)
        return 0

    machine = harness.machine_info()
    print(harness.format_machine(machine))
    backends = harness.database_backends(machine)
    print(f"\n== points table: one 49-grid site, {args.years} years of history ==", flush=True)
    figures = []
    for backend, database in backends:
        with database() as url:
            figures += bench(url, backend, args.years, args.repeat, args.seed, trace=not args.no_tracemalloc)
    print()
    for f in figures:
        print(show(f))
    if not args.no_save:
        harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = harness.RESULTS_DIR / f"points-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps({"name": "points", "machine": machine, "args": vars(args), "figures": figures},
                                   indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"\nsaved {path.relative_to(harness.REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
