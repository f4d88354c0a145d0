"""HTTP security: response headers (via Flask-Talisman), cookie flags, proxies."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from gridpatrol.extensions import talisman

# No inline script anywhere: every script is a file under /static.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


class SessionCookieInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS, even if not configured."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return bool(configured or (has_request_context() and request.is_secure))


def init_app(app: Flask) -> None:
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.session_interface = SessionCookieInterface()
    force_https = bool(app.config["FORCE_HTTPS"])
    talisman.init_app(
        app,
        force_https=force_https,
        strict_transport_security=force_https,
        session_cookie_secure=bool(app.config["SESSION_COOKIE_SECURE"]),
        session_cookie_http_only=True,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        x_content_type_options=True,
        permissions_policy={"geolocation": "(self)", "camera": "(self)", "microphone": "()"},
    )
