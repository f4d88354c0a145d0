"""Checkpoint QR codes (巡更点二维码): the signed payload on the poster, its verification, the SVG.

Payload format, version 1 (all upper case, so a QR code holds it in alphanumeric mode at a low version,
and a leader can type it from the poster when the tablet's camera fails)::

    GP1.<site code>.<checkpoint id>.<signature>
    GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM      (signed with the test suite's SECRET_KEY)

- ``GP1``: the format and its version. A later format gets a new prefix (``GP2``); ``GP1`` stays readable.
- site code: 1 to 20 of ``A-Z 0-9 - _`` (what ``grids.services.create_site`` allows; it never holds a dot).
- checkpoint id: the ``checkpoints.id`` primary key, decimal, no sign and no leading zero.
- signature: HMAC-SHA256 over ``GP1.<site code>.<checkpoint id>`` (the bytes before the last dot),
  truncated to 128 bits and written in RFC 4648 base32 without padding (26 characters ``A-Z 2-7``).
  The HMAC key is derived from the app's ``SECRET_KEY`` with the salt ``gridpatrol.checkpoint``: no other
  signature the app makes with SECRET_KEY (session, CSRF token) passes for a poster, nor the other way round.

At most 62 characters (site code of 20, a ten-digit id): version 4 at error correction level Q
(33 × 33 modules). A three-letter site code and a three-digit id make 38 characters: version 3-Q
(29 × 29). An underscore in a site code is outside the QR alphanumeric set and puts the code in byte
mode: up to version 6 (41 × 41), still large modules on an A4 poster.

The signature is what makes a scan evidence that someone stood in front of the poster: without the key
nobody can make a valid code for a checkpoint from its id. It does not stop anyone from photographing a
poster and scanning the photo elsewhere; the scan's location and timing checks are for that.

Rotating ``SECRET_KEY`` invalidates every printed poster. Reprint them all after a rotation — or keep the
old key in Flask's ``SECRET_KEY_FALLBACKS`` (a list; verification accepts codes signed with any of them,
new posters are always signed with the current key) until the new posters hang on the walls. (The
settings loader takes only keys config/defaults.py knows: ``SECRET_KEY_FALLBACKS = []`` must be added there
before an installation can set it.)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any, Optional

import segno
from flask import current_app
from markupsafe import Markup

from gridpatrol.core.time import utcnow
from gridpatrol.grids import bp

PREFIX = "GP1"
SALT = b"gridpatrol.checkpoint"
SIGNATURE_BYTES = 16  # 128 bits
SIGNATURE_CHARS = 26  # base32 of 16 bytes, padding stripped
MAX_PAYLOAD_CHARS = 62
ERROR_LEVEL = "Q"  # recovers 25% of the symbol: posters get scuffed, dirty and laminated with glare
QUIET_ZONE = 4  # modules of white border the QR standard requires around the symbol

_SITE_CODE = r"[A-Z0-9_-]{1,20}"
_CHECKPOINT_ID = r"[1-9][0-9]{0,9}"
_PAYLOAD_RE = re.compile(
    rf"(?P<signed>{PREFIX}\.(?P<site>{_SITE_CODE})\.(?P<id>{_CHECKPOINT_ID}))\.(?P<sig>[A-Z2-7]{{{SIGNATURE_CHARS}}})"
)
_SITE_CODE_RE = re.compile(_SITE_CODE)
_OTHER_VERSION_RE = re.compile(r"GP[0-9]+\.")
_CSS_LENGTH_RE = re.compile(r"[0-9]+(\.[0-9]+)?(mm|cm|in|pt|px|%)")


class ScanRejected(ValueError):
    """A scanned or typed text is not a valid checkpoint code. `reason` is a stable machine code."""

    reason = "rejected"

    def __init__(self, reason: Optional[str] = None, message: str = "") -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(message or self.reason)


class MalformedCode(ScanRejected):
    """Not a checkpoint code of ours: a foreign QR code, a typing slip, a cut-off scan.

    Reasons: ``empty``; ``foreign`` (not our prefix); ``version`` (a ``GPn`` prefix this version does not
    read); ``format`` (our prefix, but a field is missing, too long, or has characters it may not have).
    """

    reason = "format"


class ForgedCode(ScanRejected):
    """Our format, but the signature does not match the fields: altered, made up, or signed with another key.

    Reason: ``signature``.
    """

    reason = "signature"


@dataclass(frozen=True)
class VerifiedScan:
    site_code: str
    checkpoint_id: int


# --- signing ---------------------------------------------------------------------------------------
def _as_bytes(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode("utf-8")


def _derived_key(secret: Any) -> bytes:
    return hmac.new(_as_bytes(secret), SALT, hashlib.sha256).digest()


def _signature(secret: Any, signed: str) -> str:
    digest = hmac.new(_derived_key(secret), signed.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def _current_secret() -> Any:
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("SECRET_KEY is not set: checkpoint codes cannot be signed or verified")
    return secret


def _verification_secrets() -> list[Any]:
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, (str, bytes)):
        fallbacks = [fallbacks]
    return [_current_secret(), *[k for k in fallbacks if k]]


def sign_fields(site_code: str, checkpoint_id: int) -> str:
    """The payload for a site code and checkpoint id (needs an app context for the key)."""
    if not isinstance(site_code, str) or not _SITE_CODE_RE.fullmatch(site_code):
        raise ValueError(f"site code {site_code!r} cannot go into a checkpoint code (1-20 of A-Z 0-9 - _)")
    if isinstance(checkpoint_id, bool) or not isinstance(checkpoint_id, int) or not 0 < checkpoint_id < 10**10:
        raise ValueError(f"checkpoint id {checkpoint_id!r} is not a saved checkpoint's id")
    signed = f"{PREFIX}.{site_code}.{checkpoint_id}"
    return f"{signed}.{_signature(_current_secret(), signed)}"


def checkpoint_payload(checkpoint: Any) -> str:
    """The signed text for this checkpoint's QR poster. The checkpoint must be flushed (it needs its id)."""
    return sign_fields(checkpoint.grid.site.code, checkpoint.id)


def verify_payload(text: str) -> VerifiedScan:
    """Check a scanned or typed code; returns whose checkpoint it is, or raises a ScanRejected.

    Surrounding whitespace (a scanner's trailing newline, a typed space) is ignored; nothing else is
    forgiven: no case folding, no inner spaces. The signature is compared in constant time.
    Whether the checkpoint exists, is active and belongs to the patrol's grid is the caller's business.
    """
    if not isinstance(text, str):
        raise MalformedCode("format", "a checkpoint code is text")
    text = text.strip()
    if not text:
        raise MalformedCode("empty", "empty code")
    match = _PAYLOAD_RE.fullmatch(text) if len(text) <= MAX_PAYLOAD_CHARS else None
    if match is None:
        if text.startswith(PREFIX + "."):
            raise MalformedCode("format", "not a complete checkpoint code")
        if _OTHER_VERSION_RE.match(text):
            raise MalformedCode("version", "a checkpoint code of a format this version does not read")
        raise MalformedCode("foreign", "not a GridPatrol checkpoint code")
    signed, given = match.group("signed"), match.group("sig")
    valid = False
    for secret in _verification_secrets():
        # Every key is tried, so the time taken does not tell which one matched.
        valid |= hmac.compare_digest(_signature(secret, signed).encode("ascii"), given.encode("ascii"))
    if not valid:
        raise ForgedCode("signature", "the code's signature does not match")
    return VerifiedScan(site_code=match.group("site"), checkpoint_id=int(match.group("id")))


# --- drawing ---------------------------------------------------------------------------------------
def qr_symbol(payload: str) -> segno.QRCode:
    """The QR code for a payload: never a Micro QR (many tablet scanners cannot read those), level Q."""
    return segno.make_qr(payload, error=ERROR_LEVEL, boost_error=False)


def qr_svg(payload: str, *, size: Optional[str] = None, title: Optional[str] = None,
           css_class: str = "qr") -> Markup:
    """An inline ``<svg>`` of the payload's QR code for HTML, with the quiet zone.

    It has a ``viewBox`` in module units and, unless `size` is given, no width or height: the stylesheet
    sizes it and it stays crisp at any print size. `size` is a CSS length (``"80mm"``) for width and height.
    No XML declaration, no namespace (HTML supplies it), no style attribute (the CSP forbids inline style);
    colour is the ``stroke`` presentation attribute.
    """
    if size is not None and not _CSS_LENGTH_RE.fullmatch(size):
        raise ValueError(f"size {size!r} is not a CSS length such as 80mm")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", css_class):
        raise ValueError(f"css_class {css_class!r} is not a single class name")
    svg = qr_symbol(payload).svg_inline(
        omitsize=True, border=QUIET_ZONE, dark="#000", svgclass=css_class, lineclass=f"{css_class}-modules",
        title=title,
    )
    if size is not None:
        svg = svg.replace("<svg ", f'<svg width="{size}" height="{size}" ', 1)
    # segno escapes the title and writes nothing else that came from outside: safe as markup.
    return Markup(svg)


# --- posters ---------------------------------------------------------------------------------------
def print_date(grid: Any = None, *, now: Optional[dt.datetime] = None) -> dt.date:
    """Today in the grid's site time zone (else the app's default zone): the date printed on posters."""
    name = getattr(getattr(grid, "site", None), "timezone", None) or current_app.config.get("DEFAULT_TIMEZONE")
    try:
        zone = zoneinfo.ZoneInfo(name or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    return (now or utcnow()).astimezone(zone).date()


@bp.context_processor
def _poster_template_helpers() -> dict[str, Any]:
    # For grids/posters.html when the view passes no `printed_on` (templates of the grids blueprint only).
    return {"poster_print_date": print_date}
