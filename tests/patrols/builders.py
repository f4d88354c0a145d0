"""Builders for templates, plans and patrols (made directly, so these tests do not depend on the editor)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols import services
from gridpatrol.patrols.models import Patrol, PlanKind, Recurrence
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.grids import builders as grid_builders

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """'2026-10-10 08:00' in Shanghai time, as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_template(session, code: str = "DAILY", items: int = 4, *, critical: tuple[int, ...] = (),
                  photo_on_fail: tuple[int, ...] = (), no_na: tuple[int, ...] = (),
                  categories: tuple[str, ...] = ()) -> ChecklistTemplate:
    """A published template whose item i (weight i + 1) is of `categories[i]` (default: all fire safety)."""
    template = ChecklistTemplate(code=code, name=f"{code} 标准", active=True)
    version = TemplateVersion(template=template, number=1, status="published", published_at=dt.datetime.now(dt.timezone.utc))
    for i in range(items):
        version.items.append(TemplateItem(
            position=i, code=f"T-{i + 1:02d}", category=categories[i] if categories else "fire_safety",
            text=f"检查项 {i + 1}", weight=i + 1,
            allow_na=i not in no_na, critical=i in critical, photo_on_fail=i in photo_on_fail))
    session.add(template)
    session.flush()
    return template


def compound(app, *, leaders=("leader0", "leader1")) -> dict:
    """A 2×2 site with leaders on A01 and A02, and a published 4-item template."""
    for username in leaders:
        helpers.make_user(app, username, roles=("grid_leader", "staff"))
    grid_builders.make_site(app, grids=grid_builders.two_by_two(
        A01={"leader": leaders[0]}, A02={"leader": leaders[1]}))
    with app.app_context(), job_transaction() as session:
        template = make_template(session, critical=(3,), photo_on_fail=(0,), no_na=(1,))
        return {"template_id": template.id, "grids": dict(session.execute(sa.select(Grid.code, Grid.id)).all())}


def make_plan(app, *, grids=("A01",), recurrence=Recurrence.DAILY, window="08:00", minutes=120, grace=60,
              starts_on=dt.date(2026, 10, 1), kind=PlanKind.ROUTINE, patrollers=None, **kwargs) -> int:
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        grid_rows = {g.code: g for g in session.scalars(sa.select(Grid))}
        data = services.PlanInput(
            name="每日巡查", kind=kind, template=session.scalar(sa.select(ChecklistTemplate)),
            recurrence=recurrence, window_start=dt.time.fromisoformat(window), window_minutes=minutes,
            grace_minutes=grace, starts_on=starts_on, grids=[grid_rows[c] for c in grids],
            patroller_grids={grid_rows[g].id: grid_rows[p] for g, p in (patrollers or {}).items()}, **kwargs)
        return services.save_plan(session, site, data, actor=None, now=at("2026-09-30 00:00")).id


def materialize(app, now: dt.datetime):
    with app.app_context(), job_transaction() as session:
        return services.materialize(session, now)


def open_patrols(app, count: int) -> list[dict]:
    """`count` patrols of A01 (leader0, on `compound`) whose window is open now, for requests on the real clock:
    [{"id", "items"}] in id order."""
    now = dt.datetime.now(dt.timezone.utc)
    opens = (now.astimezone(SHANGHAI) - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    for _ in range(count):
        make_plan(app, starts_on=opens.date(), window=opens.strftime("%H:%M"), minutes=240)
    materialize(app, now)
    with app.app_context():
        rows = db.session.scalars(sa.select(Patrol).where(Patrol.window_start <= now, Patrol.due_at > now)
                                  .order_by(Patrol.id)).all()
        assert len(rows) == count
        return [{"id": p.id, "items": [i.id for i in p.template_version.items]} for p in rows]


def patrols(app) -> list[Patrol]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Patrol).order_by(Patrol.window_start, Patrol.grid_id)))


def submission_url(patrol_id: int, site: str = "TEST") -> str:
    """Where the form's script sends a patrol (the API's submission)."""
    return f"/api/v1/sites/{site}/patrols/{patrol_id}/submission"


def submit_as_tablet(client, patrol_id: int, payload: dict, *, token: str | None = None, site: str = "TEST"):
    """POST the tablet's payload as the form's script does with photos (the multipart `payload` field), with the
    logged-in session's CSRF token."""
    import json

    token = token or helpers.csrf_token(client, f"/s/{site}/patrols/{patrol_id}")
    return client.post(submission_url(patrol_id, site), data={"payload": json.dumps(payload)},
                       content_type="multipart/form-data", headers={"X-CSRFToken": token})
