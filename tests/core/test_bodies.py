"""Request bodies are bounded before they are read (core/bodies.py): a page's form without a file at
FORM_MAX_BODY_BYTES, the upload pages at their own bounds, all under MAX_CONTENT_LENGTH; a chunked body is counted
as it streams; a large body is read only once the login and the object's permission are checked; the refusal is
the app's own 413 page in Chinese. The last test streams 200 MB to a real gunicorn and watches the worker's memory."""

from __future__ import annotations

import io
import re
import select
import socket
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from gridpatrol.extensions import db
from gridpatrol.patrols.models import Patrol, PatrolPhoto
from tests import helpers
from tests.issues.builders import jpeg
from tests.patrols import builders

MB = 1024 * 1024
TOO_LARGE = "提交的内容过大，未保存任何内容。"  # the 413 page's sentence in Chinese


class Unreadable(io.RawIOBase):
    """A request body that must never be read: reading it fails the test."""

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return 0

    def readinto(self, buffer):
        raise AssertionError("the body was read")


class Endless(io.RawIOBase):
    """A body that never ends (a client streaming without end), counting what is read of it."""

    def __init__(self, chunk: bytes = b"a" * 65536):
        self.chunk, self.taken = chunk, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), len(self.chunk))
        buffer[:n] = self.chunk[:n]
        self.taken += n
        return n


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def post_unread(client, path, *, declared: int | None, stream=None, content_type="multipart/form-data; boundary=x"):
    """POST a body without reading it in the test: `declared` is its Content-Length; None sends it without one, as
    gunicorn passes a chunked body (wsgi.input_terminated), with the client's cookies."""
    stream = stream if stream is not None else Unreadable()
    if declared is not None:
        return client.post(path, input_stream=stream, content_type=content_type,
                           environ_overrides={"CONTENT_LENGTH": str(declared)})
    headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked", "Accept-Language": "zh"}
    cookie = client.get_cookie("session")
    if cookie is not None:
        headers["Cookie"] = f"session={cookie.value}"
    environ = EnvironBuilder(path=path, method="POST", headers=headers).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"], environ["wsgi.input_terminated"] = stream, True
    return Response.from_app(client.application, environ)


# --- a page's form without a file: FORM_MAX_BODY_BYTES ---------------------------------------------------------
def test_a_page_form_over_its_bound_gets_the_413_page_in_chinese(app):
    client = app.test_client()
    token = helpers.csrf_token(client)
    response = client.post("/login", data={"csrf_token": token, "username": "x", "password": "y" * 70_000})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert TOO_LARGE in html and "请求内容过大：最多 64 KB。" in html and 'lang="zh' in html
    assert "capacity limit" not in html and "too large" not in html  # none of Werkzeug's English
    # Declared too long: refused without a byte read.
    assert post_unread(client, "/login", declared=100 * 1024,
                       content_type="application/x-www-form-urlencoded").status_code == 413
    # Within the bound it is read as ever (a wrong password: the login page again).
    assert client.post("/login", data={"csrf_token": token, "username": "x", "password": "y" * 1000}).status_code \
        in (200, 401, 422)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_chunked_body_is_counted_as_it_streams(app, content_type):
    """No length: the body is read through Werkzeug's LimitedStream, which refuses at the bound (64 KiB here), so
    an endless stream costs 64 KiB and a read ahead, never more."""
    body = Endless()
    response = post_unread(app.test_client(), "/login", declared=None, stream=body, content_type=content_type)
    assert response.status_code == 413 and TOO_LARGE in response.get_data(as_text=True)
    assert 64 * 1024 <= body.taken <= 2 * 64 * 1024


def test_the_bounds_are_settings(database_url):
    """FORM_MAX_BODY_BYTES bounds a page's form, MAX_CONTENT_LENGTH cuts every bound (here the quick report's 24 MiB
    of photos), MAX_FORM_PARTS counts a form's fields."""
    from gridpatrol import create_app
    from tests.issues import builders as issue_builders

    app = create_app({"DATABASE_URL": database_url, "FORM_MAX_BODY_BYTES": 2000, "MAX_CONTENT_LENGTH": 50_000,
                      "MAX_FORM_PARTS": 20})
    issue_builders.world(app)
    client = app.test_client()
    token = helpers.csrf_token(client)
    assert client.post("/login", data={"csrf_token": token, "username": "x", "password": "y" * 3000}).status_code \
        == 413
    clerk = _client(app, "clerk")
    form = {"lon": "120.1505", "lat": "30.2795", "level": "0", "category": "water_power", "severity": "minor",
            "description": "水龙头漏水"}
    big = helpers.post_form(clerk, "/s/TEST/report", dict(form, photos=[(io.BytesIO(b"x" * 60_000), "p.jpg")]),
                            content_type="multipart/form-data")
    assert big.status_code == 413 and "请求内容过大：最多 49 KB。" in big.get_data(as_text=True)
    many = helpers.post_form(clerk, "/s/TEST/report", dict(form, **{f"f{i}": "x" for i in range(30)}),
                             content_type="multipart/form-data")
    assert many.status_code == 413
    with app.app_context():
        from gridpatrol.issues.models import Issue

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0
        db.session.remove()
        db.engine.dispose()


def test_an_api_refusal_says_the_bound_in_its_problem(app):
    """The API's 413 (its own bound, API_MAX_BODY_BYTES) is problem+json with the bound in words."""
    from tests.api.test_auth import bearer, token_for
    from tests.issues import builders as issue_builders

    issue_builders.world(app)
    response = app.test_client().post("/api/v1/sites/TEST/issues/1/comments", data=b"{" + b" " * (2 * MB) + b"}",
                                      headers={**bearer(token_for(app, "clerk")), "Content-Type": "application/json",
                                               "Accept-Language": "zh"})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "too_large" and "1 MB" in response.get_json()["detail"]


def test_a_view_that_reads_its_body_after_its_checks_must_say_so(app):
    """body_limit(authorise_first=True) takes a view out of the early CSRF check: it must call authorised() (which
    checks the token) before it answers an unsafe request, else the request fails and nothing is saved."""
    from gridpatrol.core import bodies

    @bodies.body_limit(1000, authorise_first=True)
    def forgetful():
        return "ok"

    @bodies.body_limit(1000, authorise_first=True)
    def careful():
        bodies.authorised()
        return "ok"

    app.add_url_rule("/test-forgetful", view_func=forgetful, methods=["GET", "POST"])
    app.add_url_rule("/test-careful", view_func=careful, methods=["POST"])
    client = app.test_client()
    assert client.get("/test-forgetful").status_code == 200  # a safe method reads no form
    with pytest.raises(RuntimeError, match="authorised"):
        client.post("/test-forgetful", data={"a": "b"})
    assert client.post("/test-careful", data={"a": "b"}).status_code == 400  # no CSRF token
    token = helpers.csrf_token(client)
    assert client.post("/test-careful", data={"csrf_token": token}).status_code == 200
    assert client.post("/test-careful", data={"csrf_token": token, "a": "b" * 2000}).status_code == 413


# --- the patrol's plain form: its assignee only, before a byte is read ------------------------------------------
@pytest.fixture
def live_patrol(app):
    return _live_patrol(app)


def _live_patrol(app):
    """A patrol of A01 (leader0) whose window is open right now; a staff member and a supervisor besides."""
    builders.compound(app)
    helpers.make_user(app, "clerk", roles=("staff",))
    helpers.make_user(app, "boss", roles=("supervisor",))
    (patrol,) = builders.open_patrols(app, 1)
    return patrol


def _submit_path(live_patrol):
    return f"/s/TEST/patrols/{live_patrol['id']}/submit"


def _unsubmitted(app, live_patrol):
    with app.app_context():
        patrol = db.session.get(Patrol, live_patrol["id"])
        photos = db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPhoto))
        return patrol.status != "submitted" and photos == 0


def test_a_large_upload_to_someone_elses_patrol_is_refused_unread(app, live_patrol):
    """100 MB (declared) or an endless chunked stream to a patrol the user may not fill: 403 before anything of the
    body is read — a staff member who may not see it, a supervisor who may see but not fill it; an anonymous caller
    is sent to the login page. The audit log records the denials."""
    path = _submit_path(live_patrol)
    for username in ("clerk", "boss", "leader1"):
        client = _client(app, username)
        assert post_unread(client, path, declared=100 * MB).status_code == 403
        assert post_unread(client, path, declared=None).status_code == 403
    anonymous = post_unread(app.test_client(), path, declared=100 * MB)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert len(helpers.audit_actions(app, "permission.denied")) >= 6
    assert _unsubmitted(app, live_patrol)


def test_the_assignees_upload_is_bounded_too(app, live_patrol, monkeypatch):
    """The assignee's body: a declared length over the bound is refused unread; a chunked one is counted as it
    streams (the bound lowered here to 4 KiB, so as not to stream 64 MiB in a unit test)."""
    client = _client(app, "leader0")
    path = _submit_path(live_patrol)
    assert post_unread(client, path, declared=65 * MB).status_code == 413
    monkeypatch.setattr(app.view_functions["patrols.submit"], "max_body_bytes", 4096)  # the module's function
    body = Endless()
    response = post_unread(client, path, declared=None, stream=body)
    assert response.status_code == 413 and TOO_LARGE in response.get_data(as_text=True)
    assert body.taken <= 4096 + 64 * 1024
    assert _unsubmitted(app, live_patrol)


def _plain_form(live_patrol, photos: int, size: int = 0) -> dict:
    form = {"client_uuid": str(uuid.uuid4()), "scans": ""}
    form.update({f"answer-{i}": "pass" for i in live_patrol["items"]})
    item = live_patrol["items"][0]
    form[f"photo-{item}"] = [(io.BytesIO(jpeg((i, 0, 0)) + b"\0" * size), f"p{i}.jpg") for i in range(photos)]
    return form


def test_the_patrol_form_says_and_keeps_its_photo_limits(database_url):
    """PATROL_MAX_PHOTOS and PATROL_MAX_PHOTOS_BYTES: said on the form, more is refused (422) and nothing saved."""
    from gridpatrol import create_app

    app = create_app({"DATABASE_URL": database_url, "PATROL_MAX_PHOTOS": 2, "PATROL_MAX_PHOTOS_BYTES": 40_000})
    try:
        live = _live_patrol(app)
        client = _client(app, "leader0")
        page = client.get(f"/s/TEST/patrols/{live['id']}").get_data(as_text=True)
        assert "照片最多 2 张，每张不超过 12 MB，合计不超过 39 KB。" in page
        for form, refusal in ((_plain_form(live, 3), "一次最多上传 2 张照片，本次有 3 张。"),
                              (_plain_form(live, 2, size=30_000), "照片合计不得超过 39 KB")):
            response = helpers.post_form(client, _submit_path(live), form, token_from=f"/s/TEST/patrols/{live['id']}",
                                         content_type="multipart/form-data")
            assert response.status_code == 422 and refusal in response.get_data(as_text=True)
            assert _unsubmitted(app, live)
        ok = helpers.post_form(client, _submit_path(live), _plain_form(live, 2),
                               token_from=f"/s/TEST/patrols/{live['id']}", content_type="multipart/form-data")
        assert ok.status_code == 302
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- the real server -------------------------------------------------------------------------------------------
def _memory_kib(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its highest so far (VmHWM), in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def _login_cookie(server_url: str, username: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(server_url + "/login").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    opener.open(server_url + "/login", data=urllib.parse.urlencode({
        "csrf_token": token, "username": username, "password": helpers.DEFAULT_PASSWORD}).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _stream(port: int, path: str, total: int, cookie: str = "", *, form: bool = False) -> tuple[int, int, int]:
    """POST a body of `total` bytes in 64 KiB chunks (Transfer-Encoding: chunked) as a client that reads the answer
    as soon as it comes and goes on sending until the server closes: a file in a multipart form, or with `form` a
    URL-encoded form (which Werkzeug reads whole into memory). Returns (status, bytes sent before the answer came,
    bytes sent in all)."""
    chunk = b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n"
    sent = answered_at = 0
    status = None
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        content_type = "application/x-www-form-urlencoded" if form else "multipart/form-data; boundary=x"
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                f"Content-Type: {content_type}\r\nAccept-Language: zh\r\n"
                + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n")
        first = b"note=" if form else b'--x\r\nContent-Disposition: form-data; name="f"; filename="a.jpg"\r\n\r\n'
        sock.sendall(head.encode() + b"%x\r\n" % len(first) + first + b"\r\n")
        while sent < total:
            if status is None and select.select([sock], [], [], 0)[0]:
                status, answered_at = _status(sock), sent
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 65536
        if status is None:
            status, answered_at = _status(sock), sent
    return status, answered_at, sent


def _status(sock) -> int:
    answer = b""
    while b"\r\n" not in answer:
        part = sock.recv(4096)
        assert part, "the server closed without an answer"
        answer += part
    return int(answer.split(b" ", 2)[1])


@pytest.mark.slow
def test_a_200_mb_chunked_stream_to_gunicorn_is_refused_before_it_is_read(app, live_patrol, database_url, tmp_path):
    """A real gunicorn (one worker): 200 MB streamed in chunks to a page's form (URL-encoded, which Werkzeug would
    read whole into memory) is refused at 64 KiB with 413, and to someone else's patrol (a photo in a multipart
    form) with 403 before a byte is read; the worker's memory stays flat (its high-water mark grows by less than
    8 MB), and the answer comes long before the client has sent its 200 MB."""
    server = helpers.GunicornServer(database_url, tmp_path, workers=1, threads=1)
    try:
        pid = int(re.search(r"GridPatrol worker ready \(pid (\d+)\)", server.error_log.read_text()).group(1))
        cookie = _login_cookie(server.url, "clerk")
        patrol_path = f"/s/TEST/patrols/{live_patrol['id']}/submit"
        # Once each with a small stream, so that what a first request loads (templates, catalogues) is loaded.
        assert _stream(server.port, "/login", 256 * 1024, form=True)[0] == 413
        assert _stream(server.port, patrol_path, 256 * 1024, cookie)[0] == 403
        before = _memory_kib(pid)
        for path, status, headers, form in (("/login", 413, "", True), (patrol_path, 403, cookie, False)):
            answer, answered_at, sent = _stream(server.port, path, 200 * MB, headers, form=form)
            assert answer == status and answered_at < 50 * MB, (path, answer, answered_at, sent)
        after = _memory_kib(pid)
    finally:
        server.stop()
    assert after["VmHWM"] - before["VmHWM"] < 8 * 1024, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 8 * 1024, (before, after)
    assert _unsubmitted(app, live_patrol)
