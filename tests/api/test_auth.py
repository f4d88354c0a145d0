"""Who may call the API: a live token (its user's roles at its user's sites, nothing more), or a logged-in browser
whose unsafe requests carry the CSRF token; every refusal in the one error format."""

from __future__ import annotations

import pytest

from tests import helpers
from tests.api.builders import bearer, expire_all, revoke_all, token_for


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


def test_a_token_acts_as_its_user_at_their_sites_only(app, world):
    client = app.test_client()
    everywhere, other_only = bearer(token_for(app, "boss")), bearer(token_for(app, "boss_other"))
    assert [s["code"] for s in client.get("/api/v1/sites", headers=everywhere).get_json()["items"]] == \
        ["OTHER", "TEST"]
    assert [s["code"] for s in client.get("/api/v1/sites", headers=other_only).get_json()["items"]] == ["OTHER"]
    grids = client.get("/api/v1/sites/OTHER/grids", headers=other_only).get_json()
    assert [f["properties"]["code"] for f in grids["features"]] == ["Z01"]
    _problem(client.get("/api/v1/sites/TEST/grids", headers=other_only), 403, "not_allowed")
    assert helpers.audit_actions(app, "permission.denied"), "a refused site is audited as the pages' are"
    _problem(client.get("/api/v1/sites/NOPE/grids", headers=everywhere), 404, "not_found")


def test_no_token_a_bad_token_a_revoked_or_expired_one_get_401(app, world):
    client = app.test_client()
    token = token_for(app, "clerk")
    assert client.get("/api/v1/sites", headers=bearer(token)).status_code == 200
    body = _problem(client.get("/api/v1/sites"), 401, "unauthenticated")
    assert client.get("/api/v1/sites").headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in body["detail"].lower() or "令牌" in body["detail"]
    _problem(client.get("/api/v1/sites", headers=bearer("gp_" + "x" * 43)), 401, "unauthenticated")
    _problem(client.get("/api/v1/sites", headers={"Authorization": "Basic Y2xlcms6eA=="}), 401, "unauthenticated")
    revoke_all(app, "clerk")
    _problem(client.get("/api/v1/sites", headers=bearer(token)), 401, "unauthenticated")  # at once
    later = token_for(app, "clerk", days=1)
    expire_all(app, "clerk")
    _problem(client.get("/api/v1/sites", headers=bearer(later)), 401, "unauthenticated")


def test_a_deactivated_users_token_stops_working(app, world):
    from gridpatrol.accounts import services as accounts
    from gridpatrol.core.transaction import job_transaction
    from tests.issues.builders import user

    token = bearer(token_for(app, "clerk2"))
    client = app.test_client()
    assert client.get("/api/v1/sites", headers=token).status_code == 200
    with app.app_context(), job_transaction() as session:
        accounts.set_active(session, user(session, "clerk2"), False, actor=user(session, "root"))
    _problem(client.get("/api/v1/sites", headers=token), 401, "unauthenticated")


def test_a_token_does_not_open_the_pages(app, world):
    client = app.test_client()
    response = client.get("/s/TEST/issues", headers=bearer(token_for(app, "boss")))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_logged_in_browser_may_call_it(app, world):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "clerk", helpers.DEFAULT_PASSWORD))
    assert client.get("/api/v1/sites").status_code == 200


def test_unknown_paths_and_methods_answer_problems(app, world):
    client = app.test_client()
    token = bearer(token_for(app, "clerk"))
    _problem(client.get("/api/v1/nothing-here", headers=token), 404, "not_found")
    response = client.delete("/api/v1/sites", headers=token)
    _problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    _problem(client.get("/api/v1/sites/TEST/locate?lon=abc&lat=30", headers=token), 422, "invalid_request")
    body = _problem(client.get("/api/v1/sites/TEST/locate?lon=500&lat=30", headers=token), 422, "invalid_request")
    assert "lon" in body["errors"]["query"]


@pytest.mark.parametrize("query", ["lon=120.1505&lat=30.2795", "lon=120.1505&lat=30.2795&level=0"])
def test_locate_names_the_grid(app, world, query):
    body = app.test_client().get(f"/api/v1/sites/TEST/locate?{query}",
                                 headers=bearer(token_for(app, "clerk"))).get_json()
    assert body["inside"] is True and body["grid"]["code"] == "A01" and body["nearest"] is None


def test_the_token_is_never_in_the_log(app, world, caplog):
    token = token_for(app, "clerk")
    with caplog.at_level("DEBUG"):
        app.test_client().get("/api/v1/sites", headers=bearer(token))
        app.test_client().get("/api/v1/sites", headers=bearer(token[:-1] + "A"))
    assert token not in caplog.text and token[10:] not in caplog.text


@pytest.mark.slow
def test_gunicorns_access_log_never_holds_a_token(app, world, database_url, tmp_path):
    """The real server's access log: a token in the Authorization header is never logged, and one sent (wrongly)
    in a query string is replaced by [redacted]."""
    import urllib.error
    import urllib.request

    token = token_for(app, "clerk")
    server = helpers.GunicornServer(database_url, tmp_path, workers=1, threads=1)
    try:
        for path, headers in (("/api/v1/sites", bearer(token)), (f"/api/v1/sites?api_key={token}&x=1", {}),
                              (f"/api/v1/sites?token={token}", {})):
            try:
                urllib.request.urlopen(urllib.request.Request(server.url + path, headers=headers), timeout=10).read()
            except urllib.error.HTTPError:
                pass  # 401 for the query-string attempts: the point is the log
    finally:
        server.stop()
    log = server.access_log.read_text()
    assert log.count("/api/v1/sites") == 3 and "api_key=[redacted]&x=1" in log and "token=[redacted]" in log
    assert token not in log and token[3:20] not in log


def test_a_body_over_the_bound_is_refused_before_it_is_read(app, world):
    """1 MB by default (API_MAX_BODY_BYTES): a bigger declared body gets a 413 problem without being read (a
    chunked one is counted as it streams: tests/api/test_patrols.py). The token is checked first: an anonymous
    caller gets its 401 whatever it sends."""
    client = app.test_client()
    token = bearer(token_for(app, "clerk"))
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    _problem(client.get("/api/v1/sites", data=big, headers={**token, "Content-Type": "application/json"}),
             413, "too_large")
    _problem(client.get("/api/v1/sites", data=big, headers={"Content-Type": "application/json"}), 401,
             "unauthenticated")


def test_a_browsers_post_needs_the_csrf_header(app, world):
    """A logged-in session's unsafe request carries the page's CSRF token in X-CSRFToken, else 400 `csrf`."""
    from tests.issues.builders import file_report

    issue_id = file_report(app, "clerk")
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "clerk", helpers.DEFAULT_PASSWORD))
    path = f"/api/v1/sites/TEST/issues/{issue_id}/comments"
    _problem(client.post(path, json={"text": "还在漏水"}), 400, "csrf")
    _problem(client.post(path, json={"text": "还在漏水"}, headers={"X-CSRFToken": "forged"}), 400, "csrf")
    token = helpers.csrf_token(client, f"/s/TEST/issues/{issue_id}")  # the page's <meta name="csrf-token">
    response = client.post(path, json={"text": "还在漏水"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201 and response.get_json()["author"]["username"] == "clerk"
    assert [c["text"] for c in client.get(path).get_json()["items"]] == ["还在漏水"]


@pytest.mark.parametrize("body", [b'{"a": ' + b"9" * 5000 + b"}", b"[" * 100_000 + b"]" * 100_000])
def test_json_that_python_cannot_read_is_a_400_not_a_500(app, world, body):
    """An integer longer than Python parses from a string, nesting deeper than its recursion: malformed, 400."""
    response = app.test_client().post("/api/v1/sites/TEST/issues", data=body, headers={
        **bearer(token_for(app, "clerk")), "Content-Type": "application/json"})
    _problem(response, 400, "malformed_body")


def test_a_chunked_body_over_the_bound_is_too_large_not_malformed(app, world):
    """A body without a length, streamed in chunks (the server says the input is terminated, as gunicorn does for
    a chunked request): counted as it is read and refused at the bound (413), on an operation whose body the
    schema parser reads (a quick report: 32 MB) as on the default bound (a comment: 1 MB)."""
    import io
    import json as json_module

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    token = token_for(app, "clerk")
    for path, size in (("/api/v1/sites/TEST/issues/1/comments", 2 * 1024 * 1024),
                       ("/api/v1/sites/TEST/issues", 40 * 1024 * 1024)):
        body = json_module.dumps({"description": "x" * size}).encode()
        environ = EnvironBuilder(path=path, method="POST", headers={
            **bearer(token), "Content-Type": "application/json", "Transfer-Encoding": "chunked"}).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(body), True
        response = Response.from_app(app, environ)
        assert response.status_code == 413, response.get_data(as_text=True)[:300]
        assert response.mimetype == "application/problem+json" and response.get_json()["code"] == "too_large"


def test_the_bound_is_a_setting(database_url, tmp_path):
    """API_MAX_BODY_BYTES (a setting like the others, GRIDPATROL_API_MAX_BODY_BYTES): a smaller bound refuses a
    body the default takes."""
    from gridpatrol import create_app
    from tests.api import builders

    app = create_app({"DATABASE_URL": database_url, "API_MAX_BODY_BYTES": 200})
    builders.world(app)
    body = b'{"text": "' + b"x" * 300 + b'"}'
    response = app.test_client().post("/api/v1/sites/TEST/issues/1/comments", data=body, headers={
        **bearer(token_for(app, "clerk")), "Content-Type": "application/json"})
    _problem(response, 413, "too_large")
