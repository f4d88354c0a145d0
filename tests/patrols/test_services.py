"""Materialising plans into patrols, the missed transition, reminders, and submitting (frozen time)."""

import datetime as dt
import io
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image

from gridpatrol.accounts.models import User
from gridpatrol.core.errors import ConflictError, DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Checkpoint, Grid
from gridpatrol.grids import qr
from gridpatrol.notifications import services as notifications
from gridpatrol.notifications.models import Notification
from gridpatrol.patrols import services
from gridpatrol.patrols.models import Patrol, PatrolPhoto, PatrolPlan, PlanKind, Recurrence, Submission
from tests.patrols import builders
from tests.patrols.builders import at


@pytest.fixture(autouse=True)
def english_messages(app):
    """These tests read refusal messages in English; the Chinese catalogue has its own tests."""
    app.config["DEFAULT_LOCALE"] = "en"


@pytest.fixture
def site(app):
    return builders.compound(app)


def jpeg(color=(200, 30, 30), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


# --- materialising -------------------------------------------------------------------------------------
def test_materialize_makes_one_patrol_per_grid_and_window_within_24_hours(app, site):
    builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2))
    report = builders.materialize(app, at("2026-11-02 06:00"))
    assert report.created == 2  # today 08:00 for A01 and A02; tomorrow 08:00 is 26 h away
    patrols = builders.patrols(app)
    assert {p.window_start for p in patrols} == {at("2026-11-02 08:00")}
    assert all(p.status == "scheduled" for p in patrols)
    with app.app_context():
        leaders = {p.grid.code: p.assignee.username for p in db.session.scalars(sa.select(Patrol))}
    assert leaders == {"A01": "leader0", "A02": "leader1"}


def test_running_materialize_again_creates_nothing(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    again = builders.materialize(app, at("2026-11-02 06:05"))
    assert again.created == 0 and len(builders.patrols(app)) == 1


def test_catch_up_after_downtime_makes_past_windows_missed(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    # the scheduler is down for a week
    report = builders.materialize(app, at("2026-11-09 09:00"))
    patrols = builders.patrols(app)
    assert [p.window_start.astimezone(builders.SHANGHAI).day for p in patrols] == list(range(2, 11))
    statuses = {p.window_start.astimezone(builders.SHANGHAI).day: p.status for p in patrols}
    assert statuses[3] == "missed" and statuses[8] == "missed"
    assert statuses[9] == "scheduled"  # today's window is still open (08:00–10:00, grace to 11:00)
    assert statuses[10] == "scheduled"
    assert report.created_missed == 6  # the 3rd..8th; the 2nd was made before the downtime


def test_workday_plan_skips_the_holiday_and_works_the_make_up_saturday(app, site):
    builders.make_plan(app, recurrence=Recurrence.WORKDAYS, starts_on=dt.date(2026, 9, 28))
    builders.materialize(app, at("2026-10-12 06:00"))
    days = [p.window_start.astimezone(builders.SHANGHAI).date() for p in builders.patrols(app)]
    assert days == [dt.date(2026, 9, 28), dt.date(2026, 9, 29), dt.date(2026, 9, 30), dt.date(2026, 10, 8),
                    dt.date(2026, 10, 9), dt.date(2026, 10, 10), dt.date(2026, 10, 12)]


def test_cross_check_is_patrolled_by_the_other_grids_leader(app, site):
    builders.make_plan(app, grids=("A01",), kind=PlanKind.CROSS_CHECK, patrollers={"A01": "A02"},
                       starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context():
        patrol = db.session.scalar(sa.select(Patrol))
        assert patrol.grid.code == "A01" and patrol.assignee.username == "leader1"


def test_cross_check_without_another_grid_is_refused(app, site):
    with pytest.raises(DomainError):
        builders.make_plan(app, grids=("A01",), kind=PlanKind.CROSS_CHECK, patrollers={"A01": "A01"})


def test_paused_plan_makes_nothing_and_resumes_from_now(app, site):
    plan_id = builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    with app.app_context(), job_transaction() as session:
        services.set_plan_active(session, session.get(PatrolPlan, plan_id), False, actor=None, now=at("2026-11-01 12:00"))
    assert builders.materialize(app, at("2026-11-05 06:00")).created == 0
    with app.app_context(), job_transaction() as session:
        services.set_plan_active(session, session.get(PatrolPlan, plan_id), True, actor=None, now=at("2026-11-05 06:00"))
    builders.materialize(app, at("2026-11-05 06:00"))
    assert [p.window_start for p in builders.patrols(app)] == [at("2026-11-05 08:00")]


# --- missed and late --------------------------------------------------------------------------------------
def test_missed_only_after_the_grace_period(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))  # 08:00–10:00, grace 60 min
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        assert services.mark_missed(session, at("2026-11-02 10:59")) == []
    with app.app_context(), job_transaction() as session:
        assert len(services.mark_missed(session, at("2026-11-02 11:00"))) == 1
    (patrol,) = builders.patrols(app)
    assert patrol.status == "missed" and patrol.missed_at == at("2026-11-02 11:00")


def test_reminders_are_sent_once(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        assert services.remind(session, at("2026-11-02 06:30")) == 0  # 90 minutes ahead: not yet
    with app.app_context(), job_transaction() as session:
        assert services.remind(session, at("2026-11-02 07:10")) == 1
    with app.app_context(), job_transaction() as session:
        assert services.remind(session, at("2026-11-02 07:15")) == 0
    with app.app_context():
        (note,) = db.session.scalars(sa.select(Notification))
        shown = notifications.render(db.session, note)
        assert "/patrols/" in shown.url and "A01" in shown.text


# --- submitting ---------------------------------------------------------------------------------------
@pytest.fixture
def open_patrol(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context():
        patrol = db.session.scalar(sa.select(Patrol))
        items = [i.id for i in patrol.template_version.items]
        return {"id": patrol.id, "items": items}


def payload(open_patrol, results=("pass", "pass", "pass", "pass"), **extra):
    answers = [{"item_id": i, "result": r} for i, r in zip(open_patrol["items"], results)]
    body = {"client_uuid": str(uuid.uuid4()), "completed_at": at("2026-11-02 09:00").isoformat(), "answers": answers}
    body.update(extra)
    return body


def submit(app, patrol_id, body, files=None, *, now="2026-11-02 09:01", user="leader0"):
    with app.app_context(), job_transaction() as session:
        patrol = session.get(Patrol, patrol_id)
        leader = session.scalar(sa.select(User).where(User.username == user))
        return services.submit(session, patrol, leader, body, files or {}, now=at(now))


def test_score_counts_weights_and_leaves_na_out(app, open_patrol):
    # weights 1,2,3,4; item 1 (w1) fails with a photo, item 3 (w3) is N/A → 100 × (2+4)/(1+2+4)
    body = payload(open_patrol, ("fail", "pass", "na", "pass"))
    body["answers"][0]["photos"] = ["p1"]
    result = submit(app, open_patrol["id"], body, {"p1": jpeg()})
    assert result.body["score"] == pytest.approx(85.71, abs=0.01)
    assert result.body["failed_critical"] is False and result.body["late"] is False
    with app.app_context():
        patrol = db.session.get(Patrol, open_patrol["id"])
        assert patrol.status == "submitted" and len(patrol.answers) == 4 and len(patrol.photos) == 1


def test_failed_critical_item_fails_the_patrol(app, open_patrol):
    result = submit(app, open_patrol["id"], payload(open_patrol, ("pass", "pass", "pass", "fail")))
    assert result.body["failed_critical"] is True and result.body["score"] == pytest.approx(60.0)


def test_same_uuid_same_content_returns_the_first_result(app, open_patrol):
    body = payload(open_patrol)
    first = submit(app, open_patrol["id"], body)
    again = submit(app, open_patrol["id"], body, now="2026-11-02 09:30")
    assert again.replayed and again.body == first.body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_same_uuid_other_content_is_a_conflict(app, open_patrol):
    body = payload(open_patrol)
    submit(app, open_patrol["id"], body)
    changed = dict(body, answers=[dict(a, note="改过") for a in body["answers"]])
    with pytest.raises(ConflictError):
        submit(app, open_patrol["id"], changed)


def test_second_submission_with_a_new_uuid_is_refused(app, open_patrol):
    submit(app, open_patrol["id"], payload(open_patrol))
    with pytest.raises(ConflictError):
        submit(app, open_patrol["id"], payload(open_patrol))


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b["answers"].pop(), "not answered"),
    (lambda b: b["answers"][1].update(result="na"), "N/A"),
    (lambda b: b["answers"][0].update(result="fail"), "needs a photo"),
    (lambda b: b["answers"][0].update(result="maybe"), "no answer"),
    (lambda b: b["answers"].append({"item_id": 999999, "result": "pass"}), "not on this checklist"),
    (lambda b: b.update(client_uuid=""), "client id"),
    (lambda b: b.update(location={"lon": "east", "lat": 1}), "location"),
])
def test_refused_submission_saves_nothing(app, open_patrol, mutate, message):
    body = payload(open_patrol)
    mutate(body)
    with pytest.raises(DomainError, match=message):
        submit(app, open_patrol["id"], body)
    with app.app_context():
        patrol = db.session.get(Patrol, open_patrol["id"])
        assert patrol.status == "scheduled" and patrol.answers == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_a_file_that_is_not_an_image_is_refused(app, open_patrol):
    body = payload(open_patrol, ("fail", "pass", "pass", "pass"))
    body["answers"][0]["photos"] = ["p1"]
    with pytest.raises(DomainError, match="not a readable image"):
        submit(app, open_patrol["id"], body, {"p1": b"\xff\xd8\xff\xe0 not really a jpeg"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPhoto)) == 0


def test_only_the_assignee_submits(app, open_patrol):
    with pytest.raises(PermissionError):
        submit(app, open_patrol["id"], payload(open_patrol), user="leader1")


def test_submitted_after_the_window_within_grace_is_late(app, open_patrol):
    late = payload(open_patrol, completed_at=at("2026-11-02 10:30").isoformat())
    assert submit(app, open_patrol["id"], late, now="2026-11-02 10:31").body["late"] is True


def test_offline_submission_arriving_after_missed_counts_by_device_time(app, open_patrol):
    with app.app_context(), job_transaction() as session:
        services.mark_missed(session, at("2026-11-02 12:00"))
    # Finished after the grace period by the device's clock: refused (before the one below, which would make any
    # later submission a conflict anyway). tests/patrols/test_late_submission.py bounds the arrival time.
    too_late = payload(open_patrol, completed_at=at("2026-11-02 11:30").isoformat())
    with pytest.raises(ConflictError, match="window of this patrol has closed"):
        submit(app, open_patrol["id"], too_late, now="2026-11-02 15:00")
    body = payload(open_patrol, completed_at=at("2026-11-02 09:40").isoformat())
    result = submit(app, open_patrol["id"], body, now="2026-11-02 15:00")
    assert result.body["status"] == "submitted" and result.body["late"] is False


def test_location_outside_the_grid_is_flagged(app, open_patrol):
    body = payload(open_patrol, location={"lon": 120.1530, "lat": 30.2795, "accuracy": 8})
    result = submit(app, open_patrol["id"], body)
    assert result.body["location_outside"] is True
    with app.app_context():
        patrol = db.session.get(Patrol, open_patrol["id"])
        assert patrol.location_distance_m == pytest.approx(192.4, abs=2)


def test_scans_are_verified_and_flagged_not_rejected(app, open_patrol):
    with app.app_context(), job_transaction() as session:
        grids = {g.code: g for g in session.scalars(sa.select(Grid))}
        own = Checkpoint(grid=grids["A01"], code="A01-01", name="配电柜", lon=120.1505, lat=30.2795)
        other = Checkpoint(grid=grids["A02"], code="A02-01", name="水泵", lon=120.1515, lat=30.2795)
        session.add_all([own, other])
        session.flush()
        own_code = qr.checkpoint_payload(own)
    scans = [
        {"code": own_code, "scanned_at": at("2026-11-02 08:30").isoformat(), "method": "qr"},
        {"code": own_code, "scanned_at": at("2026-11-02 08:30:20").isoformat(), "method": "qr"},
        {"code": "A02-01", "scanned_at": at("2026-11-02 08:40").isoformat(), "method": "typed"},
    ]
    submit(app, open_patrol["id"], payload(open_patrol, scans=scans))
    with app.app_context():
        patrol = db.session.get(Patrol, open_patrol["id"])
        assert [s.flags for s in patrol.scans] == [[], ["repeated"], ["other_grid"]]
    forged = own_code[:-2] + ("AA" if not own_code.endswith("AA") else "BB")
    with app.app_context(), job_transaction() as session:
        site_id = session.get(Patrol, open_patrol["id"]).site_id
        with pytest.raises(DomainError, match="not genuine"):
            services.resolve_checkpoint(session, "TEST", site_id, forged)


def test_a_new_leader_takes_over_future_scheduled_patrols(app, site):
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    builders.materialize(app, at("2026-11-03 06:00"))
    from gridpatrol.grids import services as grid_services
    from gridpatrol.grids.models import AssignmentRole

    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        newcomer = session.scalar(sa.select(User).where(User.username == "leader1"))
        grid_services.assign(session, grid, newcomer, AssignmentRole.LEADER, actor=None, at=at("2026-11-02 12:00"))
    by_day = {p.window_start.astimezone(builders.SHANGHAI).day: p for p in builders.patrols(app)}
    with app.app_context():
        assignees = {day: db.session.get(User, p.assignee_id).username for day, p in by_day.items()}
    assert assignees == {2: "leader0", 3: "leader1"}  # the past window keeps the leader of its day


def test_failed_items_raise_issues_in_the_same_transaction(app, open_patrol):
    from gridpatrol.issues.models import Issue

    body = payload(open_patrol, ("fail", "pass", "pass", "fail"))
    body["answers"][0].update(photos=["p1"], note="配电箱门未上锁")
    submit(app, open_patrol["id"], body, {"p1": jpeg()})
    with app.app_context():
        issues = db.session.scalars(sa.select(Issue).order_by(Issue.id)).all()
        assert [(i.source, i.state, i.severity) for i in issues] == [
            ("patrol", "reported", "minor"), ("patrol", "reported", "major")]  # item 4 is critical → 较大
        first = issues[0]
        assert first.patrol_id == open_patrol["id"] and first.item_id == open_patrol["items"][0]
        assert first.description == "配电箱门未上锁" and first.grid.code == "A01"
        assert first.reporter.username == "leader0"
        assert [p.kind for p in first.photos] == ["before"]
        assert [e.action for e in first.events] == ["reported"]


def test_a_refused_submission_raises_no_issue(app, open_patrol):
    from gridpatrol.issues.models import Issue

    body = payload(open_patrol, ("fail", "pass", "pass", "pass"))  # item 1 failed without its required photo
    with pytest.raises(DomainError):
        submit(app, open_patrol["id"], body)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0
