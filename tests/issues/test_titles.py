"""An issue raised by a failed checklist item is titled with the fault (the leader's note, or the item's short name
and 不合格), never with the standard it fails; the standard stays on the issue page as 对照标准."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import services, titles
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues.builders import user
from tests.patrols import builders as patrol_builders
from tests.patrols.builders import at

EXTINGUISHER = "灭火器压力指针在绿区，在有效期内，保险销和铅封完好"
ALARMS = "重点部位（机要室、档案室、财务室、信息机房）技防设施完好，报警联网正常"
DRAINS = "屋面、天台无积水、无杂物，雨水口畅通"
LONG_NOTE = "天台雨水口被落叶和塑料袋堵塞，" * 20  # 300 characters
ITEMS = (("XF-01", "fire_safety", EXTINGUISHER), ("XF-02", "fire_safety", EXTINGUISHER),
         ("AB-01", "security", ALARMS), ("ZC-09", "assets", DRAINS), ("WS-01", "sanitation", "地面清洁"))
NOTES = ("灭火器压力不足，指针在红区\n二楼东侧楼梯口那具", "   \n  ", None, LONG_NOTE, None)


@pytest.fixture
def failed(app) -> dict[str, int]:
    """A patrol of A01 whose five items all failed, with the notes above; the issues by item code."""
    helpers.make_user(app, "leader0", roles=("grid_leader", "staff"))
    helpers.make_user(app, "leader1", roles=("grid_leader", "staff"))
    helpers.make_user(app, "boss", roles=("supervisor",))
    grid_builders.make_site(app, grids=grid_builders.two_by_two(A01={"leader": "leader0"}, A02={"leader": "leader1"}))
    with app.app_context(), job_transaction() as session:
        template = ChecklistTemplate(code="RCXC", name="日常巡查标准", active=True)
        version = TemplateVersion(template=template, number=1, status="published",
                                  published_at=dt.datetime.now(dt.timezone.utc))
        for position, (code, category, text) in enumerate(ITEMS):
            version.items.append(TemplateItem(position=position, code=code, category=category, text=text, weight=1,
                                              allow_na=True, critical=False, photo_on_fail=False))
        session.add(template)
    patrol_builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    patrol_builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        patrol = session.scalar(sa.select(Patrol))
        items = sorted(patrol.template_version.items, key=lambda i: i.position)
        answers = [{"item_id": i.id, "result": "fail", **({"note": n} if n is not None else {})}
                   for i, n in zip(items, NOTES)]
        patrols.submit(session, patrol, user(session, "leader0"),
                       {"client_uuid": str(uuid.uuid4()), "completed_at": at("2026-11-02 09:00").isoformat(),
                        "answers": answers}, {}, now=at("2026-11-02 09:01"))
    with app.app_context():
        return dict(db.session.execute(sa.select(TemplateItem.code, Issue.id).join(
            Issue, Issue.item_id == TemplateItem.id)).all())


def _issue(app, issue_id: int) -> Issue:
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        db.session.expunge(issue)
        return issue


def test_a_note_is_the_title_and_stays_whole_in_the_description(app, failed):
    issue = _issue(app, failed["XF-01"])
    assert issue.title == "灭火器压力不足，指针在红区"  # the first line: the fault, not the standard
    assert issue.description == NOTES[0]


def test_without_a_note_the_title_is_the_category_and_the_items_short_name(app, failed):
    # A note of only spaces counts as none.
    assert _issue(app, failed["XF-02"]).title == "消防安全：灭火器压力指针在绿区 不合格"
    # A first clause over 20 characters loses its bracketed aside.
    assert _issue(app, failed["AB-01"]).title == "安全保卫：重点部位技防设施完好 不合格"
    assert _issue(app, failed["WS-01"]).title == "环境卫生：地面清洁 不合格"
    assert _issue(app, failed["XF-02"]).description is None


def test_a_long_note_is_cut_at_the_columns_length_with_an_ellipsis(app, failed):
    issue = _issue(app, failed["ZC-09"])
    assert len(issue.title) == titles.TITLE_MAX == Issue.__table__.c.title.type.length
    assert issue.title == LONG_NOTE[:titles.TITLE_MAX - 1] + "…"
    assert issue.description == LONG_NOTE.strip()  # the whole note is kept


def test_titles_are_in_the_offices_language_whoever_submits(app):
    with app.test_request_context(), force_locale("en"):
        assert titles.finding_title(category="greening", item_text="树木无倒伏、枯死，无断枝悬挂等安全隐患",
                                    note=None) == "绿化：树木无倒伏、枯死 不合格"


@pytest.mark.parametrize("text, short", [
    ("地面清洁", "地面清洁"),
    ("无吸烟现象、无烟头；禁烟标识完好", "无吸烟现象、无烟头"),
    ("Lights work, doors shut", "Lights work"),
    ("配电箱（柜，含电表箱）门关闭上锁，箱体无破损", "配电箱（柜，含电表箱）门关闭上锁"),  # no break inside brackets
    ("下班后办公室空调、电脑、饮水机等用电设备已关闭", "下班后办公室空调、电脑、饮水机等用电设…"),  # cut: 19 + …
])
def test_short_names(app, text, short):
    assert titles.short_name(text) == short
    assert len(titles.short_name(text)) <= titles.SHORT_NAME_MAX


def test_the_issue_page_shows_the_standard_checked_against(app, failed):
    client = _client(app, "boss")
    page = client.get(f"/s/TEST/issues/{failed['XF-01']}").get_data(as_text=True)
    with app.test_request_context(), force_locale("zh"):
        label = _("Checked against")
    assert f"<dt>{html.escape(label)}</dt><dd class=\"standard\">{EXTINGUISHER}</dd>" in page
    assert "灭火器压力不足，指针在红区" in page
    # A quick report was checked against nothing.
    from tests.issues import builders

    report = builders.file_report(app, "leader1", lon=120.1515, lat=30.2795)
    assert 'class="standard"' not in client.get(f"/s/TEST/issues/{report}").get_data(as_text=True)


def test_a_patrol_found_issue_is_accepted_without_the_mark_and_refuses_it(app, failed):
    from gridpatrol.accounts import services as accounts
    from gridpatrol.accounts.models import Team, TeamKind

    helpers.make_user(app, "fixer", roles=("rectifier",))
    with app.app_context(), job_transaction() as session:
        team = accounts.save_team(session, None, name="班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        fixer = user(session, "fixer")
        fixer.teams.append(team)
        session.flush()
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError):  # only a quick report can be marked 应巡未发现
            services.accept(session, session.get(Issue, failed["XF-01"]), user(session, "boss"),
                            team=session.scalar(sa.select(Team)), should_have_been_found=True,
                            now=at("2026-11-02 10:00"))
        session.rollback()
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, failed["XF-01"])
        assert issue.state == "reported" and issue.should_have_been_found is None  # nothing half-done
        services.accept(session, issue, user(session, "boss"), team=session.scalar(sa.select(Team)),
                        should_have_been_found=False, now=at("2026-11-02 10:00"))
    issue = _issue(app, failed["XF-01"])
    assert issue.state == "dispatched" and issue.should_have_been_found is None
    # The issue page neither asks for the mark nor shows one.
    page = _client(app, "boss").get(f"/s/TEST/issues/{failed['XF-02']}").get_data(as_text=True)
    assert 'action-dispatch' in page and 'name="should_have_been_found"' not in page
    assert 'missed-by-patrols' not in _client(app, "boss").get(f"/s/TEST/issues/{failed['XF-01']}").get_data(
        as_text=True)


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client
