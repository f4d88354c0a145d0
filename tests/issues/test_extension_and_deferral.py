"""延期 (a later deadline asked for by the rectifier, decided by a supervisor of the site) and 缓办 (deferral by a
supervisor: out of 应结案数 and never overdue while deferred; resumed with a new deadline), through the services
and over HTTP; the metrics count them (延期数, 缓办数) on hand-computed data.

Every issue here is filed on Wednesday 18 November 2026 09:00 and dispatched at 10:00 (Shanghai): a minor water
problem has 3 working days, so its deadline is Monday 23 November 17:30 (office hours 08:30–17:30)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from gridpatrol.accounts import services as accounts
from gridpatrol.core.errors import DomainError, NotAllowed
from gridpatrol.core.roles import Role
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Site
from gridpatrol.issues import extensions, metrics, queue, services, stats
from gridpatrol.issues.models import ExtensionState, Issue, IssueDeferral, IssueEvent, IssueExtension, IssueState
from gridpatrol.notifications.models import Notification
from tests import helpers
from tests.issues import builders
from tests.issues.builders import at, user

DEADLINE = at("2026-11-23 17:30")


@pytest.fixture
def world(app):
    builders.world(app)
    with app.app_context(), job_transaction() as session:
        other = grid_services.create_site(session, code="OTHER", name="泗水办公区",
                                          boundary=box(121.0, 31.0, 121.01, 31.01))
        accounts.create_user(session, username="boss_other", display_name="Boss Other",
                             password=helpers.DEFAULT_PASSWORD, roles=[(Role.SUPERVISOR, other.id)])


@pytest.fixture
def clock(monkeypatch):
    """The instant the issue views take as now."""
    def set_now(instant: dt.datetime) -> None:
        monkeypatch.setattr("gridpatrol.issues.views.utcnow", lambda: instant)
    return set_now


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def dispatched(app, state="dispatched") -> int:
    issue_id = builders.file_report(app, when="2026-11-18 09:00")
    builders.advance(app, issue_id, state, when="2026-11-18 10:00")
    with app.app_context():
        assert db.session.get(Issue, issue_id).deadline == DEADLINE
    return issue_id


def post(client, path: str, issue_id: int, data: dict):
    return helpers.post_form(client, path, data, token_from=f"/s/TEST/issues/{issue_id}")


def ask(client, issue_id: int, day: str, reason="等待配件到货"):
    return post(client, f"/s/TEST/issues/{issue_id}/extensions", issue_id, {"deadline": day, "reason": reason})


def pending_id(app, issue_id: int) -> int:
    with app.app_context():
        return extensions.pending(db.session, db.session.get(Issue, issue_id)).id


def decide(client, issue_id: int, extension_id: int, decision: str, note=""):
    return post(client, f"/s/TEST/issues/{issue_id}/extensions/{extension_id}/{decision}", issue_id,
                {"note": note})


def events(app, issue_id: int) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.action, e.note) for e in db.session.scalars(
            sa.select(IssueEvent).where(IssueEvent.issue_id == issue_id).order_by(IssueEvent.id))]


def deadline(app, issue_id: int) -> dt.datetime:
    with app.app_context():
        return db.session.get(Issue, issue_id).deadline


# --- 延期 ---------------------------------------------------------------------------------------------------
def test_a_request_waits_and_the_page_shows_it_to_each(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    fixer = client_for(app, "fixer")
    assert 'action="/s/TEST/issues/%d/extensions"' % issue_id in fixer.get(f"/s/TEST/issues/{issue_id}").get_data(
        as_text=True)
    assert ask(fixer, issue_id, "2026-11-30").status_code == 302
    assert deadline(app, issue_id) == DEADLINE  # nothing moves before a decision
    assert events(app, issue_id)[-1] == ("extension_requested", "等待配件到货")
    extension_id = pending_id(app, issue_id)
    with app.app_context():
        request = db.session.get(IssueExtension, extension_id)
        assert request.requested_deadline == at("2026-11-30 17:30") and request.deadline_before == DEADLINE
    page = fixer.get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert f"/extensions/{extension_id}/approve" not in page  # the rectifier sees it waiting, no decision
    assert "2026-11-30 17:30" in page and 'action="/s/TEST/issues/%d/extensions"' % issue_id not in page
    page = client_for(app, "boss").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert f"/extensions/{extension_id}/approve" in page and f"/extensions/{extension_id}/refuse" in page
    assert "等待配件到货" in page
    # The supervisors are told of the request, the rectifier of the decision.
    with app.app_context():
        told = {n.user_id for n in db.session.scalars(sa.select(Notification).where(
            Notification.kind == "extension_requested"))}
        assert told == {user(db.session, name).id for name in ("boss", "boss2")}


def test_a_refusal_leaves_the_deadline(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app, "in_progress")
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30").status_code == 302
    extension_id = pending_id(app, issue_id)
    clock(at("2026-11-20 11:00"))
    assert decide(client_for(app, "boss"), issue_id, extension_id, "refuse", "配件可调拨").status_code == 302
    assert deadline(app, issue_id) == DEADLINE
    assert events(app, issue_id)[-1] == ("extension_refused", "配件可调拨")
    with app.app_context():
        request = db.session.get(IssueExtension, extension_id)
        assert (request.state, request.decided_at, request.decision_note) == ("refused", at("2026-11-20 11:00"),
                                                                              "配件可调拨")
        decided = db.session.scalars(sa.select(Notification).where(Notification.kind == "extension_decided")).all()
        assert [n.user_id for n in decided] == [user(db.session, "fixer").id]
    # Decided once: a second decision on it is refused.
    assert decide(client_for(app, "boss2"), issue_id, extension_id, "approve").status_code == 422
    assert deadline(app, issue_id) == DEADLINE


def test_an_approval_moves_the_deadline(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    assert ask(client_for(app, "fixer2"), issue_id, "2026-11-30").status_code == 302  # a team mate may ask
    extension_id = pending_id(app, issue_id)
    response = decide(client_for(app, "boss"), issue_id, extension_id, "approve")
    assert response.status_code == 302
    assert deadline(app, issue_id) == at("2026-11-30 17:30")
    assert events(app, issue_id)[-1] == ("extension_approved", None)
    with app.app_context():
        assert db.session.get(IssueExtension, extension_id).state == ExtensionState.APPROVED.value
        assert not db.session.get(Issue, issue_id).overdue_at(at("2026-11-25 09:00"))  # the old deadline is gone
    # The timeline says it in words, with the dates.
    page = client_for(app, "fixer").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert "extension_approved" not in page and "2026-11-30 17:30" in page


def test_a_second_request_while_one_waits_is_refused(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30").status_code == 302
    response = ask(client_for(app, "fixer2"), issue_id, "2026-12-04", reason="另一理由")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssueExtension)) == 1
    assert [a for a, _ in events(app, issue_id)].count("extension_requested") == 1


def test_only_the_rectifier_working_on_it_may_ask(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    for name in ("outsider", "boss", "leader0"):  # a rectifier of another crew; a supervisor; the grid's leader
        assert ask(client_for(app, name), issue_id, "2026-11-30").status_code == 403, name
    assert ask(client_for(app, "clerk"), issue_id, "2026-11-30").status_code == 403  # the reporter
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssueExtension)) == 0


@pytest.mark.parametrize("day", ["2026-11-22", "2026-11-23", "2027-06-30", ""])
def test_a_date_not_later_than_the_deadline_or_too_far_is_refused(app, world, clock, day):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    response = ask(client_for(app, "fixer"), issue_id, day)
    assert response.status_code == 422
    assert "等待配件到货" in response.get_data(as_text=True)  # the form keeps what was typed
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssueExtension)) == 0
    assert deadline(app, issue_id) == DEADLINE


def test_a_request_without_a_reason_is_refused(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30", reason="  ").status_code == 422
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError):
            extensions.request(session, session.get(Issue, issue_id), user(session, "fixer"), reason="",
                               deadline=dt.date(2026, 11, 30), now=at("2026-11-20 09:00"))


def test_a_supervisor_of_another_site_may_not_decide(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30").status_code == 302
    extension_id = pending_id(app, issue_id)
    assert client_for(app, "boss_other").post(
        f"/s/TEST/issues/{issue_id}/extensions/{extension_id}/approve").status_code == 403
    assert decide(client_for(app, "fixer"), issue_id, extension_id, "approve").status_code == 403  # nor the asker
    with app.app_context(), job_transaction() as session:
        with pytest.raises(NotAllowed):
            extensions.decide(session, session.get(Issue, issue_id), session.get(IssueExtension, extension_id),
                              user(session, "boss_other"), approve=True, now=at("2026-11-20 10:00"))
    assert deadline(app, issue_id) == DEADLINE


# --- 缓办 ---------------------------------------------------------------------------------------------------
def test_deferral_stops_the_clock_and_a_resume_gives_back_the_time_left(app, world, clock):
    issue_id = dispatched(app, "in_progress")
    clock(at("2026-11-20 09:00"))  # Friday: 8.5 h today and 9 h on Monday were left
    response = post(client_for(app, "boss"), f"/s/TEST/issues/{issue_id}/defer", issue_id,
                    {"note": "等待预算批复", "version": _version(app, issue_id)})
    assert response.status_code == 302
    later = at("2026-11-26 09:00")  # after the old deadline
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.state == IssueState.DEFERRED.value and issue.deadline == DEADLINE
        assert not issue.overdue_at(later)
        deferral = db.session.scalar(sa.select(IssueDeferral))
        assert deferral.remaining_hours == 17.5 and deferral.reason == "等待预算批复"
        site = issue.site
        assert stats.overdue_by_site(db.session, [site.id], later) == {site.id: 0}
        counts = queue.counts_by_state(db.session, user(db.session, "boss"), queue.QueueFilter(site_id=site.id), later)
        assert counts["deferred"] == 1 and counts["overdue"] == 0
        rows, _total = queue.page(db.session, user(db.session, "boss"), queue.QueueFilter(site_id=site.id), later)
        assert [(r.id, r.overdue) for r in rows] == [(issue_id, False)]  # in the 整改台账, not overdue
    assert events(app, issue_id)[-1] == ("defer", "等待预算批复")
    page = client_for(app, "boss").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    resume_form = page[page.index(f'action="/s/TEST/issues/{issue_id}/resume"'):]
    assert 'type="date"' in resume_form[:resume_form.index("</form>")]  # a new deadline may be given
    assert "等待预算批复" in page and f"/s/TEST/issues/{issue_id}/report_fix" not in page
    assert f'action="/s/TEST/issues/{issue_id}/resume"' not in client_for(app, "fixer").get(
        f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    # Nothing but a resume (and comments) while deferred: the rectifier cannot report it fixed.
    assert post(client_for(app, "fixer"), f"/s/TEST/issues/{issue_id}/report_fix", issue_id,
                {"note": "修好了", "version": _version(app, issue_id)}).status_code in (403, 422)
    # Resumed on Monday 30 November 09:00 with no date: 17.5 working hours from then is Tuesday 1 December 17:30.
    clock(at("2026-11-30 09:00"))
    response = post(client_for(app, "boss"), f"/s/TEST/issues/{issue_id}/resume", issue_id,
                    {"note": "预算已批", "version": _version(app, issue_id)})
    assert response.status_code == 302
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.state == IssueState.DISPATCHED.value and issue.deadline == at("2026-12-01 17:30")
        deferral = db.session.scalar(sa.select(IssueDeferral))
        assert deferral.resumed_at == at("2026-11-30 09:00") and deferral.deadline_after == issue.deadline
    assert events(app, issue_id)[-1] == ("resume", "预算已批")


def test_a_resume_with_a_date_and_one_overdue_when_deferred(app, world, clock):
    issue_id = dispatched(app)
    with app.app_context(), job_transaction() as session:  # deferred when already overdue: no time was left
        services.defer(session, session.get(Issue, issue_id), user(session, "boss"), note="等待预算",
                       now=at("2026-11-25 09:00"))
    clock(at("2026-12-01 09:00"))
    boss = client_for(app, "boss")
    response = post(boss, f"/s/TEST/issues/{issue_id}/resume", issue_id, {"version": _version(app, issue_id)})
    assert response.status_code == 422  # it must be given a date
    assert post(boss, f"/s/TEST/issues/{issue_id}/resume", issue_id,
                {"version": _version(app, issue_id), "deadline": "2026-11-30"}).status_code == 422  # in the past
    assert post(boss, f"/s/TEST/issues/{issue_id}/resume", issue_id,
                {"version": _version(app, issue_id), "deadline": "2026-12-10"}).status_code == 302
    assert deadline(app, issue_id) == at("2026-12-10 17:30")


def test_deferral_is_for_supervisors_of_the_site(app, world, clock):
    issue_id = dispatched(app)
    clock(at("2026-11-20 09:00"))
    for name in ("fixer", "leader0"):
        assert post(client_for(app, name), f"/s/TEST/issues/{issue_id}/defer", issue_id,
                    {"note": "等待预算", "version": _version(app, issue_id)}).status_code == 403, name
    assert client_for(app, "boss_other").post(f"/s/TEST/issues/{issue_id}/defer",
                                              data={"note": "x"}).status_code == 403
    with app.app_context(), job_transaction() as session:
        with pytest.raises(NotAllowed):
            services.defer(session, session.get(Issue, issue_id), user(session, "boss_other"), note="等待预算",
                           now=at("2026-11-20 09:00"))
    assert post(client_for(app, "boss"), f"/s/TEST/issues/{issue_id}/defer", issue_id,
                {"note": " ", "version": _version(app, issue_id)}).status_code == 422  # a reason is needed
    with app.app_context():
        assert db.session.get(Issue, issue_id).state == IssueState.DISPATCHED.value


def test_a_deferral_closes_a_waiting_request(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app)
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30").status_code == 302
    extension_id = pending_id(app, issue_id)
    with app.app_context(), job_transaction() as session:
        services.defer(session, session.get(Issue, issue_id), user(session, "boss"), note="等待预算",
                       now=at("2026-11-20 10:00"))
    with app.app_context():
        assert db.session.get(IssueExtension, extension_id).state == ExtensionState.LAPSED.value
    assert [a for a, _ in events(app, issue_id)][-2:] == ["extension_lapsed", "defer"]
    assert decide(client_for(app, "boss"), issue_id, extension_id, "approve").status_code == 422


def _version(app, issue_id: int) -> int:
    with app.app_context():
        return db.session.get(Issue, issue_id).version


# --- metrics ----------------------------------------------------------------------------------------------
NOVEMBER = (at("2026-11-01 00:00"), at("2026-12-01 00:00"))
DECEMBER = (at("2026-12-01 00:00"), at("2027-01-01 00:00"))


def _overall(app, period, as_of):
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        return metrics.metrics(db.session, site, *period, as_of=as_of)[0]


def test_four_due_one_deferred_gives_a_close_rate_over_three(app, world):
    """Four issues due on 23 November: two closed on the 19th, one deferred on the 20th (resumed on the 30th),
    one left open."""
    ids = [dispatched(app) for _ in range(4)]
    for issue_id in ids[:2]:
        builders.advance(app, issue_id, "closed", when="2026-11-19 10:00")
    with app.app_context(), job_transaction() as session:
        services.defer(session, session.get(Issue, ids[2]), user(session, "boss"), note="等待预算",
                       now=at("2026-11-20 09:00"))

    def check(as_of, *, due, deferred, overdue):
        row = _overall(app, NOVEMBER, as_of)
        assert (row.due, row.closed, row.closed_on_time, row.deferred, row.overdue) == (due, 2, 2, deferred, overdue)
        assert row.close_rate == pytest.approx(2 / due) and row.on_time_rate == pytest.approx(2 / due)
        with app.app_context():
            site = db.session.get(Issue, ids[0]).site
            figures = metrics.period_figures(db.session, [site.id], {"nov": NOVEMBER}, as_of=as_of)[site.id, "nov"]
        assert (figures.due, figures.closed, figures.deferred) == (due, 2, deferred)

    check(at("2026-11-19 12:00"), due=4, deferred=0, overdue=0)  # before the deferral
    check(at("2026-11-27 12:00"), due=3, deferred=1, overdue=1)  # 2 ÷ 3; the deferred one is not overdue
    with app.app_context(), job_transaction() as session:
        services.resume(session, session.get(Issue, ids[2]), user(session, "boss"), now=at("2026-11-30 09:00"))
    check(at("2026-11-27 12:00"), due=3, deferred=1, overdue=1)  # the same report after the resume
    # Resumed: due by its new deadline (1 December 17:30), in December; overdue (open at as_of, past its deadline)
    # are the open one and the resumed one.
    check(at("2026-12-05 00:00"), due=3, deferred=0, overdue=2)
    december = _overall(app, DECEMBER, at("2026-12-05 00:00"))
    assert (december.due, december.deferred, december.overdue) == (1, 0, 2)  # due 1 Dec 17:30, open, overdue


def test_an_approved_extension_counts_and_moves_the_deadline_for_on_time(app, world):
    """One issue due 23 November, extended on 20 November to 2 December, closed on 2 December 10:00: on time by
    the deadline in force; 延期数 1 in November."""
    issue_id = dispatched(app)
    refused_id = dispatched(app)
    with app.app_context(), job_transaction() as session:
        issue, fixer, boss = session.get(Issue, issue_id), user(session, "fixer"), user(session, "boss")
        request = extensions.request(session, issue, fixer, reason="配件缺货", deadline=dt.date(2026, 12, 2),
                                     now=at("2026-11-20 09:00"))
        extensions.decide(session, issue, request, boss, approve=True, now=at("2026-11-20 10:00"))
        other = session.get(Issue, refused_id)
        request = extensions.request(session, other, fixer, reason="配件缺货", deadline=dt.date(2026, 12, 2),
                                     now=at("2026-11-20 09:00"))
        extensions.decide(session, other, request, boss, approve=False, now=at("2026-11-20 10:00"))
    builders.advance(app, issue_id, "closed", when="2026-12-02 10:00")
    november = _overall(app, NOVEMBER, at("2026-12-05 00:00"))
    assert (november.due, november.extended, november.closed) == (1, 1, 0)  # only the refused one is due
    december = _overall(app, DECEMBER, at("2026-12-05 00:00"))
    assert (december.due, december.closed, december.closed_on_time, december.extended) == (1, 1, 1, 0)
    assert december.on_time_rate == 1.0
    assert _overall(app, NOVEMBER, at("2026-11-20 09:30")).extended == 0  # not yet approved then
    with app.app_context():
        site = db.session.get(Issue, issue_id).site
        figures = metrics.period_figures(db.session, [site.id], {"nov": NOVEMBER, "dec": DECEMBER},
                                         as_of=at("2026-12-05 00:00"))
    assert (figures[site.id, "nov"].extended, figures[site.id, "dec"].closed_on_time) == (1, 1)


def test_the_metrics_page_shows_deferred_and_extended(app, world, clock):
    app.config["DEFAULT_LOCALE"] = "en"
    ids = [dispatched(app) for _ in range(2)]
    with app.app_context(), job_transaction() as session:
        services.defer(session, session.get(Issue, ids[0]), user(session, "boss"), note="等待预算",
                       now=at("2026-11-20 09:00"))
        request = extensions.request(session, session.get(Issue, ids[1]), user(session, "fixer"), reason="缺货",
                                     deadline=dt.date(2026, 11, 27), now=at("2026-11-20 09:00"))
        extensions.decide(session, session.get(Issue, ids[1]), request, user(session, "boss"), approve=True,
                          now=at("2026-11-20 10:00"))
    clock(at("2026-11-28 12:00"))
    html = client_for(app, "boss").get("/s/TEST/issues/metrics?period=2026-11").get_data(as_text=True)
    head = html[html.index("<thead>"):html.index("</thead>")]
    headers = [h.split(">")[-1] for h in head.split("</th>")[:-1]]
    total = html[html.index('class="total-row"'):]
    cells = [c.split(">")[-1] for c in total[:total.index("</tr>")].split("</td>")[:-1]]
    by_header = dict(zip(headers, cells))
    assert by_header["Deferred (out of due)"] == "1" and by_header["Extended"] == "1"
    assert by_header["Due to close"] == "1"  # the extended one, due 27 November; the deferred one left out


def test_the_queue_counts_a_deferred_issue_as_open_under_its_own_tab(app, world, clock):
    app.config["DEFAULT_LOCALE"] = "en"
    deferred_id, other_id = dispatched(app), dispatched(app)
    with app.app_context(), job_transaction() as session:
        services.defer(session, session.get(Issue, deferred_id), user(session, "boss"), note="等待预算",
                       now=at("2026-11-20 09:00"))
    clock(at("2026-11-26 09:00"))  # both past 23 November: only the other one is overdue
    html = client_for(app, "boss").get("/s/TEST/issues").get_data(as_text=True)
    assert "Open (2)" in html and "Deferred (1)" in html and "Overdue (1)" in html
    deferred_only = client_for(app, "boss").get("/s/TEST/issues?state=deferred").get_data(as_text=True)
    assert f'href="/s/TEST/issues/{deferred_id}"' in deferred_only
    assert f'href="/s/TEST/issues/{other_id}"' not in deferred_only


def test_a_request_still_waiting_when_the_issue_closes_is_no_longer_shown(app, world, clock):
    clock(at("2026-11-20 09:00"))
    issue_id = dispatched(app, "in_progress")
    assert ask(client_for(app, "fixer"), issue_id, "2026-11-30").status_code == 302
    builders.advance(app, issue_id, "closed", when="2026-11-20 10:00")
    page = client_for(app, "boss").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert 'id="extension"' not in page
    assert decide(client_for(app, "boss"), issue_id, pending_id(app, issue_id), "approve").status_code == 422
    assert deadline(app, issue_id) == DEADLINE
