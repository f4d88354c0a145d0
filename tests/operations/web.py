"""A small HTTP client for the operations tests: urllib against a real gunicorn on loopback, cookies kept in a jar
that may be shared between servers (as a browser behind one proxy would), redirects not followed, and multipart
bodies built here (no third-party client needed)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from http.cookiejar import CookieJar

_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
TIMEOUT = 60


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request: fields by name, files as name → (filename, bytes,
    content type)."""
    boundary = "gridpatrol-" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + str(value).encode() + b"\r\n")
    for name, (filename, data, content_type) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Browser:
    """One person's browser: its cookies go to whichever server `base` names (cookies are not kept per port)."""

    def __init__(self, jar: CookieJar | None = None):
        self.jar = jar if jar is not None else CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, url: str, data: bytes | None = None, headers: dict | None = None) -> Answer:
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers), exc.read())

    def get(self, url: str) -> Answer:
        return self.request(url)

    def csrf_token(self, url: str) -> str:
        page = self.get(url)
        match = _CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {url} ({page.status})"
        return match.group(1)

    def post_form(self, url: str, fields: dict[str, str], *, files: dict | None = None,
                  token_from: str | None = None) -> Answer:
        fields = {"csrf_token": self.csrf_token(token_from or url), **fields}
        if files:
            body, content_type = multipart(fields, files)
        else:
            body, content_type = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        return self.request(url, body, {"Content-Type": content_type})

    def login(self, base: str, username: str, password: str) -> Answer:
        return self.post_form(base + "/login", {"username": username, "password": password})


def post_json(url: str, payload: dict, token: str) -> Answer:
    """The tablet's request: JSON with a bearer token, no cookies."""
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read())
