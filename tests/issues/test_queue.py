"""The queue's rows, counts and totals (queue.py), checked against issues placed by hand."""

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import queue
from gridpatrol.issues.models import OPEN_STATES, Issue
from tests.issues import builders
from tests.issues.builders import at, user

NOW = at("2026-11-20 12:00")


def _place(app) -> dict[str, int]:
    """Six issues in every kind of position: not dispatched, due later, overdue, closed, rejected."""
    builders.world(app)
    ids = {name: builders.file_report(app, when="2026-11-16 09:00") for name in
           ("fresh", "due_later", "overdue", "overdue_fixed", "closed", "rejected")}
    for name, state in (("due_later", "dispatched"), ("overdue", "in_progress"),
                        ("overdue_fixed", "awaiting_verification"), ("closed", "closed")):
        builders.advance(app, ids[name], state, when="2026-11-16 10:00")
    with app.app_context(), job_transaction() as session:
        deadlines = {"due_later": at("2026-11-25 17:30"), "overdue": at("2026-11-19 17:30"),
                     "overdue_fixed": at("2026-11-18 17:30")}
        for name, deadline in deadlines.items():
            session.execute(sa.update(Issue).where(Issue.id == ids[name]).values(deadline=deadline))
        session.execute(sa.update(Issue).where(Issue.id == ids["rejected"]).values(state="rejected"))
    return ids


def _run(app, username, f, **kwargs):
    with app.app_context():
        viewer = user(db.session, username)
        counts = queue.counts_by_state(db.session, viewer, f, NOW)
        rows, total = queue.page(db.session, viewer, f, NOW, **kwargs)
        return rows, total, counts


def test_rows_sorted_by_deadline_with_undispatched_first_and_overdue_marked(app):
    ids = _place(app)
    rows, total, _ = _run(app, "boss", queue.QueueFilter())
    assert [r.id for r in rows] == [ids["fresh"], ids["overdue_fixed"], ids["overdue"], ids["due_later"]]
    assert total == 4
    assert {r.id: r.overdue for r in rows} == {ids["fresh"]: False, ids["overdue_fixed"]: True,
                                               ids["overdue"]: True, ids["due_later"]: False}
    first = rows[0]
    assert (first.state, first.severity, first.category, first.grid_code) == ("reported", "minor", "water_power",
                                                                              "A01")
    assert first.title and first.reported_at == at("2026-11-16 09:00") and first.deadline is None


def test_counts_per_open_state_and_overdue(app):
    _place(app)
    _, _, counts = _run(app, "boss", queue.QueueFilter(states=["closed"]))  # the tabs ignore the state filter
    assert {s: counts[s] for s in OPEN_STATES} == {"reported": 1, "dispatched": 1, "in_progress": 1,
                                                   "awaiting_verification": 1, "deferred": 0}
    assert counts["overdue"] == 2
    assert counts["overdue_in_progress"] == 1 and counts["overdue_awaiting_verification"] == 1


def test_total_from_counts_agrees_with_counting_for_every_open_filter(app):
    ids = _place(app)
    filters = [queue.QueueFilter(), queue.QueueFilter(states=["reported"]), queue.QueueFilter(overdue=True),
               queue.QueueFilter(states=["in_progress", "dispatched"], overdue=True),
               queue.QueueFilter(states=["closed", "in_progress"], overdue=True)]
    for f in filters:
        _, counted, counts = _run(app, "boss", f)
        assert queue.total_from_counts(f, counts) == counted, f
    # Closed and rejected issues are not in the counts: the page counts them itself.
    for f in (queue.QueueFilter(states=["closed"]), queue.QueueFilter(states=[]),
              queue.QueueFilter(states=["reported", "rejected"])):
        _, counts_total, counts = _run(app, "boss", f)
        assert queue.total_from_counts(f, counts) is None
    rows, total, _ = _run(app, "boss", queue.QueueFilter(states=["closed"]))
    assert [r.id for r in rows] == [ids["closed"]] and total == 1 and not rows[0].overdue
    _, total, _ = _run(app, "boss", queue.QueueFilter(states=[]))
    assert total == 6


def test_pages_split_the_sorted_rows(app):
    ids = _place(app)
    first, total, _ = _run(app, "boss", queue.QueueFilter(), page=1, per_page=3)
    second, _, _ = _run(app, "boss", queue.QueueFilter(), page=2, per_page=3)
    assert total == 4 and len(first) == 3 and [r.id for r in second] == [ids["due_later"]]


def test_counts_and_rows_follow_visibility(app):
    ids = _place(app)
    builders.file_report(app, "clerk2", lon=120.1515, lat=30.2795)  # grid A02: leader1's, not leader0's
    rows, total, counts = _run(app, "leader0", queue.QueueFilter())
    assert total == 4 and ids["fresh"] in [r.id for r in rows]
    assert counts["reported"] == 1  # not clerk2's report in A02
    rows, total, counts = _run(app, "leader1", queue.QueueFilter())
    assert total == 1 and counts["reported"] == 1 and counts["overdue"] == 0


def test_queue_page_agrees_with_its_parts_for_every_role_and_filter(app):
    _place(app)
    builders.advance(app, builders.file_report(app, "clerk2", lon=120.1515, lat=30.2795), "dispatched")
    filters = [queue.QueueFilter(), queue.QueueFilter(overdue=True), queue.QueueFilter(states=["closed"]),
               queue.QueueFilter(states=["reported"], category="water_power"), queue.QueueFilter(states=[])]
    with app.app_context():
        for username in ("boss", "leader0", "leader1", "fixer", "clerk", "clerk2", "outsider"):
            viewer = user(db.session, username)
            for f in filters:
                view = queue.queue_page(db.session, viewer, f, NOW, per_page=3)
                rows, total = queue.page(db.session, viewer, f, NOW, per_page=3)
                assert (view.rows, view.total) == (rows, total), (username, f)
                assert view.counts == queue.counts_by_state(db.session, viewer, f, NOW), (username, f)


def test_labels_are_translated_once_per_language_and_kept_apart_by_language(app):
    from flask_babel import force_locale

    from gridpatrol.issues.labels import issue_labels

    with app.test_request_context("/"):
        with force_locale("zh"):
            zh = issue_labels()
            assert issue_labels() is zh and zh.state["reported"] == "待受理"
        with force_locale("en"):
            en = issue_labels()
            assert en is not zh and en.state["reported"] == "To accept"
    with app.test_request_context("/"), force_locale("zh"):
        assert issue_labels() is zh  # the next request in that language: nothing translated again
