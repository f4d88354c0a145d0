"""The patrol board (/s/<site>/patrols/board): the SQL state agrees with display_state, filters, totals and counts,
the address's contract (day or from/to, state, level, plan, leader, page), bad input, and who may see it."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid

import pytest
import sqlalchemy as sa

from gridpatrol.core.time import day_bounds
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols import board, services
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus
from gridpatrol.standards.models import TemplateItem
from tests import helpers
from tests.grids import builders as grid_builders
from tests.patrols.builders import at, make_plan, make_template

NOW = at("2026-10-10 09:00")
TZ = "Asia/Shanghai"


# --- the SQL state is display_state ------------------------------------------------------------------
def test_the_sql_state_agrees_with_display_state_for_every_state(app):
    """Patrols in every status, finished before or after their due time or never, against instants before,
    inside, in the grace of and after their window: the board's SQL and display_state say the same state, and
    each state's filter finds exactly the patrols display_state puts in it."""
    helpers.make_user(app, "leader0", roles=("grid_leader",))
    grid_builders.make_site(app, grids=grid_builders.two_by_two(A01={"leader": "leader0"}))
    with app.app_context(), job_transaction() as session:
        make_template(session)
    plan_id = make_plan(app, grids=("A01",))
    base = at("2026-10-05 08:00")
    window, grace = dt.timedelta(hours=2), dt.timedelta(hours=1)
    finishes = {None: None, "early": dt.timedelta(minutes=30), "late": dt.timedelta(hours=2, minutes=30)}
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        plan = session.get(PatrolPlan, plan_id)
        version = plan.template.published
        for n, (status, finish, by_device) in enumerate(itertools.product(
                [s.value for s in PatrolStatus], finishes, (True, False))):
            start = base + dt.timedelta(days=n)
            done = start + finishes[finish] if finish else None
            session.add(Patrol(plan_id=plan.id, grid_id=grid.id, site_id=grid.site_id,
                               template_version_id=version.id, kind="routine", window_start=start,
                               due_at=start + window, grace_until=start + window + grace, status=status,
                               completed_at=done if by_device else None, submitted_at=done, failed_critical=False))
    with app.app_context():
        patrols = list(db.session.scalars(sa.select(Patrol)))
        moments = sorted({p.window_start + offset for p in patrols for offset in (
            -dt.timedelta(minutes=1), dt.timedelta(0), dt.timedelta(hours=1), dt.timedelta(hours=2),
            dt.timedelta(hours=2, minutes=30), dt.timedelta(hours=3), dt.timedelta(hours=4))})
        seen = set()
        for now in moments:
            expected = {p.id: services.display_state(p, now) for p in patrols}
            seen |= set(expected.values())
            got = dict(db.session.execute(sa.select(Patrol.id, board.state_expression(now))).all())
            assert got == expected, now
            for state in board.STATES:
                ids = set(db.session.scalars(sa.select(Patrol.id).where(board.state_condition((state,), now))))
                assert ids == {i for i, s in expected.items() if s == state}, (now, state)
    assert seen == set(board.STATES)  # every state was met


# --- a board world -------------------------------------------------------------------------------------
@pytest.fixture
def world(app, monkeypatch):
    """Three grids (A03 on floor 1), two plans; on 2026-10-10 at 09:00: A01's morning patrol done, A02's in
    progress, A03's due, A01's afternoon patrol upcoming; on 10-09 A02's done late, the others missed."""
    for name in ("leader0", "leader1", "leader2"):
        helpers.make_user(app, name, roles=("grid_leader", "staff"))
    helpers.make_user(app, "boss", roles=("supervisor",))
    helpers.make_user(app, "root", roles=("admin",))
    helpers.make_user(app, "clerk", roles=("staff",))
    grid_builders.make_site(app, grids=grid_builders.two_by_two(
        A01={"leader": "leader0"}, A02={"leader": "leader1"}, A03={"leader": "leader2", "level": 1}))
    with app.app_context(), job_transaction() as session:
        make_template(session)
    morning = make_plan(app, grids=("A01", "A02", "A03"), starts_on=dt.date(2026, 10, 8))
    afternoon = make_plan(app, grids=("A01",), window="14:00", minutes=60, grace=30, starts_on=dt.date(2026, 10, 8))
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        services.materialize(session, NOW, site=site)
        _submit(session, "A01", morning, at("2026-10-10 08:20"))
        _submit(session, "A02", morning, at("2026-10-09 10:30"))
        services.start(session, _patrol(session, "A02", morning, "2026-10-10"), _assignee(session, "A02", morning,
                                                                                          "2026-10-10"),
                       at("2026-10-10 08:40"))
        ids = {"morning": morning, "afternoon": afternoon,
               "leader1": session.scalar(sa.select(Patrol.assignee_id).join(Grid).where(Grid.code == "A02").limit(1))}
    monkeypatch.setattr("gridpatrol.patrols.views.utcnow", lambda: NOW)
    return ids


def _patrol(session, code, plan_id, day) -> Patrol:
    start, end = day_bounds(dt.date.fromisoformat(day), TZ)
    return session.scalar(sa.select(Patrol).join(Grid).where(
        Grid.code == code, Patrol.plan_id == plan_id, Patrol.window_start >= start, Patrol.window_start < end))


def _assignee(session, code, plan_id, day):
    from gridpatrol.accounts.models import User

    return session.get(User, _patrol(session, code, plan_id, day).assignee_id)


def _submit(session, code, plan_id, when):
    patrol = _patrol(session, code, plan_id, when.date().isoformat())
    items = session.scalars(sa.select(TemplateItem).where(TemplateItem.version_id == patrol.template_version_id))
    payload = {"client_uuid": str(uuid.uuid4()), "answers": [{"item_id": i.id, "result": "pass"} for i in items]}
    from gridpatrol.accounts.models import User

    services.submit(session, patrol, session.get(User, patrol.assignee_id), payload, {}, now=when)


def _client(app, username):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    return client


def _total(html: str) -> int:
    return int(re.search(r'data-total="(\d+)"', html).group(1))


def _rows(html: str) -> list[tuple[str, str]]:
    """(grid code, state) of each row."""
    return re.findall(r'<tr data-patrol="\d+" data-state="([a-z_]+)">\s*<td><a class="row-link" [^>]+>([A-Z0-9]+)</a>',
                      html)


def _direct_count(app, first: str, last: str, **where) -> int:
    """Patrols of the site whose window starts on those local days: counted straight from the table."""
    with app.app_context():
        start = day_bounds(dt.date.fromisoformat(first), TZ)[0]
        end = day_bounds(dt.date.fromisoformat(last), TZ)[1]
        query = sa.select(sa.func.count()).select_from(Patrol).join(Grid).where(
            Patrol.window_start >= start, Patrol.window_start < end)
        for column, value in where.items():
            query = query.where({"level": Grid.level, "plan": Patrol.plan_id, "leader": Patrol.assignee_id}[column]
                                == value)
        return db.session.scalar(query)


def test_todays_board_counts_each_state_and_lists_the_patrols(app, world):
    client = _client(app, "boss")
    html = client.get("/s/TEST/patrols/board").get_data(as_text=True)
    assert _total(html) == _direct_count(app, "2026-10-10", "2026-10-10") == 4
    rows = _rows(html)
    assert sorted(rows) == sorted([("done", "A01"), ("in_progress", "A02"), ("due", "A03"), ("upcoming", "A01")])
    counts = dict(re.findall(r'data-state="([a-z_]+)" data-count="(\d+)"', html))
    assert counts == {"upcoming": "1", "due": "1", "in_progress": "1", "late": "0", "missed": "0", "done": "1",
                      "done_late": "0"}
    assert "已完成" in html or "Done" in html
    # Each count links to the board filtered by that state, and that page lists that many patrols.
    for state, count in counts.items():
        href = re.search(rf'<a class="tab state-count" data-state="{state}" data-count="\d+" href="([^"]+)"',
                         html).group(1).replace("&amp;", "&")
        assert f"state={state}" in href and "day=2026-10-10" in href
        page = client.get(href).get_data(as_text=True)
        assert _total(page) == int(count) == len(_rows(page))
        assert all(s == state for s, _code in _rows(page))


def test_filters_by_state_level_plan_leader_and_days(app, world):
    client = _client(app, "boss")

    def total(query):
        response = client.get("/s/TEST/patrols/board?" + query)
        assert response.status_code == 200, query
        return _total(response.get_data(as_text=True))

    assert total("day=2026-10-10&state=upcoming&state=due") == 2
    assert total("day=2026-10-10&level=1") == _direct_count(app, "2026-10-10", "2026-10-10", level=1) == 1
    assert total(f"day=2026-10-10&plan={world['afternoon']}") == 1
    assert total(f"day=2026-10-10&leader={world['leader1']}") == 1
    assert total("day=2026-10-09&state=done_late") == 1
    assert total("day=2026-10-09&state=missed") == 3  # A01, A03 in the morning and A01 in the afternoon
    assert total("from=2026-10-08&to=2026-10-10") == _direct_count(app, "2026-10-08", "2026-10-10") == 12
    assert total(f"from=2026-10-08&to=2026-10-10&plan={world['morning']}&state=missed") == \
        _direct_count(app, "2026-10-08", "2026-10-09", plan=world["morning"]) - 1  # all but the late one
    assert total("day=2026-10-11") == _direct_count(app, "2026-10-11", "2026-10-11")  # tomorrow's, materialised
    assert total("day=2026-10-20") == 0


@pytest.mark.parametrize("query", [
    "day=2026-13-01", "day=yesterday", "from=2026-10-10&to=2026-10-01", "from=2025-01-01&to=2026-10-10",
    "state=bogus", "state=done&state=nope", "level=x", "level=1.5", "plan=abc", "plan=0", "leader=-3", "page=0",
    "page=x", "level=99999999999999999999", "day=9999-12-31", "day=0001-01-01", "from=1999-12-31&to=2000-01-02",
])
def test_bad_filters_are_400(app, world, query):
    response = _client(app, "boss").get("/s/TEST/patrols/board?" + query)
    assert response.status_code == 400
    assert "<html" in response.get_data(as_text=True)


def test_pages_of_the_board(app, world):
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        f = board.BoardFilter(dt.date(2026, 10, 8), dt.date(2026, 10, 10))
        first = board.board(db.session, site, f, NOW, per_page=5)
        second = board.board(db.session, site, board.BoardFilter(f.first_day, f.last_day, page=3), NOW, per_page=5)
    assert first.total == second.total == 12 and first.pages == 3
    assert len(first.rows) == 5 and len(second.rows) == 2
    assert [r.window_start for r in first.rows] == sorted(r.window_start for r in first.rows)


def test_the_board_counts_in_one_query_and_lists_in_another(app, world):
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        with helpers.statements_run(db.engine) as statements:
            board.board(db.session, site, board.BoardFilter(dt.date(2026, 10, 8), dt.date(2026, 10, 10),
                                                            states=("missed",)), NOW)
    assert len(statements) == 2


def test_who_may_see_the_board(app, world):
    assert _client(app, "boss").get("/s/TEST/patrols/board").status_code == 200
    assert _client(app, "root").get("/s/TEST/patrols/board").status_code == 200
    assert _client(app, "leader0").get("/s/TEST/patrols/board").status_code == 403
    assert _client(app, "clerk").get("/s/TEST/patrols/board").status_code == 403
    assert app.test_client().get("/s/TEST/patrols/board").status_code in (302, 401)
    nav = _client(app, "boss").get("/s/TEST/patrols/board").get_data(as_text=True)
    assert 'href="/s/TEST/patrols/board"' in nav
    assert 'href="/s/TEST/patrols/board"' not in _client(app, "leader0").get("/s/TEST/today").get_data(as_text=True)


def test_a_supervisor_sees_only_the_boards_of_their_sites(app, two_sites):
    from tests.sites.builders import NOW as SITES_NOW

    day = SITES_NOW.date().isoformat()
    own = _client(app, "boss_b").get(f"/s/OTHER/patrols/board?day={day}")
    assert own.status_code == 200
    html = own.get_data(as_text=True)
    with app.app_context():
        other_ids = set(db.session.scalars(sa.select(Patrol.id).where(Patrol.site_id == two_sites["OTHER"].site_id)))
    shown = {int(i) for i in re.findall(r'data-patrol="(\d+)"', html)}
    assert shown and shown <= other_ids
    assert _client(app, "boss_b").get(f"/s/TEST/patrols/board?day={day}").status_code == 403
    province = _client(app, "province")
    assert province.get(f"/s/TEST/patrols/board?day={day}").status_code == 200
    assert province.get(f"/s/OTHER/patrols/board?day={day}").status_code == 200
