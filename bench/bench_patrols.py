"""Patrols at scale: materialising, catching up after downtime, and tablets submitting under load.

    .venv/bin/python bench/bench_patrols.py [--duration 10] [--clients 8] [--repeat 3] [--no-photo-run]

1. Materialise one day for 4,900 grids: 100 sites × 49 grids, one daily plan per site, every grid with a
   leader; the measured part is `patrols.services.materialize` in one `job_transaction` (commit included),
   which makes the 4,900 patrols of the day. Target < 2 s. Also the re-run that finds nothing to do.
2. Catch up after 7 days down for 49 grids with a daily, a workdays and a weekly (Mon + Thu) plan: the
   materialise run a week after the previous one (windows slept through made missed), target < 5 s, and
   the whole restart catch-up (`run_job` mark_missed, materialize, remind, each with its heartbeat).
3. Submissions per second of a 30-item patrol, gunicorn with 4 workers (production settings): each load
   client logs in as its own grid leader (session cookie, CSRF token from /api/v1/session/csrf-token) and POSTs
   the tablet's multipart submission (`payload` JSON: client_uuid, completed_at, 30 answers) to the API with the
   session, as the tablet's outbox does (/api/v1/sites/<site>/patrols/<id>/submission; bench_api.py measures it
   with a bearer token), a different pre-made open patrol per request; once without photos (the payload
   as the JSON body, as the tablet sends it) and once with one small JPEG (multipart, unique bytes per
   submission). Reported as a ratio to the bare-Flask baseline measured in the same run (target ≥ 0.2).
   Afterwards the database must hold exactly one submitted patrol per 200.
   A second reference is measured on the same server with the same logged-in clients: the cheapest
   authenticated write the app has, POST /notifications/read (session check, CSRF, one UPDATE, commit; target
   ≥ 0.25 × the baseline). Every submission pays that floor; its ratio to the bare baseline bounds what a
   submission can reach.

1 and 2 run in this process (wall and this process's CPU; PostgreSQL's own CPU is not in the CPU column);
each figure is the median of --repeat runs, the database put back between runs (not timed). Everything
runs on a temp SQLite file and, when GRIDPATROL_BENCH_POSTGRES_URL is set, on a scratch PostgreSQL
database. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import secrets
import statistics
import sys
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import harness  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from shapely.geometry import box  # noqa: E402

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SITES, GRID_ROWS = 100, 7  # 100 sites × 7 × 7 grids
TARGET_DAY_S = 2.0
TARGET_CATCH_UP_S = 5.0
TARGET_SUBMIT_RATIO = 0.2
TARGET_FLOOR_RATIO = 0.25  # the floor's rps ÷ the bare baseline's
SUBMIT_TIMEOUT_S = 30.0  # a tablet waits this long; a busy machine makes the odd SQLite submission slow
ITEMS = 30
LEADER_PASSWORD = "bench-Patrol-2026!"


# --------------------------------------------------------------------------------------------------
# Data: built fast with bulk inserts (ORM-typed Core inserts), never timed
# --------------------------------------------------------------------------------------------------

def make_template(session, items: int = ITEMS) -> tuple[int, list[int]]:
    """A published checklist of `items` items; (template id, item ids)."""
    from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion

    now = dt.datetime.now(dt.timezone.utc)
    template = ChecklistTemplate(code=f"BENCH{items}", name=f"{items} 项巡查标准", active=True)
    version = TemplateVersion(template=template, number=1, status="published", published_at=now)
    categories = ("fire_safety", "security", "hygiene", "facilities", "water_power")
    for i in range(items):
        version.items.append(TemplateItem(
            position=i, code=f"B-{i + 1:02d}", category=categories[i % len(categories)],
            text=f"检查项 {i + 1}：消防通道畅通、设施完好", weight=1 + i % 3, allow_na=i % 4 != 0,
            critical=i % 10 == 9, photo_on_fail=i % 5 == 0))
    session.add(template)
    session.flush()
    return template.id, [item.id for item in version.items]


def make_sites(session, sites: int) -> list[tuple[int, list[int]]]:
    """`sites` sites side by side, each a 7 × 7 lattice of ~100 m grids; [(site id, grid ids)]."""
    from gridpatrol.grids.models import Grid, Site

    step = 0.001
    out = []
    site_ids = harness.bulk_insert(session, Site, [{
        "code": f"S{s:03d}", "name": f"院区{s:03d}", "timezone": "Asia/Shanghai", "grids_version": 1,
        "boundary": box(120.0 + (s % 10) * 0.01, 30.0 + (s // 10) * 0.01,
                        120.0 + (s % 10) * 0.01 + GRID_ROWS * step, 30.0 + (s // 10) * 0.01 + GRID_ROWS * step),
    } for s in range(sites)])
    for s, site_id in enumerate(site_ids):
        x0, y0 = 120.0 + (s % 10) * 0.01, 30.0 + (s // 10) * 0.01
        grid_ids = harness.bulk_insert(session, Grid, [{
            "site_id": site_id, "code": f"A{r * GRID_ROWS + c + 1:02d}", "name": f"网格{r * GRID_ROWS + c + 1:02d}",
            "level": 0, "categories": ["fire_safety"], "active": True,
            "geometry": box(x0 + c * step, y0 + r * step, x0 + (c + 1) * step, y0 + (r + 1) * step),
        } for r in range(GRID_ROWS) for c in range(GRID_ROWS)])
        out.append((site_id, grid_ids))
    return out


def make_leaders(session, grid_ids: list[int], prefix: str) -> list[int]:
    """One leader per grid (unusable password: these never log in), assigned now."""
    from gridpatrol.accounts.models import User, UserRole
    from gridpatrol.grids.models import GridAssignment

    now = dt.datetime.now(dt.timezone.utc)
    user_ids = harness.bulk_insert(session, User, [{
        "username": f"{prefix}{i:05d}", "display_name": f"网格长{i:05d}", "password_hash": "!", "active": True,
    } for i in range(len(grid_ids))])
    session.execute(sa.insert(UserRole), [{"user_id": u, "role": "grid_leader"} for u in user_ids])
    session.execute(sa.insert(GridAssignment), [
        {"grid_id": g, "user_id": u, "role": "leader", "effective_from": now} for g, u in zip(grid_ids, user_ids)])
    return user_ids


def make_plan(session, site_id: int, template_id: int, grid_ids: list[int], *, name: str, recurrence: str,
              window: str, starts_on: dt.date, weekdays=(), minutes: int = 120, grace: int = 60) -> int:
    from gridpatrol.patrols.models import PatrolPlan, PlanGrid

    (plan_id,) = harness.bulk_insert(session, PatrolPlan, [{
        "site_id": site_id, "name": name, "kind": "routine", "template_id": template_id, "recurrence": recurrence,
        "weekdays": list(weekdays), "window_start": dt.time.fromisoformat(window), "window_minutes": minutes,
        "grace_minutes": grace, "starts_on": starts_on, "active": True}])
    session.execute(sa.insert(PlanGrid), [{"plan_id": plan_id, "grid_id": g} for g in grid_ids])
    return plan_id


# --------------------------------------------------------------------------------------------------
# 1 and 2: materialising in process
# --------------------------------------------------------------------------------------------------

@dataclass
class Timing:
    label: str
    wall: list[float]
    cpu: list[float]
    detail: str
    target: float | None = None

    def row(self) -> str:
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        verdict = "" if self.target is None else (f"target < {self.target:g} s: " +
                                                  ("met" if wall < self.target else "MISSED"))
        return (f"  {self.label:<58} {wall * 1e3:>9,.0f} ms wall {cpu * 1e3:>9,.0f} ms CPU "
                f"(min {min(self.wall) * 1e3:,.0f}, max {max(self.wall) * 1e3:,.0f})  {verdict}\n"
                f"      {self.detail}")


def bench_one_day(url: str, backend: str, repeat: int) -> list[Timing]:
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.extensions import db
    from gridpatrol.patrols import services as patrols
    from gridpatrol.patrols.models import Patrol, PatrolPlan

    app = harness.in_process_app(url)
    day = dt.date(2026, 11, 23)
    now = dt.datetime.combine(day, dt.time(6, 0), tzinfo=SHANGHAI)  # today's 08:00 window is within 24 h
    with harness.Clock() as build, app.app_context(), job_transaction() as session:
        template_id, _ = make_template(session, 10)
        sites = make_sites(session, SITES)
        make_leaders(session, [g for _, grids in sites for g in grids], "lead")
        for s, (site_id, grids) in enumerate(sites):
            make_plan(session, site_id, template_id, grids, name=f"每日巡查 {s:03d}", recurrence="daily",
                      window="08:00", starts_on=day)
    grids = sum(len(g) for _, g in sites)
    print(f"  [{backend}] built {len(sites)} sites, {grids:,} grids with leaders, {len(sites)} daily plans "
          f"in {build.wall:.1f} s", flush=True)

    def run() -> str:
        with app.app_context(), job_transaction() as session:
            report = patrols.materialize(session, now)
        return f"{report.plans} plans, {report.created:,} patrols created"

    def reset() -> None:
        with app.app_context(), job_transaction() as session:
            session.execute(sa.delete(Patrol))
            session.execute(sa.update(PatrolPlan).values(materialized_until=None))

    walls, cpus, detail = harness.timed_runs(repeat, run, reset)
    first = Timing(f"[{backend}] one day, {grids:,} grids (makes {grids:,} patrols)", walls, cpus, detail,
                   TARGET_DAY_S)
    later = now + dt.timedelta(minutes=5)  # the next tick: every plan is looked at again, nothing to make
    ahead = now + patrols.HORIZON

    def back_to_the_first_run() -> None:
        with app.app_context(), job_transaction() as session:
            session.execute(sa.update(PatrolPlan).values(materialized_until=ahead))

    walls, cpus, detail = harness.timed_runs(repeat, lambda: run_at(app, later), back_to_the_first_run)
    again = Timing(f"[{backend}] the next tick 5 min later (nothing new)", walls, cpus, detail)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Patrol))
    harness.release_app(app)
    first.detail += f"; {count:,} patrols in the database afterwards"
    return [first, again]


def run_at(app, now: dt.datetime) -> str:
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.patrols import services as patrols

    with app.app_context(), job_transaction() as session:
        report = patrols.materialize(session, now)
    return f"{report.plans} plans looked at, {report.created:,} patrols created"


def bench_catch_up(url: str, backend: str, repeat: int) -> list[Timing]:
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.notifications.models import Notification
    from gridpatrol.patrols import services as patrols
    from gridpatrol.patrols.models import Patrol, PatrolPlan
    from gridpatrol.scheduler import jobs
    from gridpatrol.scheduler.models import JobHeartbeat

    app = harness.in_process_app(url)
    start = dt.date(2026, 11, 16)  # a Monday
    before = dt.datetime.combine(start, dt.time(6, 0), tzinfo=SHANGHAI)  # the last run before the downtime
    after = before + dt.timedelta(days=7, hours=3)  # back a week later, Monday 09:00
    with app.app_context(), job_transaction() as session:
        template_id, _ = make_template(session)
        ((site_id, grids),) = make_sites(session, 1)
        make_leaders(session, grids, "cu")
        for name, recurrence, window, weekdays in (("每日巡查", "daily", "08:00", ()),
                                                   ("工作日巡查", "workdays", "14:00", ()),
                                                   ("每周巡查", "weekdays", "10:00", (0, 3))):
            make_plan(session, site_id, template_id, grids, name=name, recurrence=recurrence, window=window,
                      starts_on=start, weekdays=weekdays)
    with app.app_context(), job_transaction() as session:
        patrols.materialize(session, before)
        patrols.mark_missed(session, before)
        mark = dict(session.execute(sa.select(PatrolPlan.id, PatrolPlan.materialized_until)).all())
        made_before = session.scalar(sa.select(sa.func.count()).select_from(Patrol))

    def reset() -> None:
        with app.app_context(), job_transaction() as session:
            session.execute(sa.delete(Patrol).where(Patrol.created_at > before))
            session.execute(sa.update(Patrol).values(status="scheduled", missed_at=None))
            session.execute(sa.delete(Notification))
            session.execute(sa.delete(JobHeartbeat))
            for plan_id, until in mark.items():
                session.execute(sa.update(PatrolPlan).where(PatrolPlan.id == plan_id).values(materialized_until=until))

    def materialize_only() -> str:
        with app.app_context(), job_transaction() as session:
            report = patrols.materialize(session, after)
        return (f"{report.plans} plans, {report.created:,} patrols created ({report.created_missed:,} already "
                f"missed); {made_before} made before the downtime")

    def restart() -> str:
        with app.app_context():
            results = [jobs.run_job(name, after) for name in ("mark_missed", "materialize", "remind")]
        return "; ".join(f"{r.job}: {r.summary}" for r in results)

    walls, cpus, detail = harness.timed_runs(repeat, materialize_only, reset)
    one = Timing(f"[{backend}] 7 days down, 49 grids × 3 plans: materialize", walls, cpus, detail, TARGET_CATCH_UP_S)
    reset()
    walls, cpus, detail = harness.timed_runs(repeat, restart, reset)
    whole = Timing(f"[{backend}] the same, whole restart (3 jobs, heartbeats)", walls, cpus, detail,
                   TARGET_CATCH_UP_S)
    harness.release_app(app)
    return [one, whole]


# --------------------------------------------------------------------------------------------------
# 3: submissions under load
# --------------------------------------------------------------------------------------------------

@dataclass
class SubmitData:
    leaders: list[str]  # username of client i's leader
    item_ids: list[int]


def prepare_submissions(url: str, clients: int) -> SubmitData:
    """One site of 49 grids, a leader (real password) on each of the first `clients` grids, a 30-item plan."""
    from gridpatrol.accounts import services as accounts
    from gridpatrol.core.roles import Role
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.grids.models import GridAssignment

    app = harness.in_process_app(url)
    with app.app_context(), job_transaction() as session:
        template_id, item_ids = make_template(session)
        ((site_id, grids),) = make_sites(session, 1)
        names = []
        for i in range(clients):
            user = accounts.create_user(session, username=f"leader{i:02d}", display_name=f"网格长{i:02d}",
                                        password=LEADER_PASSWORD, roles=[Role.GRID_LEADER, Role.STAFF])
            session.add(GridAssignment(grid_id=grids[i], user_id=user.id, role="leader",
                                       effective_from=dt.datetime.now(dt.timezone.utc)))
            names.append(user.username)
        make_plan(session, site_id, template_id, grids, name="每日巡查", recurrence="daily", window="08:00",
                  starts_on=dt.date(2026, 1, 1))
    harness.release_app(app)
    return SubmitData(names, item_ids)


SUBMIT_SITE = "S000"  # the one site prepare_submissions makes (make_sites numbers them S000, S001, …)
_pool_counter = 0  # window starts already used: each pool's windows start before the previous pool's
_pool_anchor: dt.datetime | None = None


def make_pools(url: str, clients: int, per_client: int) -> list[list[int]]:
    """per_client open patrols for each client's leader, on their grid, windows open now (distinct starts)."""
    global _pool_counter, _pool_anchor
    from gridpatrol.accounts.models import User
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.grids.models import GridAssignment
    from gridpatrol.patrols.models import Patrol, PatrolPlan
    from gridpatrol.standards.models import TemplateVersion

    app = harness.in_process_app(url)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    _pool_anchor = _pool_anchor or now
    pools = []
    with app.app_context(), job_transaction() as session:
        plan = session.scalar(sa.select(PatrolPlan))
        version_id = session.scalar(sa.select(TemplateVersion.id).where(
            TemplateVersion.template_id == plan.template_id))
        for i in range(clients):
            user_id, grid_id = session.execute(sa.select(User.id, GridAssignment.grid_id).join(
                GridAssignment, GridAssignment.user_id == User.id).where(User.username == f"leader{i:02d}")).one()
            base = _pool_anchor - dt.timedelta(minutes=30) - dt.timedelta(seconds=_pool_counter)
            pools.append(harness.bulk_insert(session, Patrol, [{
                "plan_id": plan.id, "grid_id": grid_id, "site_id": plan.site_id, "template_version_id": version_id,
                "kind": "routine", "window_start": base - dt.timedelta(seconds=k),
                "due_at": now + dt.timedelta(hours=3), "grace_until": now + dt.timedelta(hours=4),
                "assignee_id": user_id, "status": "scheduled", "failed_critical": False, "created_at": now,
            } for k in range(per_client)]))
        _pool_counter += per_client
    harness.release_app(app)
    return pools


def small_jpeg() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (320, 240))
    image.putdata([((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(240) for x in range(320)])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def unique_jpeg(base: bytes, tag: bytes) -> bytes:
    """The same picture with a JPEG comment segment after SOI: different bytes, so a new stored file."""
    return base[:2] + b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag + base[2:]


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "----gridpatrol-bench-" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + value.encode() + b"\r\n")
    for name, data in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def submission_factory(data: SubmitData, pools: list[list[int]], photo: bytes | None):
    def setup(ctx: harness.ClientContext) -> dict[str, str]:
        # as a tablet does: the login form, then a fresh CSRF token for the API
        return harness.login(ctx.host, ctx.port, data.leaders[ctx.index], LEADER_PASSWORD, api_csrf_token=True)

    def factory(ctx: harness.ClientContext, seq: int) -> harness.Request:
        pool = pools[ctx.index]
        patrol_id = pool[min(seq, len(pool) - 1)]  # past the end: a refused resubmission shows as an error
        answers = [{"item_id": item_id, "result": "pass", "note": "", "photos": []} for item_id in data.item_ids]
        files = {}
        if photo is not None:
            files["p1"] = unique_jpeg(photo, uuid.uuid4().bytes)
            answers[0]["photos"] = ["p1"]
        payload = {"client_uuid": str(uuid.uuid4()), "answers": answers, "scans": [],
                   "completed_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        if files:  # as the tablet sends it: multipart with photos, else the payload alone as JSON
            body, content_type = multipart({"payload": json.dumps(payload)}, files)
        else:
            body, content_type = json.dumps(payload).encode(), "application/json"
        return harness.Request("POST", f"/api/v1/sites/{SUBMIT_SITE}/patrols/{patrol_id}/submission",
                               {**ctx.state, "Content-Type": content_type, "Accept": "application/json"}, body)

    return setup, factory


def check_submissions(url: str, pools: list[list[int]], results: list[harness.Result]) -> tuple[bool, str]:
    """The database holds exactly one submitted patrol (with its submission and 30 answers) per 200."""
    from gridpatrol.extensions import db
    from gridpatrol.patrols.models import Patrol, PatrolAnswer, PatrolPhoto, Submission

    ids = [i for pool in pools for i in pool]
    oks = sum(r.status_counts.get("200", 0) for r in results)
    errors = sum(r.errors for r in results)
    # A request the client gave up on (timeout) may still have been applied by the server.
    unanswered = sum(r.status_counts.get("exception", 0) for r in results)
    app = harness.in_process_app(url)
    with app.app_context():
        s = db.session
        submitted = s.scalar(sa.select(sa.func.count()).select_from(Patrol).where(
            Patrol.id.in_(ids), Patrol.status == "submitted"))
        submissions = s.scalar(sa.select(sa.func.count()).select_from(Submission).where(Submission.patrol_id.in_(ids)))
        answers = s.scalar(sa.select(sa.func.count()).select_from(PatrolAnswer).where(PatrolAnswer.patrol_id.in_(ids)))
        photos = s.scalar(sa.select(sa.func.count()).select_from(PatrolPhoto).where(PatrolPhoto.patrol_id.in_(ids)))
    harness.release_app(app)
    applied_unanswered = submitted - oks
    ok = (submitted == submissions and answers == ITEMS * submitted and errors == unanswered
          and 0 <= applied_unanswered <= unanswered)
    verdict = "consistent" if ok else "INCONSISTENT"
    if ok and unanswered:
        verdict += (f" ({unanswered} requests got no answer in time; the server applied {applied_unanswered} "
                    "of them, which a tablet's retry with the same client_uuid would get back as a replay)")
    return ok, (f"{oks} responses 200, {errors} errors; database: {submitted} submitted patrols, {submissions} "
                f"submissions, {answers} answers, {photos} photos -> {verdict}")


def remove_photo_files(url: str, pools: list[list[int]]) -> int:
    """The photo files this run stored (unique bytes, so nobody else's) go again; the rows stay."""
    from gridpatrol.extensions import db
    from gridpatrol.patrols.models import PatrolPhoto

    try:
        from gridpatrol.core import photos
    except ImportError:  # before photo storage moved to core
        from gridpatrol.patrols import photos

    ids = [i for pool in pools for i in pool]
    app = harness.in_process_app(url)
    removed = 0
    with app.app_context():
        for sha in db.session.scalars(sa.select(PatrolPhoto.sha256).where(PatrolPhoto.patrol_id.in_(ids))):
            path = photos.path_for(sha)
            if path.exists():
                path.unlink()
                removed += 1
    harness.release_app(app)
    return removed


def measure_floor(server, data: SubmitData, args, backend: str) -> harness.Result:
    """The floor, on a server already running: POST /notifications/read, the app's cheapest authenticated write
    (session, CSRF, one UPDATE, commit), by the leaders of `data` (the CSRF token as the tablet's outbox gets it)."""
    def floor_setup(ctx: harness.ClientContext) -> dict[str, str]:
        headers = harness.login(ctx.host, ctx.port, data.leaders[ctx.index], LEADER_PASSWORD, api_csrf_token=True)
        return {**headers, "Content-Type": "application/x-www-form-urlencoded"}

    def floor_request(ctx: harness.ClientContext, seq: int) -> harness.Request:
        body = f"csrf_token={ctx.state['X-CSRFToken']}".encode()
        return harness.Request("POST", "/notifications/read", dict(ctx.state), body)

    print(f"  [{backend}] measuring the floor, POST /notifications/read ...", flush=True)
    return harness.measure(server, "/notifications/read", duration=args.duration, warmup=args.warmup,
                           clients=args.clients, client_setup=floor_setup, request_factory=floor_request,
                           expect_status={302}, label=f"floor: authenticated POST /notifications/read ({backend})")


def bench_submissions(url: str, backend: str, args, photo: bytes) -> tuple[list[harness.Result], list[str]]:
    data = prepare_submissions(url, args.clients)
    with harness.gunicorn("wsgi:app", database_url=url, workers=4) as server:
        results, notes = submission_runs(server, url, data, backend, args, photo)
        results.append(measure_floor(server, data, args, backend))
    return results, notes


def submission_runs(server, url: str, data: SubmitData, backend: str, args,
                    photo: bytes) -> tuple[list[harness.Result], list[str]]:
    """The submission runs (no photo, then one JPEG unless args.no_photo_run) on a running server whose database
    prepare_submissions filled; each checked against the database. bench/run calls it on its own server."""
    per_client = math.ceil(args.max_submissions / args.clients)
    warm_per_client = math.ceil(args.warm_submissions / args.clients)
    variants = [("no photo", None)] + ([] if args.no_photo_run else [(f"1 JPEG {len(photo) // 1024} KB", photo)])
    results, notes = [], []
    for name, jpeg in variants:
        # A short run of its own warms the workers; its submissions are counted in the check too.
        warm_pools = make_pools(url, args.clients, warm_per_client)
        pools = make_pools(url, args.clients, per_client)
        setup, factory = submission_factory(data, warm_pools, jpeg)
        warm = harness.measure(server, "/api/v1/sites/<site>/patrols/<id>/submission", duration=args.warmup, warmup=0,
                               clients=args.clients, max_requests=warm_per_client * args.clients,
                               client_setup=setup, request_factory=factory, expect_status={200},
                               timeout=SUBMIT_TIMEOUT_S, label=f"warm-up ({backend}, {name})")
        setup, factory = submission_factory(data, pools, jpeg)
        print(f"  [{backend}] measuring submissions, {name} ...", flush=True)
        result = harness.measure(server, "/api/v1/sites/<site>/patrols/<id>/submission", duration=args.duration, warmup=0,
                                 clients=args.clients, max_requests=per_client * args.clients,
                                 client_setup=setup, request_factory=factory, expect_status={200},
                                 timeout=SUBMIT_TIMEOUT_S, label=f"submit 30 items, {name} ({backend})")
        ok, text = check_submissions(url, warm_pools + pools, [warm, result])
        notes.append(f"[{backend}] {name}: {text}")
        if jpeg is not None:
            removed = remove_photo_files(url, warm_pools + pools)
            notes.append(f"[{backend}] {name}: removed the {removed} photo files it stored under instance/photos")
        results.append(result)
    return results, notes


# --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """This benchmark's options; parse_args([]) gives its defaults (bench/run uses them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per load run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of the warm-up submission run (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="load client processes (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="in-process timings: runs per figure (default 3)")
    parser.add_argument("--max-submissions", type=int, default=4000,
                        help="patrols made for each measured submission run, the run's request cap (default 4000)")
    parser.add_argument("--warm-submissions", type=int, default=800, help="patrols for each warm-up run")
    parser.add_argument("--no-photo-run", action="store_true", help="skip the submissions with a photo")
    parser.add_argument("--skip-load", action="store_true", help="only the in-process materialise figures")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    machine = harness.machine_info({"GRIDPATROL_WORKERS": "4"})
    print(harness.format_machine(machine))
    backends = harness.database_backends(machine, postgres_note="a scratch database per part, dropped afterwards")
    print()

    timings: list[Timing] = []
    print("== materialising (in process) ==", flush=True)
    for backend, database in backends:
        with database() as url:
            timings += bench_one_day(url, backend, args.repeat)
        with database() as url:
            timings += bench_catch_up(url, backend, args.repeat)
    print()
    print(f"median of {args.repeat} runs each (the database put back between runs, not timed):")
    for t in timings:
        print(t.row())

    results: list[harness.Result] = []
    notes: list[str] = []
    base = None
    if not args.skip_load:
        print(f"\n== submissions: gunicorn 4 workers, {args.clients} clients, {args.duration:g} s measured ==",
              flush=True)
        print("  measuring bare Flask GET / (baseline) ...", flush=True)
        base = harness.baseline(duration=args.duration, clients=args.clients, workers=4)
        photo = small_jpeg()
        for backend, database in backends:
            with database() as url:
                got, more = bench_submissions(url, backend, args, photo)
                results += got
                notes += more
        print()
        harness.print_table([base] + results, baseline=base)
        print()
        for note in notes:
            print("  " + note)
        floors = {r.label.rsplit("(", 1)[1]: r for r in results if r.label.startswith("floor:")}
        for r in results:
            ratio = r.rps / base.rps if base.rps else float("nan")
            if r.label.startswith("floor:"):
                print(f"  {r.label}: {r.rps:,.1f} requests/s = {ratio:.3f} × baseline (the app's cheapest "
                      "authenticated write; every submission pays at least this; target ≥ "
                      f"{TARGET_FLOOR_RATIO:g}: {'met' if ratio >= TARGET_FLOOR_RATIO else 'MISSED'})")
                continue
            floor = floors.get(r.label.rsplit("(", 1)[1])
            to_floor = f", {r.rps / floor.rps:.2f} × the floor" if floor and floor.rps else ""
            print(f"  {r.label}: {r.rps:,.1f} submissions/s = {ratio:.3f} × baseline{to_floor} "
                  f"(target ≥ {TARGET_SUBMIT_RATIO:g}: {'met' if ratio >= TARGET_SUBMIT_RATIO else 'MISSED'})")

    if not args.no_save:
        extra = {"args": vars(args), "timings": [{"label": t.label, "wall_s": t.wall, "cpu_s": t.cpu,
                                                  "detail": t.detail, "target_s": t.target} for t in timings],
                 "notes": notes}
        path = harness.save_results("patrols", ([base] if base else []) + results, machine=machine, baseline=base,
                                    extra=extra)
        print(f"\nsaved {path.relative_to(harness.REPO_ROOT)}")
    inconsistent = any("INCONSISTENT" in n for n in notes)
    return 1 if inconsistent or any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
