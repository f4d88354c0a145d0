"""The rectification workflow: lifecycle, rework, rejections, deadlines, permissions, concurrency."""

import threading

import pytest
import sqlalchemy as sa

from gridpatrol.core.errors import ConflictError, DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import services
from gridpatrol.issues.models import Issue, IssueEvent
from tests.issues import builders
from tests.issues.builders import at, jpeg, user


@pytest.fixture(autouse=True)
def english_messages(app):
    """These tests read refusal messages in English; the Chinese catalogue has its own tests."""
    app.config["DEFAULT_LOCALE"] = "en"


@pytest.fixture
def world(app):
    builders.world(app)


def _issue(app, issue_id) -> Issue:
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        issue.events, issue.photos  # load while the session is open
        return issue


def test_full_lifecycle_writes_an_event_per_transition(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "closed")
    issue = _issue(app, issue_id)
    assert issue.state == "closed" and issue.grid.code == "A01"
    assert [(e.action, e.from_state, e.to_state) for e in issue.events] == [
        ("reported", None, "reported"), ("dispatch", "reported", "dispatched"),
        ("start", "dispatched", "in_progress"), ("report_fix", "in_progress", "awaiting_verification"),
        ("verify_pass", "awaiting_verification", "closed")]
    assert sorted(p.kind for p in issue.photos) == ["after", "before"]
    assert issue.closed_at == at("2026-11-18 10:00") and issue.rework_count == 0


def test_rework_loop(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "awaiting_verification")
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        with pytest.raises(DomainError, match="still wrong"):
            services.verify(session, issue, user(session, "leader0"), passed=False, note="", now=at("2026-11-18 11:00"))
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        services.verify(session, issue, user(session, "leader0"), passed=False, note="仍在滴水", now=at("2026-11-18 11:00"))
    assert _issue(app, issue_id).state == "in_progress" and _issue(app, issue_id).rework_count == 1
    builders.advance(app, issue_id, "closed", when="2026-11-18 15:00")
    issue = _issue(app, issue_id)
    assert [e.action for e in issue.events] == ["reported", "dispatch", "start", "report_fix", "rework",
                                                "report_fix", "verify_pass"]
    assert issue.state == "closed" and issue.rework_count == 1


@pytest.mark.parametrize("reason, needs_duplicate", [("invalid", False), ("duplicate", True), ("not_ours", False)])
def test_every_reject_reason(app, world, reason, needs_duplicate):
    first = builders.file_report(app)
    second = builders.file_report(app, "clerk2")
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, second)
        boss = user(session, "boss")
        with pytest.raises(DomainError):  # a reason in words is always required
            services.reject(session, issue, boss, reason=reason, note=" ", now=at("2026-11-18 10:00"),
                            duplicate_of=session.get(Issue, first))
        if needs_duplicate:
            with pytest.raises(DomainError, match="duplicates"):
                services.reject(session, issue, boss, reason=reason, note="同一漏水点", now=at("2026-11-18 10:00"))
        services.reject(session, issue, boss, reason=reason, note="同一漏水点", now=at("2026-11-18 10:00"),
                        duplicate_of=session.get(Issue, first) if needs_duplicate else None)
    issue = _issue(app, second)
    assert issue.state == "rejected" and issue.reject_reason == reason
    assert issue.events[-1].data["reason"] == reason and issue.events[-1].note == "同一漏水点"
    assert issue.duplicate_of_id == (first if needs_duplicate else None)


def test_unknown_reject_reason_is_refused(app, world):
    issue_id = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError):
            services.reject(session, session.get(Issue, issue_id), user(session, "boss"), reason="bored", note="x",
                            now=at("2026-11-18 10:00"))
    assert _issue(app, issue_id).state == "reported"


@pytest.mark.parametrize("severity, dispatched, deadline", [
    ("minor", "2026-11-20 10:00", "2026-11-25 17:30"),  # 3 working days from Friday: Mon, Tue, Wed
    ("major", "2026-09-30 10:00", "2026-10-08 17:30"),  # 1 working day across the National Day holiday
    ("critical", "2026-10-09 16:00", "2026-10-10 11:00"),  # 4 working hours into the 调休 Saturday
    ("critical", "2026-11-21 10:00", "2026-11-23 12:30"),  # reported on a Saturday: counted from Monday 08:30
])
def test_deadline_is_set_at_dispatch_in_working_time(app, world, severity, dispatched, deadline):
    issue_id = builders.file_report(app, when="2026-09-01 09:00")
    with app.app_context(), job_transaction() as session:
        services.dispatch(session, session.get(Issue, issue_id), user(session, "boss"), team=builders.team(session),
                          severity=severity, now=at(dispatched))
    assert _issue(app, issue_id).deadline == at(deadline)


def test_site_time_limit_table_is_used(app, world):
    from gridpatrol.grids.models import Site

    with app.app_context(), job_transaction() as session:
        services.set_time_limit(session, session.scalar(sa.select(Site)), "water_power", "minor", 2, "hours",
                                actor=user(session, "root"))
    issue_id = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        services.dispatch(session, session.get(Issue, issue_id), user(session, "boss"), team=builders.team(session),
                          now=at("2026-11-18 16:30"))
    assert _issue(app, issue_id).deadline == at("2026-11-19 09:30")


def test_overdue_is_derived(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "dispatched", when="2026-11-18 10:00")
    issue = _issue(app, issue_id)
    assert not issue.overdue_at(at("2026-11-23 17:00")) and issue.overdue_at(at("2026-11-23 17:31"))


# --- permissions: every transition for every role --------------------------------------------------------
TRANSITIONS = {
    # state the issue is in → action → users allowed
    "reported": {"dispatch": {"boss", "boss2", "root"}, "reject": {"boss", "boss2", "root"}},
    "dispatched": {"start": {"fixer", "fixer2"}},
    "in_progress": {"report_fix": {"fixer", "fixer2"}},
    "awaiting_verification": {"verify_pass": {"boss", "boss2", "root", "leader0"},
                              "verify_fail": {"boss", "boss2", "root", "leader0"}},
}


@pytest.mark.parametrize("state, action", [(s, a) for s, actions in TRANSITIONS.items() for a in actions])
def test_who_may_make_each_transition(app, world, state, action):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, state)
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        allowed = {name for name in builders.USERS
                   if action in services.allowed_actions(db.session, user(db.session, name), issue)}
    expected = TRANSITIONS[state][action]
    if action.startswith("verify"):
        expected = expected - {"fixer"}  # whoever reported the fix never verifies it
    assert allowed == expected


def test_rectifier_cannot_verify_their_own_fix_even_as_supervisor(app, world):
    from gridpatrol.accounts.models import UserRole

    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "awaiting_verification")
    with app.app_context(), job_transaction() as session:
        fixer = user(session, "fixer")
        fixer.role_rows.append(UserRole(role="supervisor"))  # the same person also supervises
        session.flush()
        with pytest.raises(services.NotAllowed):
            services.verify(session, session.get(Issue, issue_id), fixer, passed=True, now=at("2026-11-18 12:00"))


def test_transition_from_the_wrong_state_changes_nothing(app, world):
    issue_id = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError, match="cannot be done"):
            services.verify(session, session.get(Issue, issue_id), user(session, "boss"), passed=True,
                            now=at("2026-11-18 12:00"))
    assert [e.action for e in _issue(app, issue_id).events] == ["reported"]


def test_stale_page_is_refused(app, world):
    issue_id = builders.file_report(app)
    seen_version = _issue(app, issue_id).version
    builders.advance(app, issue_id, "dispatched")  # someone else acted meanwhile
    with app.app_context(), job_transaction() as session:
        with pytest.raises(ConflictError):
            services.dispatch(session, session.get(Issue, issue_id), user(session, "boss2"),
                              team=builders.team(session), expected_version=seen_version, now=at("2026-11-18 11:00"))
    assert [e.action for e in _issue(app, issue_id).events] == ["reported", "dispatch"]


def test_two_supervisors_verify_at_once_one_wins(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "awaiting_verification")
    version = _issue(app, issue_id).version
    barrier = threading.Barrier(2)
    outcomes = {}

    # PostgreSQL: both transactions load the row before either writes. SQLite serialises writers, so there
    # the race is two posts from pages showing the same version, arriving together.
    both_load_first = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")

    def verify_as(name):
        with app.app_context():
            try:
                if not both_load_first:
                    barrier.wait(timeout=10)
                with job_transaction() as session:
                    issue = session.get(Issue, issue_id)
                    if both_load_first:
                        barrier.wait(timeout=10)
                    services.verify(session, issue, user(session, name), passed=True, expected_version=version,
                                    now=at("2026-11-18 12:00"))
                outcomes[name] = "won"
            except (ConflictError, DomainError) as exc:
                outcomes[name] = f"told: {exc}"

    threads = [threading.Thread(target=verify_as, args=(n,)) for n in ("boss", "boss2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "won" for v in outcomes.values()) == [False, True], outcomes
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssueEvent).where(
            IssueEvent.issue_id == issue_id, IssueEvent.action == "verify_pass")) == 1


# --- visibility -----------------------------------------------------------------------------------------
def test_who_sees_an_issue(app, world):
    issue_id = builders.file_report(app, "clerk")  # in A01 (leader0)
    builders.advance(app, issue_id, "dispatched")
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        seeing = {n for n in builders.USERS if services.can_view(db.session, user(db.session, n), issue)}
    assert seeing == {"boss", "boss2", "root", "leader0", "fixer", "fixer2", "clerk"}


def test_quick_report_locates_the_grid_and_offers_duplicates(app, world):
    first = builders.file_report(app)
    with app.app_context():
        from gridpatrol.grids.models import Site

        site = db.session.scalar(sa.select(Site))
        where = services.locate_report(db.session, site, 120.15052, 30.27951, 0)
        dupes = services.possible_duplicates(db.session, site, grid=where.grid, category="water_power",
                                             lon=120.15052, lat=30.27951, now=at("2026-11-18 12:00"))
        assert where.grid.code == "A01" and [d.id for d in dupes] == [first]
        far = services.possible_duplicates(db.session, site, grid=where.grid, category="water_power",
                                           lon=120.1509, lat=30.2791, now=at("2026-11-18 12:00"))
        assert far == []  # ~55 m away
        other_category = services.possible_duplicates(db.session, site, grid=where.grid, category="greening",
                                                      lon=120.15052, lat=30.27951, now=at("2026-11-18 12:00"))
        assert other_category == []


@pytest.mark.parametrize("kwargs, message", [
    ({"description": "  "}, "what the problem is"),
    ({"category": "weather"}, "category"),
    ({"photos": {}}, "photo"),
    ({"lon": 500.0}, "position"),
])
def test_refused_quick_report_files_nothing(app, world, kwargs, message):
    from gridpatrol.grids.models import Site

    args = {"lon": 120.1505, "lat": 30.2795, "level": 0, "category": "water_power", "description": "漏水",
            "photos": {"p1": jpeg()}, "now": at("2026-11-18 09:00")}
    args.update(kwargs)
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError, match=message):
            services.report(session, user(session, "clerk"), session.scalar(sa.select(Site)), **args)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0
