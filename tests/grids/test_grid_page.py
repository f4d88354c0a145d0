"""The grid page for supervisors: leaders and deputies over time, the last patrols with scores and failed items,
open and recent issues, the leader's points this month — each section only for those who may see what it shows."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import AssignmentRole, Grid
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import grid_page as patrol_sections
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.grids import map_world

NOW = map_world.NOW



def _page(app, username, grid_id, status=200) -> str:
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    response = client.get(f"/s/TEST/grids/{grid_id}")
    assert response.status_code == status
    return response.get_data(as_text=True)


def _section(html: str, name: str) -> str | None:
    found = re.search(rf'<section class="panel grid-section" id="grid-{name}" data-section="{name}">(.*?)</section>',
                      html, re.S)
    return found.group(1) if found else None


def _issue_ids(section: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr data-issue="(\d+)">', section)}


def test_a_supervisor_sees_every_section(app, status_world):
    html = _page(app, "boss", status_world["A02"])
    patrols_html = _section(html, "patrols")
    with app.app_context():
        shown = db.session.scalars(sa.select(Patrol).where(Patrol.grid_id == status_world["A02"],
                                                           Patrol.window_start <= NOW)).all()
        open_ids = set(db.session.scalars(sa.select(Issue.id).where(Issue.grid_id == status_world["A02"])))
    assert {int(i) for i in re.findall(r'data-patrol="(\d+)"', patrols_html)} == {p.id for p in shown}
    assert map_world.FAILED_ITEM_TEXT in patrols_html  # the failed item's words, not its code
    assert re.search(r"<td>70\b", patrols_html)  # its score: 100 × (1+2+4) ÷ (1+2+3+4), item 3 failed
    issues_html = _section(html, "issues")
    assert _issue_ids(issues_html) == open_ids and len(open_ids) == 2  # the patrol's finding and the quick report
    assert f'href="/s/TEST/issues?grid={status_world["A02"]}"' in issues_html
    points_html = _section(html, "points")
    with app.app_context():
        lead2 = db.session.scalar(sa.select(User).where(User.username == "lead2"))
        total = db.session.scalar(sa.select(sa.func.sum(PointsEntry.points)).where(PointsEntry.user_id == lead2.id))
    assert f'data-points-total="{total or 0}"' in points_html
    assert f"/s/TEST/points/me?user={lead2.id}" in points_html


def test_the_overdue_mark_and_recent_closed_issues(app, status_world):
    red = _section(_page(app, "boss", status_world["A01"]), "issues")
    assert "badge badge-warn" in red  # the overdue issue is marked
    green = _section(_page(app, "boss", status_world["A05"]), "issues")
    assert "data-open-total=\"0\"" in green
    with app.app_context():
        closed = db.session.scalar(sa.select(Issue.id).where(Issue.grid_id == status_world["A05"]))
    assert _issue_ids(green) == {closed}  # under "recently closed"


def test_the_grids_leader_sees_their_own_grid_and_points(app, status_world):
    html = _page(app, "lead2", status_world["A02"])
    assert _section(html, "patrols") and _section(html, "issues")
    points = _section(html, "points")
    assert points and "/s/TEST/points/me?month=" in points and "user=" not in points


def test_another_leader_sees_the_grid_but_not_its_patrols_issues_or_points(app, status_world):
    html = _page(app, "lead3", status_world["A02"])
    assert "A02" in html and "Lead2" in html  # the grid page itself is open to everyone of the site
    assert _section(html, "patrols") is None
    assert _section(html, "issues") is None
    assert _section(html, "points") is None


def test_a_reporter_sees_only_their_own_report_and_a_rectifier_only_their_work(app, status_world):
    clerk = _page(app, "clerk", status_world["A02"])
    with app.app_context():
        report = db.session.scalar(sa.select(Issue.id).where(Issue.grid_id == status_world["A02"], Issue.patrol_id.is_(None)))
    assert _issue_ids(_section(clerk, "issues")) == {report}
    assert _section(clerk, "patrols") is None and _section(clerk, "points") is None
    fixer_a01 = _section(_page(app, "fixer", status_world["A01"]), "issues")
    assert fixer_a01 and len(_issue_ids(fixer_a01)) == 1  # dispatched to the fixer's team
    assert _section(_page(app, "fixer", status_world["A02"]), "issues") is None  # not dispatched yet: none of theirs


def test_patrol_section_agrees_with_can_view(app, status_world):
    """The section's rule for one grid is patrols.services.can_view: checked for every user and every patrol."""
    with app.app_context():
        users = db.session.scalars(sa.select(User)).all()
        for code in ("A02", "A03"):
            grid = db.session.get(Grid, status_world[code])
            for user in users:
                condition = patrol_sections.visible_condition(db.session, user, grid)
                query = sa.select(Patrol).where(Patrol.grid_id == grid.id)
                if condition is not None:
                    query = query.where(condition)
                visible = set(db.session.scalars(query))
                allowed = {p for p in db.session.scalars(sa.select(Patrol).where(Patrol.grid_id == grid.id))
                           if patrols.can_view(db.session, user, p)}
                assert visible == allowed, (user.username, code)


def test_leader_and_deputy_history_reads_who_from_and_until(app, status_world):
    with app.app_context(), job_transaction() as session:
        grid = session.get(Grid, status_world["A02"])
        lead3 = session.scalar(sa.select(User).where(User.username == "lead3"))
        lead4 = session.scalar(sa.select(User).where(User.username == "lead4"))
        grid_services.assign(session, grid, lead4, AssignmentRole.DEPUTY, actor=None, at=NOW - dt.timedelta(days=3))
        grid_services.assign(session, grid, lead3, AssignmentRole.LEADER, actor=None, at=NOW - dt.timedelta(days=2),
                             note="轮岗")
    html = _page(app, "boss", status_world["A02"])
    table = re.search(r'<table class="list assignment-history">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr class=\"(current|past)\">(.*?)</tr>", table, re.S)
    assert [kind for kind, _ in rows] == ["current", "current", "past"]
    current_leader, current_deputy, past = (re.sub(r"<[^>]+>", " ", body) for _k, body in rows)
    assert "Lead3" in current_leader and "2026-11-16" in current_leader and "轮岗" in current_leader
    assert "Lead4" in current_deputy and "2026-11-15" in current_deputy
    assert "Lead2" in past and "2026-11-16" in past  # held until the handover


def test_a_supervisor_of_another_site_gets_nothing(app, two_sites):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "boss_b", helpers.DEFAULT_PASSWORD))
    test_grid = two_sites["TEST"].grid_id
    assert client.get(f"/s/TEST/grids/{test_grid}").status_code == 403
    assert client.get(f"/s/OTHER/grids/{test_grid}").status_code == 404
    html = client.get(f"/s/OTHER/grids/{two_sites['OTHER'].grid_id}").get_data(as_text=True)
    assert _section(html, "patrols") is not None and _section(html, "issues") is not None
