"""Security headers on every answer (Flask-Talisman, with its per-endpoint work done once per endpoint): the same
values on every request, a view's own options honoured, HSTS and the HTTPS redirect still decided per request."""

from __future__ import annotations

import pytest

EXPECTED = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self'; worker-src 'self'; font-src 'self'; object-src 'none'; "
                               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=()",
}


def _headers(response) -> dict:
    return {name: response.headers.get(name) for name in EXPECTED}


def test_every_answer_carries_the_same_security_headers(client):
    for path in ("/login", "/healthz", "/no/such/page", "/login", "/healthz"):
        response = client.get(path)
        assert _headers(response) == EXPECTED, path
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


@pytest.fixture
def https_app(database_url):
    from gridpatrol import create_app
    from gridpatrol.extensions import db

    app = create_app({"DATABASE_URL": database_url, "FORCE_HTTPS": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_forced_https_redirects_pages_not_the_health_probe_and_sends_hsts_only_over_https(https_app):
    client = https_app.test_client()
    for _ in range(2):  # the second time from what was worked out the first time
        page = client.get("/login")
        assert page.status_code == 302 and page.headers["Location"] == "https://localhost/login"
        probe = client.get("/healthz/live")  # @talisman(force_https=False)
        assert probe.status_code == 200 and _headers(probe) == EXPECTED
        assert "Strict-Transport-Security" not in probe.headers
        secure = client.get("/login", base_url="https://localhost")
        assert secure.status_code == 200 and _headers(secure) == EXPECTED
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
