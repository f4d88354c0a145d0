"""Bad input is refused before it reaches a service (issue 15): generated bad query strings to every page and list
that reads its query, and generated bad bodies to the patrol submission (the plain form's and the API's), answer
a 4xx — never a 500 — and change nothing in the database.

Which pages: every GET rule of the app's url_map whose path the world below can fill (two sites, tests/sites),
opened by each role that may see it (a plain GET answers 200) and that reads its query string. What a view reads
is recorded, not listed: the app's request class is swapped for one whose `args` note every name a view or its
template asks for (or "all of them", when the query is passed on whole, as the site switcher's link does). The
names the strategies send are the recorded ones plus QUERY_NAMES, the vocabulary of the app's filters; a test
fails when a view starts reading a name that is not in it, so the vocabulary keeps up.

"No change" is a hash of every row of every table (reflected from the database, so no table is forgotten) taken
before and after each example, less the bookkeeping a read may write, each named in BOOKKEEPING with its reason.

Hypothesis runs derandomized (the same examples on every run and in CI) with a bound on examples per page, and
the reported 500s (issue 15's hostile test) are explicit examples. One world is built per module and database,
so the two databases' runs each take about a minute on a small machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import quote

import pytest
import sqlalchemy as sa
import time_machine
from flask import Request
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict

from tests import helpers
from tests.sites import builders as site_builders

# --- what a view reads ---------------------------------------------------------------------------------------------
ALL = "*"  # the view passed the whole query on (iterated it)
_READ: set[str] = set()


class _RecordingArgs(ImmutableMultiDict):
    """`request.args` that notes each name asked for."""

    def __getitem__(self, key):
        _READ.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        _READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _READ.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        _READ.add(key)
        return super().__contains__(key)

    def keys(self):
        _READ.add(ALL)
        return super().keys()

    def items(self, multi=False):
        _READ.add(ALL)
        return super().items(multi)

    def lists(self):
        _READ.add(ALL)
        return super().lists()

    def values(self):
        _READ.add(ALL)
        return super().values()

    def __iter__(self):
        _READ.add(ALL)
        return super().__iter__()


class RecordingRequest(Request):
    parameter_storage_class = _RecordingArgs


# The names of the app's query parameters (filters, paging, sorting, periods, Open311's). A view that reads a name
# not in this list fails test_every_name_a_view_reads_is_fuzzed: add it here.
QUERY_NAMES = (
    "page", "per_page", "state", "all", "grid", "level", "category", "severity", "team", "overdue", "from", "to",
    "due", "due_from", "due_to", "closed_from", "closed_to", "on_time", "reworked", "day", "plan", "leader", "user",
    "year", "month", "kind", "period", "as_of", "group", "action", "sort", "dir", "version", "next", "site",
    "per_page", "q", "status", "start_date", "end_date", "service_code", "service_request_id", "api_key", "lat",
    "long", "radius", "jurisdiction_id", "source", "grid_id", "assignee", "lon", "code", "include", "order",
    "deadline_from", "deadline_to", "reported_from", "reported_to", "mine", "issue", "month_from", "month_to",
)

# --- the world -------------------------------------------------------------------------------------------------------
NOW = site_builders.NOW  # 2026-11-18 10:00 in Shanghai: the plan's patrol of the day runs 08:00–10:00, grace 11:00
IN_THE_WINDOW = dt.datetime(2026, 11, 18, 9, 0, tzinfo=site_builders.SHANGHAI)
ROLES = {  # who opens the pages: the login name (None: nobody logged in)
    "anonymous": None, "admin": "root", "supervisor": "boss_a", "grid_leader": "leader_a", "rectifier": "fixer_a",
    "staff": "clerk_a",
}
SKIPPED_ENDPOINTS = {
    "static": "files, not a view",
    "patrols.service_worker": "a script file",
    "open311.unknown": "any path below /open311/: answers 404 for each",
}
# Rows a read may write, with why; excluded from the "nothing changed" hash.
BOOKKEEPING: dict[tuple[str, Optional[str]], str] = {
    ("audit_events", None): "a refusal (403) is audited despite the rollback (core/errors.py permission_denied)",
    ("users", "last_seen_at"): "the session's last-seen time",
    ("api_tokens", "last_used_at"): "a token's last use (accounts/tokens.py)",
}


# A role reaches a view when it answers the page or says what is missing from the query (a list whose filter is
# required); not when it redirects to the login, refuses the role or finds nothing.
REACHED = {200, 400, 422}


@dataclass
class Page:
    path: str
    roles: list[str] = field(default_factory=list)  # the roles that may open it (200)
    names: set[str] = field(default_factory=set)  # what it read from the query string


@dataclass
class World:
    app: object
    objects: dict
    clients: dict
    pages: dict[str, Page]
    tables: list
    patrol_id: int
    items: list[int]

    def checksum(self) -> str:
        from gridpatrol.extensions import db

        digest = hashlib.sha256()
        with self.app.app_context():
            with db.engine.connect() as conn:
                for table in self.tables:
                    if (table.name, None) in BOOKKEEPING:
                        continue
                    columns = [c for c in table.columns if (table.name, c.name) not in BOOKKEEPING]
                    order = list(table.primary_key.columns) or columns
                    rows = conn.execute(sa.select(*columns).order_by(*order)).all()
                    digest.update(repr((table.name, rows)).encode())
        return digest.hexdigest()


def _rules(app):
    """(key, rule, fmt) for every GET rule of the url_map; `fmt` for rules with a file-format part."""
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        formats = ("csv", "xlsx", "json", "xml") if "fmt" in rule.arguments else (None,)
        for fmt in formats:
            out.append((rule.rule + (f" [{fmt}]" if fmt else ""), rule, fmt))
    return out


def _collected_rules() -> list[str]:
    from gridpatrol import create_app

    return [key for key, _rule, _fmt in _rules(create_app({"DATABASE_URL": "sqlite://"}))]


RULE_KEYS = _collected_rules()


def _path_values(app, objects) -> dict:
    """A value for every variable of the app's rules, from the world."""
    from gridpatrol.accounts.models import Team, User
    from gridpatrol.extensions import db
    from gridpatrol.issues.models import IssuePhoto
    from gridpatrol.patrols.models import PatrolPhoto
    from gridpatrol.standards.models import ChecklistTemplate, TemplateItem

    test = objects["TEST"]
    with app.app_context():
        first = lambda query: db.session.scalar(query)  # noqa: E731
        return {
            "site": "TEST", "code": "TEST", "issue_id": test.issue_id, "patrol_id": test.patrol_id,
            "plan_id": test.plan_id, "grid_id": test.grid_id, "request_id": str(test.issue_id),
            "team_id": first(sa.select(Team.id).order_by(Team.id)),
            "user_id": first(sa.select(User.id).where(User.username == "leader_a")),
            "template_id": first(sa.select(ChecklistTemplate.id).order_by(ChecklistTemplate.id)),
            "item_id": first(sa.select(TemplateItem.id).order_by(TemplateItem.id)),
            "photo_id": first(sa.select(IssuePhoto.id).order_by(IssuePhoto.id))
            or first(sa.select(PatrolPhoto.id).order_by(PatrolPhoto.id)),
            "number": 1, "service_code": "water_power", "rest": "x",
        }


def _login(app, username: Optional[str]):
    client = app.test_client()
    if username is not None:
        response = helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
        assert response.status_code == 302, username
    return client


def _discover(app, clients, values) -> dict[str, Page]:
    pages = {}
    for key, rule, fmt in _rules(app):
        filled = {**values, **({"fmt": fmt} if fmt else {})}
        built = rule.build({k: filled[k] for k in rule.arguments}, append_unknown=False)
        assert built is not None, rule.rule
        page = Page(built[1])
        for role, client in clients.items():
            _READ.clear()
            response = client.get(page.path)
            if response.status_code in REACHED:
                page.roles.append(role)
                page.names |= _READ
        pages[key] = page
    return pages


@pytest.fixture(scope="module")
def world(database_backend, tmp_path_factory):
    from gridpatrol import create_app
    from gridpatrol.extensions import db
    from gridpatrol.grids.models import Grid
    from gridpatrol.patrols.models import Patrol

    backend, template = database_backend
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "gridpatrol.sqlite"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    else:
        url = template
    app = create_app({"DATABASE_URL": url})
    app.request_class = RecordingRequest
    objects = site_builders.two_sites(app)
    with app.app_context():
        # The TEST site's patrol of 18 November (08:00–10:00, grace to 11:00), open at IN_THE_WINDOW.
        patrol = db.session.scalar(
            sa.select(Patrol).join(Grid).where(Grid.site_id == objects["TEST"].site_id,
                                               Patrol.window_start == dt.datetime(2026, 11, 18, 0, 0,
                                                                                  tzinfo=dt.timezone.utc)))
        assert patrol is not None
        patrol_id, items = patrol.id, [i.id for i in patrol.template_version.items]
        tables = sa.MetaData()
        tables.reflect(bind=db.engine)
        db.session.remove()
    clients = {role: _login(app, username) for role, username in ROLES.items()}
    pages = _discover(app, clients, _path_values(app, objects))
    yield World(app, objects, clients, pages, list(tables.sorted_tables), patrol_id, items)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        helpers.truncate_postgres(url)


# --- bad query strings -------------------------------------------------------------------------------------------------
def _text(value: str) -> str:
    return quote(value, safe="")


RAW = ("%ED%A0%80", "%ED%B0%80", "%FF", "%C0%80", "%F4%90%80%80", "%E2%82", "%", "%0", "%00", "%2500")
DATES = ("0001-01-01", "9999-12-31", "10000-01-01", "1999-12-31", "3000-01-01", "2026-02-30", "2026-13-01",
         "-2026-01-01", "2026-1-1", "20261118", "2026-11-18T25:00", "2026-11-18T10:00:00+99:00", "0000-01",
         "9999-12", "2026-13", "2026-00", "2026-W47", "2026-Q5", "2026-H3", "+002026-11-18")

_values = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from((str(2**31), str(2**63), str(-2**63 - 1), "9" * 5000, "1e400", "nan", "-0", "0x10", " 1 ",
                     "1.5", "١٢٣")),
    st.sampled_from(DATES),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat),
    st.text(max_size=20).map(_text),  # any Unicode, NUL included
    st.text(alphabet="\x00\t\n\r ab1-", max_size=10).map(_text),
    st.lists(st.sampled_from(RAW), min_size=1, max_size=3).map("".join),
    st.integers(min_value=2_000, max_value=100_000).map(lambda n: "x" * n),
    st.just(""),
    st.sampled_from(("today", "desc", "asc", "1", "0", "true", "closed", "missed", "month", "quarter", "year",
                     "grid", "team", "csv", "TEST", "OTHER")),
)


def _query(names: list[str]):
    name = st.one_of(st.sampled_from(names), st.sampled_from(names).map(lambda n: n + "%00"),
                     st.sampled_from(RAW))
    pair = st.tuples(name, _values).map(lambda p: f"{p[0]}={p[1]}")
    return st.lists(pair, min_size=1, max_size=4).map("&".join)


# The filter strings of issue 15's report that answered 500: each page that reads the name gets them.
REPORTED = [
    "grid=99999999999999999999", "site=99999999999999999999", "level=99999999999999999999",
    "page=99999999999999999999", "user=99999999999999999999", "year=99999999999999999999",
    "team=-99999999999999999999", "plan=99999999999999999999", "version=99999999999999999999",
    "from=0001-01-01", "to=0001-01-01", "due_from=0001-01-01", "closed_to=9999-12-31", "as_of=0001-01-01",
    "day=10000-01-01", "month=0001-01", "period=9999-12", "year=0", "year=10000",
    "grid=%00", "category=%00", "severity=%00", "action=%00", "state=%00", "sort=%00", "next=%00", "month=%00",
    "kind=%00", "period=%00", "group=%00", "status=%00", "q=%ED%A0%80", "category=%FF", "page=1&page=99999999999999999999",
]


def _reported_for(page: Page) -> list[str]:
    names = page.names
    return [q for q in REPORTED if ALL in names or q.split("=", 1)[0] in names]


def _assert_refused_or_shown(world: World, page: Page, query: str) -> None:
    before = world.checksum()
    for role in page.roles:
        response = world.clients[role].get(f"{page.path}?{query}")
        assert response.status_code < 500, (role, page.path, query, response.get_data(as_text=True)[:500])
        if response.status_code == 400:  # a refusal says what was wrong
            text = response.get_data(as_text=True)
            assert "400" in text or "detail" in text, text[:500]
    assert world.checksum() == before, (page.path, query)


FUZZ_SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("key", RULE_KEYS)
def test_a_bad_query_is_answered_below_500_and_changes_nothing(world, key):
    page = world.pages[key]
    if not page.roles:
        pytest.skip("no role reaches it in this world (a 404, a redirect or 403 for every role)")
    if not page.names:
        pytest.skip("reads nothing from its query string")
    for query in _reported_for(page):
        _assert_refused_or_shown(world, page, query)
    names = sorted((page.names - {ALL}) | set(QUERY_NAMES) if ALL in page.names else page.names)

    @FUZZ_SETTINGS
    @given(query=_query(names))
    def fuzz(query):
        _assert_refused_or_shown(world, page, query)

    fuzz()


def test_every_name_a_view_reads_is_fuzzed(world):
    read = set().union(*(p.names for p in world.pages.values())) - {ALL}
    assert read <= set(QUERY_NAMES), sorted(read - set(QUERY_NAMES))


def test_the_walk_reaches_the_list_pages(world):
    """The walk is not vacuous: the list pages named in issue 15 are opened and read their filters."""
    opened = {key.split(" [")[0]: page for key, page in world.pages.items() if page.roles}
    for rule, names in (("/s/<site>/issues", {"grid", "from", "page"}), ("/s/<site>/patrols/board", {"day", "level"}),
                        ("/s/<site>/points/", {"month"}), ("/admin/audit/", {"page", "action"}),
                        ("/s/<site>/issues/metrics", {"as_of"}), ("/s/<site>/admin/calendar/", {"year"}),
                        ("/api/v1/sites/<site>/issues", {"page"})):
        assert rule in opened, rule
        assert names <= opened[rule].names, (rule, opened[rule].names)


# --- bad submissions ---------------------------------------------------------------------------------------------------
def _form_strategy(items: list[int]):
    """A plain form's fields with at least one thing wrong in them."""
    text = st.text(max_size=30)
    bad_text = st.builds(lambda a, b: a + "\x00" + b, text, text)
    result = st.sampled_from(("pass", "fail", "na"))
    bad_result = st.one_of(st.sampled_from(("maybe", "", "PASS", "pass\x00", "1")), bad_text)
    uuid_ok = st.builds(lambda: str(uuid.uuid4()))
    bad_uuid = st.one_of(st.text(max_size=7), st.text(min_size=37, max_size=60), bad_text.map(lambda t: "12345678" + t),
                         st.just(" " * 10))

    @st.composite
    def fields(draw):
        wrong = draw(st.sampled_from(("result", "note", "uuid", "scans", "missing")))
        data = {"client_uuid": draw(bad_uuid if wrong == "uuid" else uuid_ok)}
        for n, item in enumerate(items):
            if wrong == "missing" and n == 0:
                continue
            data[f"answer-{item}"] = draw(bad_result if wrong == "result" and n == 0 else result)
            data[f"note-{item}"] = draw(bad_text if wrong == "note" and n == 0 else text.filter(lambda t: "\x00" not in t))
        if wrong == "scans":
            data["scans"] = draw(st.one_of(bad_text, st.text(alphabet="\x00\n AB-", min_size=1, max_size=20)
                                           .filter(lambda t: "\x00" in t)))
        return data

    return fields()


def _payload(world: World, **changes) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "completed_at": IN_THE_WINDOW.isoformat(),
            "answers": [{"item_id": i, "result": "pass", "note": "", "photos": []} for i in world.items],
            "scans": [], "location": None, **changes}


_scalar_junk = st.one_of(st.integers(min_value=-10**40, max_value=10**40), st.floats(allow_nan=True, allow_infinity=True))
_containers = st.one_of(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), min_size=1, max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
_nul_text = st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=5), st.text(max_size=5))
_surrogate_text = st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), st.sampled_from(("\ud800", "\udbff", "\udfff")),
                            st.text(max_size=5))
_bad_times = st.sampled_from(("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59+08:00",
                              "3000-01-01T00:00:00+00:00", "10000-01-01T00:00:00+08:00", "0001-01-01T00:00:00",
                              "2026-11-18T09:00:00", "2026-11-18T09:00:00+99:00", "yesterday", "2026-02-30T09:00+08:00"))
# For each field, values that are wrong whatever the rest of the payload says.
_BAD_FIELD = {
    "client_uuid": st.one_of(_scalar_junk, _containers, st.none(), st.booleans(), st.text(max_size=7),
                             st.text(min_size=37, max_size=60), _nul_text.map(lambda t: "12345678" + t),
                             _surrogate_text.map(lambda t: "12345678" + t)),
    "completed_at": st.one_of(_scalar_junk, _containers, st.booleans(), _nul_text, _surrogate_text, _bad_times,
                              st.text(min_size=65, max_size=80)),
    "answers": st.one_of(st.none(), _scalar_junk, st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                      max_size=2),
                         st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=3)),
    "scans": st.one_of(_scalar_junk, st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                       st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), min_size=1, max_size=3),
                       st.lists(st.fixed_dictionaries({"code": st.one_of(_nul_text, _surrogate_text, st.just("NO-SUCH")),
                                                       "scanned_at": _bad_times}), min_size=1, max_size=2)),
    "location": st.one_of(_scalar_junk, st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just({}),
                          st.fixed_dictionaries({"lon": st.one_of(st.floats(min_value=180, exclude_min=True),
                                                                  st.floats(max_value=-180, exclude_max=True),
                                                                  st.just(float("nan")), st.none(), _containers),
                                                 "lat": st.just(31.0)})),
    "photos": st.one_of(st.none(), _scalar_junk, st.text(max_size=5), _containers),  # not a field of the payload
}
_BAD_ANSWER = {
    "item_id": st.one_of(st.none(), st.text(max_size=5), st.floats(), st.integers(min_value=2**31, max_value=10**40),
                         st.integers(max_value=0, min_value=-10**40), _containers),
    "result": st.one_of(st.none(), _scalar_junk, _containers, st.text(max_size=6).filter(
        lambda t: t not in ("pass", "fail", "na")), _nul_text, _surrogate_text),
    "note": st.one_of(_scalar_junk, _containers, _nul_text, _surrogate_text),
    "photos": st.one_of(_scalar_junk, st.text(min_size=1, max_size=5),
                        st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=2), st.dictionaries(
                            st.text(max_size=3), st.integers(), min_size=1, max_size=2)),
    "score": st.one_of(st.none(), _scalar_junk),  # not a field of an answer
}
RAW_BODIES = (
    "[" * 100_000 + "]" * 100_000, '{"answers": ' + "[" * 5000 + "]" * 5000 + "}", "Infinity", "NaN", "-Infinity",
    '{"client_uuid": ' + "9" * 5000 + "}", '"\\ud800"', '{"client_uuid": "\\u0000"}', "{nope", "null", "[]", "",
    "\x00", "\ufeff{}",
)


@st.composite
def _bad_payload_text(draw, world: World) -> str:
    """A JSON text of a submission with one thing wrong: a field of the wrong shape or value, an answer's field
    likewise, or a body that is not a JSON object at all."""
    where = draw(st.sampled_from(("field", "answer", "raw")))
    if where == "raw":
        return draw(st.sampled_from(RAW_BODIES))
    payload = _payload(world)
    if where == "field":
        name = draw(st.sampled_from(sorted(_BAD_FIELD)))
        payload[name] = draw(_BAD_FIELD[name])
    else:
        name = draw(st.sampled_from(sorted(_BAD_ANSWER)))
        payload["answers"][draw(st.integers(0, len(world.items) - 1))][name] = draw(_BAD_ANSWER[name])
    return json.dumps(payload)


def _submission_unchanged(world: World, post) -> None:
    before = world.checksum()
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        response = post()
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    assert world.checksum() == before


def test_a_bad_form_submission_is_refused_and_saves_nothing(world):
    """The plain form (no script): POST …/patrols/<id>/submit with its fields, one of them wrong."""
    path = f"/s/TEST/patrols/{world.patrol_id}"
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        client = _login(world.app, ROLES["grid_leader"])  # a session of that day
        token = helpers.csrf_token(client, path)

    @settings(FUZZ_SETTINGS, max_examples=40)
    @given(fields=_form_strategy(world.items))
    @example(fields={"client_uuid": str(uuid.uuid4()), **{f"answer-{i}": "pass" for i in world.items},
                     "scans": "A01-CP1\x00"})
    @example(fields={"client_uuid": "1234\x005678", **{f"answer-{i}": "pass" for i in world.items}})
    def fuzz(fields):
        fields = {**fields}
        if all(f"answer-{i}" in fields and fields[f"answer-{i}"] in ("pass", "fail", "na") for i in world.items) \
                and "\x00" not in "".join(fields.values()) and 8 <= len(fields["client_uuid"].strip()) <= 36:
            fields[f"answer-{world.items[0]}"] = "maybe"  # the strategy drew nothing wrong after all
        _submission_unchanged(world, lambda: client.post(f"{path}/submit", data={"csrf_token": token, **fields}))

    fuzz()


def test_a_bad_api_submission_is_refused_and_saves_nothing(world):
    """The tablet's submission to the API, as JSON and as the multipart `payload` field, one thing wrong in it."""
    url = f"/api/v1/sites/TEST/patrols/{world.patrol_id}/submission"
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        client = _login(world.app, ROLES["grid_leader"])  # a session of that day
        token = client.get("/api/v1/session/csrf-token").get_json()["token"]
    headers = {"X-CSRFToken": token}

    @settings(FUZZ_SETTINGS, max_examples=60)
    @given(text=_bad_payload_text(world), multipart=st.booleans())
    @example(text=json.dumps(_payload(world, completed_at="0001-01-01T00:00:00+08:00")), multipart=False)
    @example(text=json.dumps(_payload(world, completed_at="9999-12-31T23:59:59-12:00")), multipart=False)
    @example(text=json.dumps(_payload(world, scans={"code": "A01-CP1"})), multipart=False)
    @example(text=json.dumps(_payload(world, photos="p1")), multipart=True)
    @example(text=json.dumps(_payload(world, client_uuid="\ud800" * 10)), multipart=False)
    @example(text=json.dumps(_payload(world, client_uuid="\ud800" * 10)), multipart=True)
    def fuzz(text, multipart):
        if multipart:
            post = lambda: client.post(url, data={"payload": text}, headers=headers,  # noqa: E731
                                       content_type="multipart/form-data")
        else:
            post = lambda: client.post(url, data=text, headers=headers,  # noqa: E731
                                       content_type="application/json")
        _submission_unchanged(world, post)

    fuzz()
