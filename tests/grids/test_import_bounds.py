"""Grid imports are bounded: the file's size in bytes (refused before it is parsed), vertices per grid and per file
(counted on the parsed JSON, refused before any geometry is built). A refused file changes nothing, on the upload
page, in the CLI and in the service; the upload's body is bounded before it is read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from shapely.geometry import Polygon

from gridpatrol.audit.models import AuditEvent
from gridpatrol.cli import main
from gridpatrol.core import settings
from gridpatrol.extensions import db
from gridpatrol.grids import geojson, services
from gridpatrol.grids.models import Grid, Site
from tests import helpers
from tests.grids import builders

SMALL = geojson.ImportLimits(max_bytes=64 * 1024, max_vertices_per_grid=100, max_vertices_per_file=300)


def wavy_cell(col: int, row: int, vertices: int):
    """The lattice cell (col, row) with its north edge drawn as `vertices` points along a tiny zigzag (5 mm), so
    that it is one valid polygon with that many positions (+ the 3 other corners and the closing repeat)."""
    cell = builders.cell(col, row)
    x0, y0, x1, y1 = cell.bounds
    xs = np.linspace(x1, x0, vertices)
    ys = y1 - (np.arange(vertices) % 2) * 5e-8
    ys[0] = ys[-1] = y1
    return Polygon([(x1, y0), *zip(xs, ys), (x0, y0)])


def _grids_state(app):
    with app.app_context():
        rows = db.session.execute(sa.select(Grid.code, Grid.geometry).order_by(Grid.code)).all()
        version = db.session.scalar(sa.select(Site.grids_version))
        imports = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "grids.imported"))
        return [(code, geometry.wkb) for code, geometry in rows], version, imports


# ------------------------------------------------------------------------------------------ pure functions


def test_a_grid_over_its_vertex_limit_is_named_with_its_count_before_any_geometry_is_built(monkeypatch):
    def no_geometry(*args):
        raise AssertionError("a geometry was built for a file over the vertex limits")

    monkeypatch.setattr(geojson, "_parse_geometry", no_geometry)
    big = wavy_cell(1, 0, 150)
    text = builders.collection(builders.feature("A01", builders.cell(0, 0)), builders.feature("A02", big),
                               builders.feature("A03", wavy_cell(0, 1, 120)))
    with pytest.raises(geojson.GridImportRefused) as info:
        geojson.parse_grid_collection(text, SMALL)
    problems = info.value.problems
    assert [(p.reason, p.index, p.code, p.details["count"]) for p in problems] == [
        ("too_many_vertices", 1, "A02", 153), ("too_many_vertices", 2, "A03", 123)]
    assert "A02" in problems[0].message and "153" in problems[0].message and "100" in problems[0].message


def test_a_file_over_its_vertex_limit_names_its_total_and_largest_grid():
    text = builders.collection(*(builders.feature(f"A0{i + 1}", wavy_cell(i, 0, 90)) for i in range(4)))
    with pytest.raises(geojson.GridImportRefused) as info:
        geojson.parse_grid_collection(text, SMALL)
    (problem,) = info.value.problems
    assert (problem.reason, problem.index, problem.details["count"]) == ("too_many_vertices_in_file", None, 4 * 93)
    assert "372" in problem.message and "300" in problem.message and "A01" in problem.message
    # Under both limits the same grids import.
    assert len(geojson.parse_grid_collection(text, geojson.ImportLimits(max_vertices_per_file=400))) == 4


def test_a_file_over_its_byte_limit_is_refused_before_it_is_parsed():
    text = "[" * (SMALL.max_bytes + 1)  # would be broken (and deeply nested) JSON, if it were parsed
    with pytest.raises(geojson.GridImportRefused) as info:
        geojson.parse_grid_collection(text, SMALL)
    (problem,) = info.value.problems
    assert problem.reason == "too_large" and problem.details == {"size": SMALL.max_bytes + 1, "limit": 65536}
    assert problem.message == "The file is 64 KB; at most 64 KB can be imported."
    assert geojson.size_text(5 * 2**20 + 2**19) == "5.5 MB" and geojson.size_text(4 * 2**20) == "4 MB"


class CountingStream(io.RawIOBase):
    """A body that counts how much of it was read (every read goes through readinto)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)
        self.taken = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking, which reads nothing
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def readinto(self, buffer) -> int:
        n = self._data.readinto(buffer)
        self.taken += n
        return n


def test_read_bounded_reads_no_further_than_the_limit(tmp_path):
    stream = CountingStream(b"x" * 10_000_000)
    with pytest.raises(geojson.GridImportRefused) as info:
        geojson.read_bounded(stream, 1000)
    assert stream.taken == 1001
    assert info.value.problems[0].details["size"] is None  # a stream: only "larger than" is known
    assert "larger than 1000 B" in info.value.problems[0].message
    path = tmp_path / "big.geojson"
    path.write_bytes(b" " * 5000)
    with path.open("rb") as file, pytest.raises(geojson.GridImportRefused) as info:
        geojson.read_bounded(file, 1000)
    assert info.value.problems[0].details["size"] == 5000  # a file: its size is told
    assert geojson.read_bounded(io.BytesIO(b"{}"), 2) == b"{}"


def test_the_configured_defaults_are_the_modules_and_fit_the_demo_compound():
    defaults = settings._read_pyfile(settings.DEFAULTS_FILE)
    assert geojson.ImportLimits.from_config(defaults) == geojson.ImportLimits()
    demo = Path(__file__).resolve().parents[2] / "gridpatrol/demo/data/compound.geojson"
    assert len(geojson.parse_grid_collection(demo.read_bytes())) == 49


# --------------------------------------------------------------------------------- service, page and CLI


@pytest.fixture
def site(app):
    builders.make_site(app, grids=builders.two_by_two())
    app.config.update(GRID_IMPORT_MAX_BYTES=SMALL.max_bytes, GRID_IMPORT_MAX_VERTICES_PER_GRID=100,
                      GRID_IMPORT_MAX_VERTICES_PER_FILE=300)
    return _grids_state(app)


def _too_many_vertices() -> str:
    # A01 redrawn with 150 vertices: a change of a stored grid, refused whole with the new A05.
    return builders.collection(builders.feature("A01", wavy_cell(0, 0, 150)),
                               builders.feature("A05", builders.cell(2, 0)))


def _too_many_bytes() -> str:
    return builders.collection(builders.feature("A05", builders.cell(2, 0), description="说" * 30_000))


@pytest.mark.parametrize("make, reason", [(_too_many_vertices, "too_many_vertices"),
                                          (_too_many_bytes, "too_large")])
def test_the_service_refuses_a_file_over_the_configured_limits_and_changes_nothing(app, site, make, reason):
    from gridpatrol.core.transaction import job_transaction

    with app.app_context(), pytest.raises(geojson.GridImportRefused) as info, job_transaction() as session:
        services.import_grids(session, session.scalar(sa.select(Site)), make())
    assert info.value.reasons == {reason}
    assert _grids_state(app) == site


def _admin(app):
    client = app.test_client()
    helpers.login(client, helpers.make_user(app, "admin1", roles=("admin",)))
    return client


def _upload(client, body: bytes, token: str | None = None):
    data = {"file": (io.BytesIO(body), "grids.geojson")}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/admin/sites/TEST/import", data=data, content_type="multipart/form-data")


def test_the_upload_page_tells_the_limits_and_refuses_too_many_vertices_naming_the_grid(app, site):
    admin = _admin(app)
    page = admin.get("/admin/sites/TEST/import").get_data(as_text=True)
    assert "文件最大 64 KB，每个网格最多 100 个顶点，整个文件最多 300 个。" in page
    response = _upload(admin, _too_many_vertices().encode(), helpers.csrf_token(admin, "/admin/sites/TEST/import"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<code>too_many_vertices</code>" in html
    assert "features[0] “A01” 有 153 个顶点，一个网格最多 100 个。" in html
    assert _grids_state(app) == site


def test_the_upload_page_refuses_a_file_over_the_byte_limit(app, site):
    admin = _admin(app)
    token = helpers.csrf_token(admin, "/admin/sites/TEST/import")
    body = _too_many_bytes().encode()
    assert SMALL.max_bytes < len(body) < SMALL.max_bytes + 64 * 1024  # within the body's bound: the file is checked
    response = _upload(admin, body, token)
    assert response.status_code == 422
    assert "<code>too_large</code>" in response.get_data(as_text=True)
    assert "最多只能导入 64 KB" in response.get_data(as_text=True)
    assert _grids_state(app) == site


def test_a_body_over_the_bound_is_refused_before_it_is_read(app, site):
    admin = _admin(app)
    token = helpers.csrf_token(admin, "/admin/sites/TEST/import")
    boundary = "bound"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="g.geojson"\r\n'
            "Content-Type: application/geo+json\r\n\r\n").encode()
    body = head + b" " * 5_000_000 + f"\r\n--{boundary}--\r\n".encode()
    bound = SMALL.max_bytes + 64 * 1024
    for chunked in (False, True):
        stream = CountingStream(body)
        headers = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
        # A server that decodes a chunked body says so with wsgi.input_terminated (gunicorn does).
        response = admin.post("/admin/sites/TEST/import", input_stream=stream, headers=headers,
                              environ_overrides={"wsgi.input_terminated": True} if chunked else {},
                              content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code == 413, chunked
        html = response.get_data(as_text=True)
        assert "<code>too_large</code>" in html and "文件超过 64 KB" in html
        assert stream.taken <= (bound + 64 * 1024 if chunked else 0)  # a declared length: nothing read at all
    assert _grids_state(app) == site


def test_the_upload_still_needs_its_csrf_token(app, site):
    admin = _admin(app)
    good = builders.collection(builders.feature("A05", builders.cell(2, 0))).encode()
    assert _upload(admin, good).status_code == 400
    assert _grids_state(app) == site
    assert _upload(admin, good, helpers.csrf_token(admin, "/admin/sites/TEST/import")).status_code == 200
    assert len(_grids_state(app)[0]) == 5


def test_only_an_admin_reaches_the_bound(app, site):
    staff = app.test_client()
    helpers.login(staff, helpers.make_user(app, "staff1"))
    assert _upload(staff, b" " * 200_000).status_code == 403
    assert app.test_client().post("/admin/sites/TEST/import", data=b" " * 200_000).status_code in (302, 401)


def _cli(app, args):
    return CliRunner().invoke(main, args, env={
        "GRIDPATROL_DATABASE_URL": app.config["DATABASE_URL"], "GRIDPATROL_GRID_IMPORT_MAX_BYTES": "65536",
        "GRIDPATROL_GRID_IMPORT_MAX_VERTICES_PER_GRID": "100", "GRIDPATROL_GRID_IMPORT_MAX_VERTICES_PER_FILE": "300"})


@pytest.mark.parametrize("make, expected", [
    (_too_many_vertices, "[too_many_vertices] features[0] “A01” 有 153 个顶点"),
    (lambda: _too_many_bytes() + " " * 100_000, "[too_large] 文件大小为 1"),  # its size, from the file
])
def test_the_cli_refuses_a_file_over_the_configured_limits(app, site, tmp_path, make, expected):
    path = tmp_path / "grids.geojson"
    path.write_text(make(), encoding="utf-8")
    result = _cli(app, ["grids", "import", str(path), "--site", "TEST"])
    assert result.exit_code == 1 and expected in result.output and "nothing was imported" in result.output
    assert _grids_state(app) == site
