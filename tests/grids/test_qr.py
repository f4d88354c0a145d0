"""Checkpoint QR codes: signing and verifying the payload, the SVG, and the printable posters page.

Most tests run on a bare `Flask(__name__)` with a SECRET_KEY (no database). The posters page is rendered
through the real app factory on a SQLite file that is never opened (no tables needed: the objects are
stand-ins and nobody logs in).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
import segno
from flask import Flask, render_template
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from gridpatrol.grids import qr
from gridpatrol.grids.qr import ForgedCode, MalformedCode, ScanRejected, VerifiedScan

KEY = "testing-secret-key-not-for-production"
OTHER_KEY = "another-installation-secret-key"
SITE_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def _site(code="GWH", name="管委会办公区", timezone="Asia/Shanghai"):
    return SimpleNamespace(code=code, name=name, timezone=timezone)


def _grid(site=None, code="A01", name="一号楼东区", building="1号楼", level=1):
    return SimpleNamespace(site=site or _site(), code=code, name=name, building=building, level=level)


def _checkpoint(id=123, code="CP-01", name="配电房东门", grid=None):
    return SimpleNamespace(id=id, code=code, name=name, grid=grid or _grid(), active=True)


def _bare_app(secret=KEY, fallbacks=None) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret
    if fallbacks is not None:
        app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    return app


@pytest.fixture
def qr_app():
    app = _bare_app()
    with app.app_context():
        yield app


@pytest.fixture
def payload(qr_app):
    return qr.checkpoint_payload(_checkpoint())


def _tamper(text: str, index: int) -> str:
    """Replace one character by another one that keeps the text in the format."""
    index %= len(text)
    old = text[index]
    new = next(c for c in ("A", "B", "2", "3") if c != old) if old.isalpha() or old in "234567" else (
        "7" if old != "7" else "8")
    return text[:index] + new + text[index + 1:]


# --- signing and verifying -------------------------------------------------------------------------
def test_round_trip(payload):
    assert re.fullmatch(r"GP1\.GWH\.123\.[A-Z2-7]{26}", payload)
    assert qr.verify_payload(payload) == VerifiedScan(site_code="GWH", checkpoint_id=123)


def test_known_answer_keeps_printed_posters_valid(qr_app):
    # The documented construction, computed here independently. If this test breaks, every poster
    # already on a wall stops scanning: change the format only under a new prefix (GP2).
    derived = hmac.new(KEY.encode(), b"gridpatrol.checkpoint", hashlib.sha256).digest()
    mac = hmac.new(derived, b"GP1.GWH.123", hashlib.sha256).digest()[:16]
    expected = "GP1.GWH.123." + base64.b32encode(mac).decode().rstrip("=")
    assert expected == "GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM"
    assert qr.sign_fields("GWH", 123) == expected


def test_bytes_secret_key_signs_like_the_same_text():
    with _bare_app(secret=KEY.encode()).app_context():
        assert qr.sign_fields("GWH", 123) == "GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM"


def test_signature_is_not_a_plain_hmac_of_the_secret_key(payload):
    # The salt separates poster signatures from anything else signed with SECRET_KEY.
    plain = hmac.new(KEY.encode(), b"GP1.GWH.123", hashlib.sha256).digest()[:16]
    assert payload.rsplit(".", 1)[1] != base64.b32encode(plain).decode().rstrip("=")


@pytest.mark.parametrize("wrap", [" {} ", "{}\n", "\t{}\r\n", "\u3000{}\u3000", "\n\n  {}"])
def test_surrounding_whitespace_is_tolerated(payload, wrap):
    assert qr.verify_payload(wrap.format(payload)).checkpoint_id == 123


def test_forged_signature(payload):
    for index in (-1, -13, -26):
        with pytest.raises(ForgedCode) as caught:
            qr.verify_payload(_tamper(payload, index))
        assert caught.value.reason == "signature"


def test_made_up_signature(payload):
    with pytest.raises(ForgedCode):
        qr.verify_payload(payload.rsplit(".", 1)[0] + "." + "A" * 26)


@pytest.mark.parametrize("other_id", ["124", "12", "1230", "321", "1"])
def test_altered_checkpoint_id(payload, other_id):
    head, sig = payload.rsplit(".", 1)
    with pytest.raises(ForgedCode):
        qr.verify_payload(f"GP1.GWH.{other_id}.{sig}")


@pytest.mark.parametrize("other_site", ["GWH2", "SSH", "GW", "GWH-", "GWH_"])
def test_altered_site_code(payload, other_site):
    sig = payload.rsplit(".", 1)[1]
    with pytest.raises(ForgedCode):
        qr.verify_payload(f"GP1.{other_site}.123.{sig}")


def test_fields_cannot_be_moved_across_the_separators(qr_app):
    # "GP1.A1.23" and "GP1.A.123" are different messages with different signatures.
    sig = qr.sign_fields("A1", 23).rsplit(".", 1)[1]
    with pytest.raises(ForgedCode):
        qr.verify_payload(f"GP1.A.123.{sig}")


@pytest.mark.parametrize("cut", [1, 2, 13, 25, 26, 27, 30])
def test_truncated_payload(payload, cut):
    with pytest.raises(MalformedCode) as caught:
        qr.verify_payload(payload[:-cut])
    assert caught.value.reason == "format"


def test_payload_signed_with_another_key(payload):
    with _bare_app(secret=OTHER_KEY).app_context():
        other = qr.checkpoint_payload(_checkpoint())
        assert qr.verify_payload(other).checkpoint_id == 123
        with pytest.raises(ForgedCode):
            qr.verify_payload(payload)
    assert other != payload
    with pytest.raises(ForgedCode):
        qr.verify_payload(other)


def test_old_key_in_secret_key_fallbacks_still_verifies_but_never_signs(payload):
    with _bare_app(secret=OTHER_KEY, fallbacks=[KEY]).app_context():
        assert qr.verify_payload(payload) == VerifiedScan("GWH", 123)
        assert qr.checkpoint_payload(_checkpoint()) != payload  # new posters use the new key
    with _bare_app(secret=OTHER_KEY, fallbacks=[]).app_context():
        with pytest.raises(ForgedCode):
            qr.verify_payload(payload)


def test_signature_is_compared_in_constant_time(payload, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(qr.hmac, "compare_digest", spy)
    qr.verify_payload(payload)
    with pytest.raises(ForgedCode):
        qr.verify_payload(_tamper(payload, -1))
    assert len(calls) == 2
    assert calls[0][0] == calls[0][1] == payload.rsplit(".", 1)[1].encode()


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("   \n", "empty"),
    ("hello", "foreign"),
    ("https://example.com/checkpoint/123", "foreign"),
    ("gp1.gwh.123.2oncnmbo3rupoggw4enwzlcvmm", "foreign"),  # no case folding
    ("GP2.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "version"),
    ("GP12.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "version"),
    ("GP1.GWH.123.2oncnmbo3rupoggw4enwzlcvmm", "format"),  # lower-case signature
    ("GP1.gwh.123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # lower-case site code
    ("GP1.GWH.0123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # leading zero
    ("GP1.GWH.0.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),
    ("GP1.GWH.-123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),
    ("GP1.GWH.+123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),
    ("GP1.GWH.１２３.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # full-width digits
    ("GP1.GWH.12345678901.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # id over ten digits
    ("GP1..123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),
    ("GP1.ABCDEFGHIJKLMNOPQRSTU.1.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # site code over 20
    ("GP1.G.WH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),
    ("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM=", "format"),  # padding
    ("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMMA", "format"),  # one character too many
    ("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVM1", "format"),  # 1 is not base32
    ("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM.X", "format"),
    ("GP1.GWH.123 .2ONCNMBO3RUPOGGW4ENWZLCVMM", "format"),  # inner space
    ("GP1.GWH.123.2ONCNMBO3RUP\nOGGW4ENWZLCVMM", "format"),
    ("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM\x00", "format"),
    ("GP1." + "A" * 10_000, "format"),
    ("\x00\x01\x02", "foreign"),
    ("巡更点", "foreign"),
])
def test_garbage_is_malformed(qr_app, text, reason):
    with pytest.raises(MalformedCode) as caught:
        qr.verify_payload(text)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ScanRejected) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", [None, b"GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM", 123])
def test_non_text_is_malformed(qr_app, value):
    with pytest.raises(MalformedCode):
        qr.verify_payload(value)  # type: ignore[arg-type]


def test_exceptions_carry_a_machine_reason():
    assert issubclass(ScanRejected, ValueError)
    assert ForgedCode().reason == "signature" and MalformedCode().reason == "format"
    assert MalformedCode("empty").reason == "empty"
    assert not issubclass(ForgedCode, MalformedCode) and not issubclass(MalformedCode, ForgedCode)


@pytest.mark.parametrize("site_code, checkpoint_id", [
    ("gwh", 1), ("G.W", 1), ("", 1), ("A" * 21, 1), ("管委会", 1), ("GW H", 1), (None, 1),
    ("GWH", 0), ("GWH", -1), ("GWH", True), ("GWH", "12"), ("GWH", 10**10), ("GWH", None), ("GWH", 1.0),
])
def test_unsignable_fields_are_refused(qr_app, site_code, checkpoint_id):
    with pytest.raises(ValueError) as caught:
        qr.sign_fields(site_code, checkpoint_id)
    assert not isinstance(caught.value, ScanRejected)


def test_unsaved_checkpoint_is_refused(qr_app):
    with pytest.raises(ValueError):
        qr.checkpoint_payload(_checkpoint(id=None))


def test_missing_secret_key_is_an_error():
    with _bare_app(secret=None).app_context():
        with pytest.raises(RuntimeError):
            qr.sign_fields("GWH", 1)
        with pytest.raises(RuntimeError):
            qr.verify_payload("GP1.GWH.123.2ONCNMBO3RUPOGGW4ENWZLCVMM")


def test_payload_length_bound(qr_app):
    longest = qr.sign_fields("A" * 20, 9_999_999_999)
    assert len(longest) == qr.MAX_PAYLOAD_CHARS == 62
    assert qr.verify_payload(longest) == VerifiedScan("A" * 20, 9_999_999_999)
    typical = qr.sign_fields("GWH", 123)
    assert len(typical) == 38
    # A low QR version: large modules on paper, an easy read for a tablet camera.
    assert qr.qr_symbol(typical).version == 3
    assert qr.qr_symbol(longest).version == 4
    assert qr.qr_symbol(typical).mode == "alphanumeric"
    assert qr.qr_symbol(qr.sign_fields("A_" * 10, 9_999_999_999)).version == 6  # byte mode, worst case


@settings(max_examples=150, deadline=None)
@given(site_code=st.text(SITE_CODE_ALPHABET, min_size=1, max_size=20),
       checkpoint_id=st.integers(min_value=1, max_value=9_999_999_999))
def test_every_signable_code_round_trips_within_the_bound(site_code, checkpoint_id):
    with _bare_app().app_context():
        text = qr.sign_fields(site_code, checkpoint_id)
        assert len(text) <= qr.MAX_PAYLOAD_CHARS
        assert qr.verify_payload(text) == VerifiedScan(site_code, checkpoint_id)
        symbol = qr.qr_symbol(text)
        assert symbol.error == "Q" and not symbol.is_micro
        # Alphanumeric mode keeps it at version 4 (33 × 33) at most; an underscore forces byte mode.
        assert symbol.version <= (6 if "_" in site_code else 4)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.from_regex(r"GP1\.[A-Z0-9_.-]{0,25}\.[0-9]{0,12}\.[A-Z2-7]{0,30}")))
def test_any_text_is_accepted_or_rejected_never_crashes(text):
    with _bare_app().app_context():
        try:
            scan = qr.verify_payload(text)
        except ScanRejected:
            return
        assert qr.sign_fields(scan.site_code, scan.checkpoint_id) == text.strip()


# --- the SVG ---------------------------------------------------------------------------------------
def _dark_modules(svg: str) -> tuple[int, set[tuple[int, int]]]:
    """Parse segno's path ("M x y.5 h n m dx dy ...", y at module centres) back into dark cells."""
    root = ET.fromstring(svg)
    size = int(root.get("viewBox").split()[2])
    (path,) = list(root.iter("path"))
    cells: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, a, b in re.findall(r"([MmHhVv])\s*(-?[0-9.]+)(?:\s+(-?[0-9.]+))?", path.get("d")):
        if op in "Mm":
            x, y = (float(a), float(b)) if op == "M" else (x + float(a), y + float(b))
        elif op in "Hh":
            end = float(a) if op == "H" else x + float(a)
            cells.update((int(y), col) for col in range(int(x), int(end)))
            x = end
        else:
            raise AssertionError(f"unexpected path operator {op}")
    return size, cells


def test_svg_is_inline_markup_with_a_viewbox(payload):
    svg = qr.qr_svg(payload)
    assert isinstance(svg, Markup)
    assert svg.startswith("<svg ") and "<?xml" not in svg
    root = ET.fromstring(str(svg))  # well-formed XML
    assert root.tag == "svg"
    symbol = qr.qr_symbol(payload)
    n = symbol.symbol_size(border=qr.QUIET_ZONE)[0]
    assert root.get("viewBox") == f"0 0 {n} {n}"
    assert root.get("width") is None and root.get("height") is None  # sized by print.css
    assert root.get("class") == "qr"
    # The CSP allows no inline style: presentation attributes only.
    assert "style" not in svg
    assert all("style" not in el.attrib for el in root.iter())


def test_svg_draws_exactly_the_modules_of_the_payloads_qr_code(payload):
    size, cells = _dark_modules(str(qr.qr_svg(payload)))
    symbol = segno.make_qr(payload, error="q", boost_error=False)
    assert not symbol.is_micro and symbol.error == "Q" and symbol.version == 3
    border = qr.QUIET_ZONE
    expected = {(r + border, c + border) for r, row in enumerate(symbol.matrix) for c, v in enumerate(row) if v}
    assert size == len(symbol.matrix) + 2 * border
    assert cells == expected
    # The quiet zone is blank.
    assert all(border <= r < size - border and border <= c < size - border for r, c in cells)


def test_svg_decodes_back_to_the_payload(payload):
    """A real decoder reads the drawn modules (runs where the zxing-cpp wheel is installed)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    np = pytest.importorskip("numpy")
    size, cells = _dark_modules(str(qr.qr_svg(payload)))
    pixels_per_module = 6
    image = np.full((size, size), 255, dtype=np.uint8)
    for r, c in cells:
        image[r, c] = 0
    image = np.kron(image, np.ones((pixels_per_module, pixels_per_module), dtype=np.uint8))
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [payload]
    assert qr.verify_payload(results[0].text) == VerifiedScan("GWH", 123)


def test_svg_size_and_title(payload):
    root = ET.fromstring(str(qr.qr_svg(payload, size="80mm", title="A01 <配电房> & co")))
    assert root.get("width") == root.get("height") == "80mm"
    assert root.get("viewBox")
    assert root.find("title").text == "A01 <配电房> & co"  # escaped by segno, parsed back here


@pytest.mark.parametrize("size", ["80", "80mm\" onload=\"x", "8 0mm", "calc(1mm)", ""])
def test_svg_size_must_be_a_plain_css_length(payload, size):
    with pytest.raises(ValueError):
        qr.qr_svg(payload, size=size)


def test_svg_class_must_be_a_class_name(payload):
    with pytest.raises(ValueError):
        qr.qr_svg(payload, css_class='qr" onload="alert(1)')


# --- print date -------------------------------------------------------------------------------------
def test_print_date_is_today_in_the_sites_time_zone(qr_app):
    late_evening_utc = dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.timezone.utc)
    assert qr.print_date(_grid(), now=late_evening_utc) == dt.date(2026, 3, 2)  # Asia/Shanghai
    london = _grid(site=_site(timezone="Europe/London"))
    assert qr.print_date(london, now=late_evening_utc) == dt.date(2026, 3, 1)
    assert qr.print_date(_grid(site=_site(timezone="Not/AZone")), now=late_evening_utc) == dt.date(2026, 3, 2)


# --- the posters page ---------------------------------------------------------------------------------
@pytest.fixture
def factory_app(tmp_path):
    """The real app (templates, Babel, CSP), on a SQLite file no test here ever opens."""
    from gridpatrol import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "DEFAULT_LOCALE": "en"})
    yield app
    from gridpatrol.extensions import db

    with app.app_context():
        db.engine.dispose()


def _posters(n, grid):
    items = []
    for i in range(1, n + 1):
        checkpoint = _checkpoint(id=100 + i, code=f"CP-{i:02d}", name=f"巡更点{i}号", grid=grid)
        payload = qr.checkpoint_payload(checkpoint)
        items.append({"checkpoint": checkpoint, "payload": payload, "svg": qr.qr_svg(payload)})
    return items


def _render(app, path="/", **context):
    with app.test_request_context(path):
        return render_template("grids/posters.html", **context)


def test_posters_page_shows_everything_a_poster_needs(factory_app):
    grid = _grid()
    with factory_app.app_context():
        posters = _posters(3, grid)
    html = _render(factory_app, grid=grid, posters=posters, printed_on=dt.date(2026, 3, 2))
    assert 'href="/static/css/print.css' in html
    assert html.count('<article class="poster">') == 3
    assert html.count("<svg ") == 3
    for item in posters:
        assert f"<code>{item['payload']}</code>" in html
        assert item["checkpoint"].code in html and item["checkpoint"].name in html
    assert "管委会办公区" in html and "A01" in html and "一号楼东区" in html
    assert "1号楼 · Floor 1" in html
    assert "Checkpoint — scan with the tablet" in html
    assert "Printed on 2026-03-02" in html
    assert 'class="print-hint no-print"' in html
    # CSP: no inline style and no inline script.
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_posters_are_grouped_two_or_four_to_a_sheet(factory_app):
    grid = _grid()
    with factory_app.app_context():
        posters = _posters(5, grid)
    two = _render(factory_app, grid=grid, posters=posters)
    assert two.count('class="poster-sheet per-page-2"') == 3
    four = _render(factory_app, grid=grid, posters=posters, per_page=4)
    assert four.count('class="poster-sheet per-page-4"') == 2
    from_url = _render(factory_app, "/?per_page=4", grid=grid, posters=posters)
    assert from_url.count('class="poster-sheet per-page-4"') == 2
    nonsense = _render(factory_app, "/?per_page=7", grid=grid, posters=posters)
    assert nonsense.count('class="poster-sheet per-page-2"') == 3


@pytest.mark.parametrize("level, building, shown", [
    (0, None, "Outdoor"), (0, "1号楼", "1号楼 · Outdoor"), (3, None, "Floor 3"), (-1, "2号楼", "2号楼 · B1"),
])
def test_poster_place_line(factory_app, level, building, shown):
    grid = _grid(level=level, building=building)
    with factory_app.app_context():
        posters = _posters(1, grid)
    html = _render(factory_app, grid=grid, posters=posters)
    assert f'<p class="poster-place">{shown}</p>' in html


def test_print_date_without_one_from_the_view(factory_app):
    grid = _grid()
    with factory_app.app_context():
        posters = _posters(1, grid)
    # Outside the grids blueprint there is no date helper: a blank line to fill in by hand.
    assert "Printed on __________" in _render(factory_app, grid=grid, posters=posters)
    # Under the grids blueprint (the real posters URL) the page prints today's date in the site's zone.
    with factory_app.app_context():
        today = qr.print_date(grid).isoformat()
    html = _render(factory_app, "/s/TEST/grids/1/posters", grid=grid, posters=posters)
    assert f"Printed on {today}" in html


def test_posters_page_without_checkpoints(factory_app):
    html = _render(factory_app, grid=_grid(), posters=[])
    assert "This grid has no checkpoints to print." in html
    assert "poster-sheet" not in html


def test_print_stylesheet_rules(factory_app):
    css = (factory_app.static_folder and open(f"{factory_app.static_folder}/css/print.css", encoding="utf-8").read())
    assert re.search(r"@page\s*{\s*size:\s*A4;\s*margin:\s*12mm;\s*}", css)
    print_block = css[css.index("@media print {"):]
    for selector in (".topbar", ".flash", ".no-print"):
        assert selector in print_block
    assert "break-inside: avoid" in css and "break-after: page" in print_block
    assert "background: none" in print_block
