"""Two tablets submitting one patrol at the same moment (threads, each request with its own session, through the
API): with different client UUIDs exactly one 200 and one 409, never a 500, on both databases; with the same UUID
two 200s and one submission (`services.lock_patrol`)."""

import concurrent.futures
import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa

from gridpatrol.extensions import db
from gridpatrol.patrols import services
from gridpatrol.patrols.models import Patrol, PatrolAnswer, Submission
from gridpatrol.points.models import PointsEntry
from tests.api.builders import bearer, token_for
from tests.patrols import builders

PAIRS = 20


@pytest.fixture
def open_patrols(app) -> list[dict]:
    """PAIRS patrols of A01 (leader0) whose window is open now: the requests run on the real clock."""
    builders.compound(app)
    return builders.open_patrols(app, PAIRS)


@pytest.fixture
def at_the_same_moment(app, monkeypatch):
    """Makes the two requests of a pair meet before the service decides anything, and returns the function each
    request's thread calls first.

    PostgreSQL: each request has loaded the patrol (to check who may see it) and only then waits for the other,
    in `services.submit`, so both hold a patrol read before either locks it — the race the lock must win. SQLite:
    a writing request holds the database's write lock from its first statement, so the two meet before they
    start (meeting later would wait for a lock the other holds)."""
    barrier = threading.Barrier(2, timeout=20)
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if not postgres:
        return barrier.wait
    submit = services.submit

    def submit_once_both_have_loaded(*args, **kwargs):
        barrier.wait()
        return submit(*args, **kwargs)

    monkeypatch.setattr(services, "submit", submit_once_both_have_loaded)
    return lambda: None


def _payload(patrol: dict, note: str) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "answers": [{"item_id": i, "result": "pass", "note": note} for i in patrol["items"]]}


def _pair(app, tokens, patrol, payloads, start):
    """Posts the two payloads to the patrol from two threads at once: [(status, body)] in payload order."""
    def post(side):
        start()
        response = app.test_client().post(builders.submission_url(patrol["id"]), json=payloads[side],
                                          headers=bearer(tokens[side]))
        return response.status_code, response.get_json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(post, (0, 1)))


def test_concurrent_submissions_give_one_200_and_one_409_and_a_replay_stays_one(app, open_patrols,
                                                                               at_the_same_moment):
    tokens = [token_for(app, "leader0", name="tablet 1"), token_for(app, "leader0", name="tablet 2")]
    outcomes, winners = [], []
    for patrol in open_patrols:
        payloads = [_payload(patrol, "第一台"), _payload(patrol, "第二台")]
        results = _pair(app, tokens, patrol, payloads, at_the_same_moment)
        outcomes.append(sorted(status for status, _ in results))
        accepted = [(payloads[side], body) for side, (status, body) in enumerate(results) if status == 200]
        refused = [body for status, body in results if status == 409]
        if accepted and refused:
            winners.append((patrol, *accepted[0]))
            assert refused[0]["code"] == "conflict", refused[0]
    assert outcomes == [[200, 409]] * PAIRS

    # The accepted payload sent again by both tablets at once: the first result twice, nothing applied again.
    for patrol, payload, first in winners:
        replays = _pair(app, tokens, patrol, [payload, payload], at_the_same_moment)
        assert replays == [(200, first), (200, first)]

    with app.app_context():
        count = sa.select(sa.func.count())
        assert db.session.scalar(count.select_from(Submission)) == PAIRS
        assert db.session.scalar(count.select_from(PatrolAnswer)) == PAIRS * 4
        assert db.session.scalar(count.select_from(Patrol).where(Patrol.status == "submitted")) == PAIRS
        assert db.session.scalar(count.select_from(PointsEntry).where(PointsEntry.rule_code == "patrol_on_time")) \
            == PAIRS
        # Each patrol holds the answers of the submission that won it, not a mixture.
        notes = db.session.execute(sa.select(PatrolAnswer.patrol_id, sa.func.count(sa.distinct(PatrolAnswer.note)))
                                   .group_by(PatrolAnswer.patrol_id)).all()
        assert {n for _patrol, n in notes} == {1}


def test_a_patrol_submitted_while_it_is_being_marked_missed_stays_submitted(app):
    """PostgreSQL: the submission holds the patrol's row lock when `mark_missed` reads its candidates; once the
    submission commits, the job's UPDATE finds the patrol submitted and leaves it (no 漏巡, no −3). SQLite runs the
    two one after the other (a writer holds the database's write lock), so there the order decides alone."""
    builders.compound(app)
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, builders.at("2026-11-02 06:00"))
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises writers: no concurrent submission can exist")
        patrol_id = db.session.scalar(sa.select(Patrol.id))
        holder = db.engine.connect()
    locked, done = threading.Event(), threading.Event()

    def submit_slowly():
        with holder.begin():
            holder.execute(sa.select(Patrol.id).where(Patrol.id == patrol_id).with_for_update())
            holder.execute(sa.update(Patrol).where(Patrol.id == patrol_id).values(status="submitted"))
            locked.set()
            done.wait(timeout=2)  # the job has read its candidates and waits on the row lock by now
        holder.close()

    thread = threading.Thread(target=submit_slowly)
    thread.start()
    assert locked.wait(timeout=10)
    from gridpatrol.core.transaction import job_transaction

    threading.Timer(0.5, done.set).start()
    with app.app_context(), job_transaction() as session:
        missed = services.mark_missed(session, builders.at("2026-11-02 12:00"))
    thread.join()
    assert missed == []
    with app.app_context():
        assert db.session.get(Patrol, patrol_id).status == "submitted"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PointsEntry)
                                 .where(PointsEntry.rule_code == "patrol_missed")) == 0


def test_one_client_id_sent_for_two_patrols_at_once_gives_a_200_and_a_409(app, open_patrols, at_the_same_moment):
    """A tablet's bug or a replayed queue: the same client UUID for two different patrols at the same moment. The
    patrols' row locks do not meet; the id's lock does, so the second sees the first's submission (409), never a 500
    on the submissions' unique key."""
    tokens = [token_for(app, "leader0"), token_for(app, "leader0")]
    for first, second in zip(open_patrols[0:PAIRS:2], open_patrols[1:PAIRS:2]):
        shared = str(uuid.uuid4())
        bodies = [dict(_payload(first, "a"), client_uuid=shared), dict(_payload(second, "b"), client_uuid=shared)]

        def post(side, patrol):
            at_the_same_moment()
            response = app.test_client().post(builders.submission_url(patrol["id"]), json=bodies[side],
                                              headers=bearer(tokens[side]))
            return response.status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(post, (0, 1), (first, second)))
        assert statuses == [200, 409]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == PAIRS // 2
