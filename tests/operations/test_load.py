"""Load: 50 tablets, each with 10 patrol submissions queued offline, replay their queue three times at once against
a real gunicorn (4 workers × 2 threads) — 1,500 requests from 24 client threads, the three copies of each
submission in flight together — and exactly 500 patrols are submitted: 500 submissions, each patrol's answers
once, one on-time points entry per patrol, and every replay answered with the first result.

The requests run on the real clock: the 10 plans' windows over the 50 grids opened half an hour ago.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import random
import time
import uuid

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.patrols.models import Patrol, PatrolAnswer, Submission
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.api.builders import token_for
from tests.grids import builders as grid_builders
from tests.operations.web import post_json
from tests.patrols import builders as patrol_builders

pytestmark = pytest.mark.slow

TABLETS = 50
QUEUED = 10  # patrols per tablet (one plan each, all over the 50 grids)
REPLAYS = 3
CLIENT_THREADS = 24


def fifty_leaders_with_ten_open_patrols_each(app) -> dict[str, list[dict]]:
    """Leader username → the 10 patrols (id, items) open now on their grid."""
    leaders = [f"tablet{i:02d}" for i in range(TABLETS)]
    for username in leaders:
        helpers.make_user(app, username, roles=("grid_leader", "staff"))
    codes = [f"G{i:02d}" for i in range(TABLETS)]
    features = [grid_builders.feature(code, grid_builders.cell(i % 10, i // 10), leader=leaders[i])
                for i, code in enumerate(codes)]
    step = grid_builders.STEP
    grid_builders.make_site(app, boundary=box(
        grid_builders.LON0, grid_builders.LAT0 - 5 * step, grid_builders.LON0 + 10 * step, grid_builders.LAT0),
        grids=grid_builders.collection(*features))
    with app.app_context(), job_transaction() as session:
        patrol_builders.make_template(session)
    now = dt.datetime.now(dt.timezone.utc)
    opens = (now.astimezone(patrol_builders.SHANGHAI) - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    for _ in range(QUEUED):
        patrol_builders.make_plan(app, grids=codes, starts_on=opens.date(), window=opens.strftime("%H:%M"),
                                  minutes=240)
    patrol_builders.materialize(app, now)
    with app.app_context():
        rows = db.session.scalars(sa.select(Patrol).where(Patrol.window_start <= now, Patrol.due_at > now)
                                  .order_by(Patrol.id)).all()
        queues: dict[str, list[dict]] = {username: [] for username in leaders}
        for patrol in rows:
            queues[patrol.assignee.username].append(
                {"id": patrol.id, "items": [item.id for item in patrol.template_version.items]})
    assert sorted(len(queue) for queue in queues.values()) == [QUEUED] * TABLETS
    return queues


def test_fifty_tablets_replaying_their_queues_three_times_at_once_submit_exactly_500_patrols(
        app, gunicorn_server):
    queues = fifty_leaders_with_ten_open_patrols_each(app)
    tokens = {username: token_for(app, username, name="平板") for username in queues}
    completed = dt.datetime.now(dt.timezone.utc).isoformat()
    queued = [(username, patrol["id"], {
        "client_uuid": str(uuid.uuid4()), "completed_at": completed,
        "answers": [{"item_id": item, "result": "pass", "note": f"{username} 第{n + 1}次"}
                    for item in patrol["items"]], "scans": [], "location": None})
        for username, queue in queues.items() for n, patrol in enumerate(queue)]
    random.Random(16).shuffle(queued)
    # The three copies of each submission next to each other: in flight at the same moment on different workers.
    requests = [entry for entry in queued for _ in range(REPLAYS)]
    assert len(requests) == TABLETS * QUEUED * REPLAYS == 1500

    def send(entry):
        username, patrol_id, payload = entry
        answer = post_json(f"{gunicorn_server.url}{patrol_builders.submission_url(patrol_id)}", payload,
                           tokens[username])
        return payload["client_uuid"], answer.status, answer.body

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        results = list(pool.map(send, requests))
    took = time.monotonic() - began
    print(f"1500 submissions in {took:.1f}s ({1500 / took:.0f}/s) on {len(gunicorn_server.worker_pids_seen())} "
          f"workers")

    statuses: dict[int, int] = {}
    for _uuid, status, _body in results:
        statuses[status] = statuses.get(status, 0) + 1
    assert statuses == {200: 1500}, [(status, body[:300]) for _u, status, body in results if status != 200][:5]
    bodies: dict[str, set[bytes]] = {}
    for client_uuid, _status, body in results:
        bodies.setdefault(client_uuid, set()).add(body)
    assert len(bodies) == 500 and all(len(seen) == 1 for seen in bodies.values()), "a replay got another answer"

    count = sa.select(sa.func.count())
    with app.app_context():
        session = db.session
        submitted = set(session.scalars(sa.select(Patrol.id).where(Patrol.status == "submitted")))
        assert submitted == {patrol_id for _username, patrol_id, _payload in queued}
        assert session.scalar(count.select_from(Submission)) == 500
        assert session.scalar(sa.select(sa.func.count(sa.distinct(Submission.patrol_id)))) == 500
        assert session.scalar(count.select_from(PatrolAnswer)) == 500 * 4
        # Each patrol's answers are its own submission's (the note names the tablet and the queue position).
        notes = session.execute(sa.select(PatrolAnswer.patrol_id, sa.func.count(sa.distinct(PatrolAnswer.note)))
                                .group_by(PatrolAnswer.patrol_id)).all()
        assert len(notes) == 500 and {n for _patrol, n in notes} == {1}
        ledger = session.execute(sa.select(PointsEntry.user_id, PointsEntry.source_type, PointsEntry.source_id,
                                           PointsEntry.rule_code)).all()
        assert len(ledger) == 500 and len(set(ledger)) == 500
        assert {rule for *_rest, rule in ledger} == {"patrol_on_time"}
        per_leader: dict[int, int] = {}
        for user_id, *_rest in ledger:
            per_leader[user_id] = per_leader.get(user_id, 0) + 1
        assert sorted(per_leader.values()) == [QUEUED] * TABLETS
