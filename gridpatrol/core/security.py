"""HTTP security: response headers (via Flask-Talisman), cookie flags, proxies."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_talisman import Talisman
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

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


class SecurityHeaders(Talisman):
    """Flask-Talisman, with what it works out anew for every request worked out once per endpoint.

    Talisman looks the view's options up three times a request and joins the same policies into the same header
    values for every response. Both depend only on the endpoint (its `@talisman(...)` options) and this instance's
    settings: no CSP nonce is configured here (then Talisman itself is asked every time). The headers that depend on
    the request (HSTS over HTTPS, the HTTPS redirect) are still decided per request by Talisman's own code."""

    def init_app(self, app: Flask, **kwargs) -> None:
        self._options_by_endpoint: dict = {}
        self._headers_by_endpoint: dict = {}
        super().init_app(app, **kwargs)

    def _get_local_options(self):
        endpoint = request.endpoint
        options = self._options_by_endpoint.get(endpoint)
        if options is None:
            options = self._options_by_endpoint[endpoint] = super()._get_local_options()
        return options

    def _set_response_headers(self, response):
        options = self._get_local_options()
        if options["content_security_policy_nonce_in"]:
            return super()._set_response_headers(response)
        headers = self._headers_by_endpoint.get(request.endpoint)
        if headers is None:
            built = Headers()
            self._set_feature_policy_headers(built, options)
            self._set_permissions_policy_headers(built, options)
            self._set_document_policy_headers(built, options)
            self._set_frame_options_headers(built, options)
            self._set_content_security_policy_headers(built, options)
            self._set_referrer_policy_headers(built)
            headers = self._headers_by_endpoint[request.endpoint] = tuple(built.items())
        for name, value in headers:
            response.headers[name] = value
        self._set_hsts_headers(response.headers)
        return response

    def _set_hsts_headers(self, headers) -> None:
        if self.strict_transport_security:  # else Talisman would look at the request only to send nothing
            super()._set_hsts_headers(headers)


class SessionCookieInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS, even if not configured."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return bool(configured or (has_request_context() and request.is_secure))


def init_app(app: Flask) -> None:
    from gridpatrol.extensions import talisman

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
