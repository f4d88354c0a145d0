"""The workflow table (issues/workflow.py) drives the services, the issue page and the view; facts decided at a
transition are stored on the issue; a team nobody in can act is refused; a page links only what its reader may
open."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import url_for

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team, TeamKind
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import forms, services, workflow
from gridpatrol.issues.models import OPEN_STATES, Issue, IssueState, Severity
from gridpatrol.issues.workflow import Action, Who
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.issues import builders
from tests.issues.builders import at, user


@pytest.fixture
def world(app):
    builders.world(app)


def url(app, endpoint: str, **values) -> str:
    """The endpoint's path, with the site's code if its route names one."""
    with app.app_context():
        code = db.session.scalar(sa.select(Site.code))
    with app.test_request_context():
        rule = next(app.url_map.iter_rules(endpoint))
        if "site" in rule.arguments:
            values.setdefault("site", code)
        return url_for(endpoint, **values)


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


# --- the table itself ----------------------------------------------------------------------------------
def test_every_action_has_one_service_function_and_an_existing_form():
    assert set(services._PERFORMERS) == set(Action)
    for t in workflow.TRANSITIONS:
        assert hasattr(forms, t.form), t
        assert workflow.for_action(t.action).form == t.form  # one form, label and place per action
        assert str(workflow.for_action(t.action).label) == str(t.label)
        assert workflow.for_action(t.action).place is t.place
    assert set(services.WHO) == set(Who)


def test_open_states_are_those_with_something_left_to_do():
    assert set(workflow.open_states()) == set(OPEN_STATES)
    assert all(workflow.transition(s, Action.COMMENT) for s in IssueState)  # a comment is always possible


# Who each predicate admits among the builders' users, for an issue filed by clerk in A01 (leader0's grid),
# dispatched to the crew of fixer and fixer2; fixer reports the fix.
def _admitted(state: IssueState) -> dict[Who, set[str]]:
    supervisors = {"boss", "boss2", "root"}
    dispatched = state not in (IssueState.REPORTED, IssueState.REJECTED)
    crew = {"fixer", "fixer2"} if dispatched else set()
    return {
        Who.SUPERVISOR: supervisors,
        Who.RECTIFIER: crew,
        Who.VERIFIER: (supervisors | {"leader0"}) - {"fixer"},
        Who.VIEWER: supervisors | {"clerk", "leader0"} | crew,
    }


STATE_PATHS = {
    IssueState.REPORTED: "reported", IssueState.DISPATCHED: "dispatched", IssueState.IN_PROGRESS: "in_progress",
    IssueState.AWAITING_VERIFICATION: "awaiting_verification", IssueState.CLOSED: "closed",
    IssueState.REJECTED: None, IssueState.DEFERRED: "deferred",
}


@pytest.mark.parametrize("state", list(IssueState), ids=lambda s: s.value)
def test_the_table_decides_who_may_do_what_in_each_state(app, world, state):
    issue_id = builders.file_report(app)
    if state is IssueState.REJECTED:
        with app.app_context(), job_transaction() as session:
            services.reject(session, session.get(Issue, issue_id), user(session, "boss"), reason="invalid",
                            note="无效", now=at("2026-11-18 10:00"))
    else:
        builders.advance(app, issue_id, STATE_PATHS[state])
    admitted = _admitted(state)
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert IssueState(issue.state) is state
        for name in builders.USERS:
            expected = {t.action for t in workflow.transitions_from(state) if name in admitted[t.who]}
            assert services.allowed_actions(db.session, user(db.session, name), issue) == expected, name


def test_the_table_as_written_for_a_few_roles(app, world):
    """Not only self-consistent: what the rules of the compound say, spelt out."""
    issue_id = builders.file_report(app)
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert services.allowed_actions(db.session, user(db.session, "boss"), issue) == {
            Action.DISPATCH, Action.REJECT, Action.COMMENT}
        assert services.allowed_actions(db.session, user(db.session, "clerk"), issue) == {Action.COMMENT}
        assert services.allowed_actions(db.session, user(db.session, "outsider"), issue) == set()
    builders.advance(app, issue_id, "awaiting_verification")
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert services.allowed_actions(db.session, user(db.session, "fixer"), issue) == {Action.COMMENT}
        assert services.allowed_actions(db.session, user(db.session, "leader0"), issue) == {
            Action.VERIFY_PASS, Action.VERIFY_FAIL, Action.COMMENT}


def test_an_action_from_a_state_without_that_row_is_refused(app, world):
    app.config["DEFAULT_LOCALE"] = "en"
    issue_id = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError, match="cannot be done"):
            services.perform(session, session.get(Issue, issue_id), user(session, "fixer"), Action.START,
                             now=at("2026-11-18 10:00"), note=None)


def test_the_issue_page_shows_one_form_per_allowed_action(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "awaiting_verification")
    page = client_for(app, "leader0").get(url(app, "issues.show", issue_id=issue_id)).get_data(as_text=True)
    for action in ("verify_pass", "verify_fail", "comment"):
        assert page.count(url(app, "issues.act", issue_id=issue_id, action=action) + '"') == 1, action
    assert "/dispatch\"" not in page and "/start\"" not in page
    page = client_for(app, "fixer").get(url(app, "issues.show", issue_id=issue_id)).get_data(as_text=True)
    assert "verify_pass" not in page and url(app, "issues.act", issue_id=issue_id, action="comment") in page


# --- the transition signal ---------------------------------------------------------------------------------
def test_every_transition_sends_issue_transitioned(app, world):
    received = []

    def listener(session, **kwargs):
        received.append((kwargs["action"], kwargs["from_state"], kwargs["to_state"], kwargs["actor"].username,
                         kwargs["note"], kwargs["issue"].id, kwargs["now"]))

    services.issue_transitioned.connect(listener)
    try:
        issue_id = builders.file_report(app)
        builders.advance(app, issue_id, "closed")
        with app.app_context(), job_transaction() as session:
            services.comment(session, session.get(Issue, issue_id), user(session, "clerk"), "谢谢", now=at("2026-11-19 09:00"))
    finally:
        services.issue_transitioned.disconnect(listener)
    assert [(a, f, t, who) for a, f, t, who, *_ in received] == [
        (Action.DISPATCH, IssueState.REPORTED, IssueState.DISPATCHED, "boss"),
        (Action.START, IssueState.DISPATCHED, IssueState.IN_PROGRESS, "fixer"),
        (Action.REPORT_FIX, IssueState.IN_PROGRESS, IssueState.AWAITING_VERIFICATION, "fixer"),
        (Action.VERIFY_PASS, IssueState.AWAITING_VERIFICATION, IssueState.CLOSED, "boss"),
        (Action.COMMENT, IssueState.CLOSED, IssueState.CLOSED, "clerk")]
    assert received[2][4] == "已更换阀芯" and received[4][4] == "谢谢"
    assert {r[5] for r in received} == {issue_id} and received[0][6] == at("2026-11-18 10:00")


# --- facts decided at acceptance ---------------------------------------------------------------------------
def test_accepted_severity_is_stored_sent_and_booked(app, world):
    seen = []

    def listener(session, **kwargs):
        seen.append((kwargs["accepted_severity"], kwargs["accepted_at"]))

    issue_id = builders.file_report(app)
    services.issue_accepted.connect(listener)
    try:
        with app.app_context(), job_transaction() as session:
            services.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                              team=builders.team(session), severity="major", now=at("2026-11-18 10:00"))
    finally:
        services.issue_accepted.disconnect(listener)
    assert seen == [(Severity.MAJOR, at("2026-11-18 10:00"))]
    # A later re-dispatch may change the severity of the work; what the finder earned stays.
    with app.app_context(), job_transaction() as session:
        services.redispatch(session, session.get(Issue, issue_id), user(session, "boss2"),
                            team=builders.team(session), severity="critical", now=at("2026-11-18 11:00"))
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert (issue.severity, issue.accepted_severity, issue.accepted_at) == (
            "critical", "major", at("2026-11-18 10:00"))
        booked = db.session.scalars(sa.select(PointsEntry.rule_code).where(
            PointsEntry.source_type == "issue", PointsEntry.source_id == issue_id)).all()
        assert "issue_found_major" in booked and "issue_found_critical" not in booked


def test_points_read_the_accepted_severity_from_the_issue_not_from_events(app, world):
    from gridpatrol.points import services as points

    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "dispatched")
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        for event in issue.events:
            event.data = {}  # whatever the events say, the issue holds the fact
        session.flush()
        assert points.accepted_severity(issue) == "minor"
        issue.accepted_severity = Severity.CRITICAL.value
        assert points.accepted_severity(issue) == "critical"


# --- a team nobody in can act ------------------------------------------------------------------------------
def _empty_team(app, name="空班组", *, member=None) -> int:
    with app.app_context(), job_transaction() as session:
        team = accounts.save_team(session, None, name=name, kind=TeamKind.VENDOR, phone=None, active=True,
                                  actor=None)
        if member is not None:
            person = user(session, member)
            person.teams.append(team)
        session.flush()
        return team.id


def _snapshot(app, issue_id):
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        return (issue.state, issue.team_id, issue.deadline, issue.accepted_severity, issue.version,
                [e.action for e in issue.events])


@pytest.mark.parametrize("member", [None, "clerk", "inactive fixer"])
def test_dispatch_to_a_team_nobody_in_can_act_is_refused(app, world, member):
    if member == "inactive fixer":
        helpers.make_user(app, "retired", roles=("rectifier",))
        with app.app_context(), job_transaction() as session:
            user(session, "retired").active = False
        member = "retired"
    team_id = _empty_team(app, member=member)
    issue_id = builders.file_report(app)
    before = _snapshot(app, issue_id)
    boss = client_for(app, "boss")
    page_url = url(app, "issues.show", issue_id=issue_id)
    response = helpers.post_form(boss, url(app, "issues.act", issue_id=issue_id, action="dispatch"),
                                 {"version": str(before[4]), "team_id": str(team_id), "assignee_id": "0",
                                  "severity": "minor", "note": ""}, token_from=page_url)
    assert response.status_code == 422
    assert "空班组" in response.get_data(as_text=True)
    assert _snapshot(app, issue_id) == before
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError, match="空班组"):
            services.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                              team=session.get(Team, team_id), now=at("2026-11-18 10:00"))


def test_bulk_dispatch_to_a_team_nobody_in_can_act_is_refused(app, world):
    team_id = _empty_team(app)
    first, second = builders.file_report(app, "clerk"), builders.file_report(app, "clerk2")
    before = [_snapshot(app, first), _snapshot(app, second)]
    boss = client_for(app, "boss")
    queue = url(app, "issues.index")
    response = boss.post(url(app, "issues.bulk_dispatch"), data={
        "csrf_token": helpers.csrf_token(boss, queue), "team_id": str(team_id), "issue": [str(first), str(second)]})
    assert response.status_code == 422
    assert "空班组" in response.get_data(as_text=True)
    assert [_snapshot(app, first), _snapshot(app, second)] == before


def test_a_team_with_one_active_rectifier_may_be_sent_work(app, world):
    team_id = _empty_team(app, member="outsider")
    issue_id = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        services.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                          team=session.get(Team, team_id), now=at("2026-11-18 10:00"))
    assert _snapshot(app, issue_id)[:2] == ("dispatched", team_id)


# --- links only to what the reader may open ----------------------------------------------------------------
def test_the_patrol_link_is_shown_only_to_who_may_open_the_patrol(app):
    from gridpatrol.patrols import services as patrols
    from gridpatrol.patrols.models import Patrol
    from tests.patrols import builders as patrol_builders

    patrol_builders.compound(app)
    helpers.make_user(app, "boss", roles=("supervisor",))
    helpers.make_user(app, "fixer", roles=("rectifier",))
    patrol_builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    patrol_builders.materialize(app, patrol_builders.at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        patrol = session.scalar(sa.select(Patrol))
        items = [i.id for i in patrol.template_version.items]
        results = ("pass", "fail", "pass", "pass")  # item 2 fails: no photo needed
        body = {"client_uuid": str(uuid.uuid4()), "completed_at": patrol_builders.at("2026-11-02 09:00").isoformat(),
                "answers": [{"item_id": i, "result": r} for i, r in zip(items, results)]}
        patrols.submit(session, patrol, user(session, "leader0"), body, {},
                       now=patrol_builders.at("2026-11-02 09:01"))
        issue = session.scalar(sa.select(Issue))
        team = accounts.save_team(session, None, name="维修班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        fixer = user(session, "fixer")
        fixer.teams.append(team)
        session.flush()
        services.dispatch(session, issue, user(session, "boss"), team=team,
                          now=patrol_builders.at("2026-11-02 10:00"))
        issue_id, patrol_id = issue.id, patrol.id
    patrol_url = url(app, "patrols.show", patrol_id=patrol_id)
    page_url = url(app, "issues.show", issue_id=issue_id)
    for name, may in (("boss", True), ("leader0", True), ("fixer", False)):
        client = client_for(app, name)
        assert (client.get(patrol_url).status_code == 200) is may, name
        page = client.get(page_url)
        assert page.status_code == 200
        assert (f'href="{patrol_url}"' in page.get_data(as_text=True)) is may, name


def test_no_patrol_link_for_a_quick_report(app, world):
    issue_id = builders.file_report(app)
    page = client_for(app, "boss").get(url(app, "issues.show", issue_id=issue_id)).get_data(as_text=True)
    # The menu links to the patrol board (/patrols/board); no link leads to a patrol (/patrols/<id>).
    assert re.search(r"/patrols/\d", page) is None


# --- migration 0008 fills the facts of issues accepted before it --------------------------------------------
def test_migration_fills_accepted_facts_from_the_first_dispatch(app, world):
    from flask_migrate import downgrade, upgrade

    accepted, waiting, rejected = (builders.file_report(app, "clerk"), builders.file_report(app, "clerk2"),
                                   builders.file_report(app, "leader0"))
    with app.app_context(), job_transaction() as session:
        services.dispatch(session, session.get(Issue, accepted), user(session, "boss"), team=builders.team(session),
                          severity="major", now=at("2026-11-18 10:00"))
        services.redispatch(session, session.get(Issue, accepted), user(session, "boss"),
                            team=builders.team(session), severity="critical", now=at("2026-11-18 11:00"))
        services.reject(session, session.get(Issue, rejected), user(session, "boss"), reason="invalid", note="无效",
                        now=at("2026-11-18 10:00"))
    with app.app_context():
        downgrade(revision="0007_queue_indexes")
        db.engine.dispose()
        upgrade()
        db.engine.dispose()
    with app.app_context():
        facts = {i.id: (i.accepted_severity, i.accepted_at) for i in db.session.scalars(sa.select(Issue))}
    assert facts == {accepted: ("major", at("2026-11-18 10:00")), waiting: (None, None), rejected: (None, None)}
