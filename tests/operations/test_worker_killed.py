"""Fault: a gunicorn worker killed (SIGKILL) in the middle of a tablet's patrol submission leaves nothing of it, and
the tablet's retry with the same client UUID succeeds — on both databases, against a real gunicorn.

Two moments, each made certain rather than waited for by the clock:

1. while the worker reads the body: a 1.5 MB photo sent in two halves over a raw socket; the worker is killed once
   it has read most of the first half (its /proc/<pid>/io read count), i.e. inside the view, parsing the form;
2. inside the transaction, after the answers are written: the photo store's temporary file is, for each worker,
   a FIFO made by the test (`DirectoryStore.put` writes `<sha>.<pid>.tmp`), so the worker blocks opening it with
   the answers inserted and the patrol row locked; the test sees the transaction open (PostgreSQL: the worker's
   lock on patrol_answers; SQLite: the write lock held) and kills the worker there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import random
import signal
import socket
import sqlite3
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue
from gridpatrol.patrols.models import CheckpointScan, Patrol, PatrolAnswer, PatrolPhoto, Submission
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.api.builders import token_for
from tests.operations.web import multipart
from tests.patrols import builders as patrol_builders
from tests.scheduler.test_process import wait_until

pytestmark = pytest.mark.slow


def noisy_jpeg(seed: int, size=(1000, 800)) -> bytes:
    """A valid JPEG of ~1.5 MB (noise does not compress)."""
    noise = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def worker_pids(server: helpers.GunicornServer) -> list[int]:
    """The gunicorn master's children (its workers), from /proc."""
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def unread_bytes_of_connection(server_port: int, client_port: int) -> tuple[int, int] | None:
    """(bytes received by the kernel for the server's end of this loopback connection but not yet read by the
    process, the socket's inode), from /proc/net/tcp; None if there is no such socket."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues, inode = fields[1], fields[2], fields[4], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(queues.split(":")[1], 16), inode
    return None


def holder_of_socket(pids: list[int], inode: int) -> int | None:
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                pass
    return None


def thread_blocked_opening_a_fifo(pid: int) -> bool:
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "wchan").read_text().strip() == "wait_for_partner":
                return True
        except OSError:
            pass
    return False


def kill_worker(server: helpers.GunicornServer, pid: int, workers: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pid not in worker_pids(server) and len(worker_pids(server)) == workers,
               f"gunicorn to replace worker {pid}", timeout=30)


@pytest.fixture
def server(database_url, tmp_path):
    server = helpers.GunicornServer(database_url, tmp_path, workers=2, env={
        "GRIDPATROL_PHOTO_STORAGE": "directory", "GRIDPATROL_PHOTO_DIR": str(tmp_path / "photos")})
    yield server
    server.stop()


def submission(patrol: dict) -> dict:
    """A submission whose first item failed, with a photo (p0) and a note; the others passed."""
    results = ["fail"] + ["pass"] * (len(patrol["items"]) - 1)
    answers = [{"item_id": item, "result": result, "note": "灭火器压力不足" if result == "fail" else "",
                "photos": ["p0"] if result == "fail" else []} for item, result in zip(patrol["items"], results)]
    return {"client_uuid": str(uuid.uuid4()), "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "answers": answers, "scans": [], "location": None}


def send_multipart(url: str, token: str, payload: dict, photo: bytes):
    body, content_type = multipart({"payload": json.dumps(payload)}, {"p0": ("p0.jpg", photo, "image/jpeg")})
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def nothing_of(app, patrol_id: int) -> dict:
    """What the database holds of the patrol's submission: all zero and "scheduled" when nothing was saved."""
    count = sa.select(sa.func.count())
    with app.app_context():
        session = db.session
        return {
            "status": session.scalar(sa.select(Patrol.status).where(Patrol.id == patrol_id)),
            "submitted_at": session.scalar(sa.select(Patrol.submitted_at).where(Patrol.id == patrol_id)),
            "answers": session.scalar(count.select_from(PatrolAnswer).where(PatrolAnswer.patrol_id == patrol_id)),
            "photos": session.scalar(count.select_from(PatrolPhoto).where(PatrolPhoto.patrol_id == patrol_id)),
            "scans": session.scalar(count.select_from(CheckpointScan).where(CheckpointScan.patrol_id == patrol_id)),
            "submissions": session.scalar(count.select_from(Submission).where(Submission.patrol_id == patrol_id)),
            "issues": session.scalar(count.select_from(Issue).where(Issue.patrol_id == patrol_id)),
            "points": session.scalar(count.select_from(PointsEntry).where(PointsEntry.source_type == "patrol",
                                                                         PointsEntry.source_id == patrol_id)),
        }


NOTHING = {"status": "scheduled", "submitted_at": None, "answers": 0, "photos": 0, "scans": 0, "submissions": 0,
           "issues": 0, "points": 0}


def answers_written_in_an_open_transaction(database_url: str) -> bool:
    """PostgreSQL: some backend holds the row-exclusive lock of an INSERT into patrol_answers (released at commit
    or rollback). SQLite: a writer holds the database's write lock."""
    if database_url.startswith("postgresql"):
        engine = sa.create_engine(helpers.psycopg_url(database_url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return bool(conn.execute(sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE c.relname = 'patrol_answers' AND l.mode = 'RowExclusiveLock' AND l.granted")).scalar())
        finally:
            engine.dispose()
    conn = sqlite3.connect(database_url[len("sqlite:///"):], timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return True
    finally:
        conn.close()


def test_a_worker_killed_mid_submission_leaves_nothing_and_the_retry_succeeds(app, database_url, server, tmp_path):
    patrol_builders.compound(app)
    first, second = patrol_builders.open_patrols(app, 2)
    token = token_for(app, "leader0", name="平板")
    workers = len(worker_pids(server))

    # 1. Killed while reading the body: the photo's first half sent, the second never.
    payload, photo = submission(first), noisy_jpeg(1)
    body, content_type = multipart({"payload": json.dumps(payload)}, {"p0": ("p0.jpg", photo, "image/jpeg")})
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall((f"POST {patrol_builders.submission_url(first['id'])} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:half])
        client_port = sock.getsockname()[1]

        def reading_worker():
            # gunicorn reads no further than the headers; the rest is read by the view as it parses the form.
            # Everything sent read by the worker: it is inside the view, waiting for the second half.
            state = unread_bytes_of_connection(server.port, client_port)
            return holder_of_socket(worker_pids(server), state[1]) if state and state[0] == 0 else None
        reading = wait_until(reading_worker, "a worker to read the first half of the body", timeout=30)
        kill_worker(server, reading, workers)
    assert nothing_of(app, first["id"]) == NOTHING
    status, result = send_multipart(server.url + patrol_builders.submission_url(first["id"]), token, payload, photo)
    assert status == 200 and result["status"] == "submitted", (status, result)
    assert nothing_of(app, first["id"]) | {"submitted_at": None} == {
        **NOTHING, "status": "submitted", "answers": len(first["items"]), "photos": 1, "submissions": 1,
        "issues": 1, "points": 1}

    # 2. Killed inside the transaction, the answers written, the photo's file being opened.
    payload, photo = submission(second), noisy_jpeg(2, size=(64, 48))
    photo_sha = hashlib.sha256(photo).hexdigest()
    folder = tmp_path / "photos" / photo_sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    fifos = [folder / f"{photo_sha}.{pid}.tmp" for pid in worker_pids(server)]
    for fifo in fifos:
        os.mkfifo(fifo)
    outcome: list = []
    sender = threading.Thread(target=lambda: outcome.append(_swallow(lambda: send_multipart(
        server.url + patrol_builders.submission_url(second["id"]), token, payload, photo))))
    sender.start()
    try:
        blocked = wait_until(lambda: next((pid for pid in worker_pids(server)
                                           if thread_blocked_opening_a_fifo(pid)), None),
                             "a worker to block in the photo store", timeout=30)
        assert answers_written_in_an_open_transaction(database_url)
        kill_worker(server, blocked, workers)
    finally:
        for fifo in fifos:
            fifo.unlink(missing_ok=True)
        sender.join(timeout=60)
    assert outcome and isinstance(outcome[0], Exception), outcome  # the connection died with the worker
    if database_url.startswith("postgresql"):
        wait_until(lambda: not answers_written_in_an_open_transaction(database_url),
                   "PostgreSQL to roll back the killed worker's transaction", timeout=30)
    assert nothing_of(app, second["id"]) == NOTHING
    assert not (folder / photo_sha).exists()

    status, result = send_multipart(server.url + patrol_builders.submission_url(second["id"]), token, payload,
                                    photo)
    assert status == 200 and result["status"] == "submitted", (status, result)
    assert nothing_of(app, second["id"]) | {"submitted_at": None} == {
        **NOTHING, "status": "submitted", "answers": len(second["items"]), "photos": 1, "submissions": 1,
        "issues": 1, "points": 1}
    assert (folder / photo_sha).read_bytes() == photo
    # The same submission once more is a replay: the first result, nothing added.
    assert send_multipart(server.url + patrol_builders.submission_url(second["id"]), token, payload,
                          photo) == (status, result)
    assert nothing_of(app, second["id"])["answers"] == len(second["items"])


def _swallow(call):
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 (the expected outcome is an exception: the worker died)
        return exc
