"""Migration 0009 converts the notifications written before it (text and a link) into kinds rendered when read;
what it cannot convert keeps its text and link as the kind "legacy"."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import force_locale
from flask_migrate import downgrade, upgrade

from gridpatrol.extensions import db
from gridpatrol.notifications import services
from gridpatrol.notifications.models import Notification
from tests import helpers
from tests.issues import builders as issue_builders
from tests.patrols import builders as patrol_builders

OLD = sa.table("notifications", sa.column("user_id"), sa.column("key"), sa.column("kind"), sa.column("text"),
               sa.column("link"), sa.column("created_at"))


def test_old_rows_become_kinds_and_what_cannot_be_converted_stays_legacy(app):
    patrol_builders.compound(app)
    helpers.make_user(app, "clerk", roles=("staff",))
    patrol_builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    patrol_builders.materialize(app, patrol_builders.at("2026-11-02 06:00"))
    issue_id = issue_builders.file_report(app)
    deadline = "2026-11-20T09:30:00+00:00"
    with app.app_context():
        patrol_id = db.session.scalar(sa.text("SELECT id FROM patrols ORDER BY id LIMIT 1"))
        leader = db.session.scalar(sa.text("SELECT id FROM users WHERE username = 'leader0'"))
        db.session.execute(sa.text("DELETE FROM notifications"))  # only the old-style rows below are migrated
        db.session.commit()
        db.session.remove()
        downgrade(revision="0008_issue_acceptance")
        db.engine.dispose()
        created = dt.datetime(2026, 11, 18, 2, 0)
        if db.engine.dialect.name == "postgresql":
            created = created.replace(tzinfo=dt.timezone.utc)
        with db.engine.begin() as conn:
            conn.execute(OLD.insert(), [
                {"user_id": leader, "key": f"patrol-due:{patrol_id}", "kind": "patrol_due",
                 "text": "网格 A01 一号 待巡查。", "link": f"/patrols/{patrol_id}", "created_at": created},
                {"user_id": leader, "key": f"issue-due:{issue_id}:{deadline}", "kind": "issue_due",
                 "text": "问题 …", "link": f"/issues/{issue_id}", "created_at": created},
                {"user_id": leader, "key": f"issue-overdue:{issue_id}:{deadline}", "kind": "issue_overdue",
                 "text": "问题 … 已超期", "link": f"/issues/{issue_id}", "created_at": created},
                {"user_id": leader, "key": "patrol-due:999", "kind": "patrol_due",
                 "text": "网格 Z99 待巡查。", "link": "/patrols/999", "created_at": created},  # its patrol is gone
                {"user_id": leader, "key": "welcome", "kind": "note", "text": "欢迎使用", "link": None,
                 "created_at": created},
            ])
        upgrade()
        db.engine.dispose()
        rows = {n.key: n for n in db.session.scalars(sa.select(Notification))}
        assert {k: (n.kind, n.target_type, n.target_id) for k, n in rows.items()} == {
            f"patrol-due:{patrol_id}": ("patrol_due", "patrol", patrol_id),
            f"issue-due:{issue_id}:{deadline}": ("issue_due", "issue", issue_id),
            f"issue-overdue:{issue_id}:{deadline}": ("issue_overdue", "issue", issue_id),
            "patrol-due:999": ("legacy", None, None),
            "welcome": ("legacy", None, None)}
        with app.test_request_context("/"), force_locale("en"):
            shown = {k: services.render(db.session, n) for k, n in rows.items()}
        assert shown[f"patrol-due:{patrol_id}"].text.startswith("Patrol of grid A01 ")
        assert shown[f"patrol-due:{patrol_id}"].url.endswith(f"/patrols/{patrol_id}")
        assert shown[f"issue-due:{issue_id}:{deadline}"].text.endswith("is due at 2026-11-20 17:30.")
        assert "(grid A01) is overdue" in shown[f"issue-overdue:{issue_id}:{deadline}"].text
        assert (shown["patrol-due:999"].text, shown["patrol-due:999"].url) == ("网格 Z99 待巡查。", "/patrols/999")
        assert (shown["welcome"].text, shown["welcome"].url) == ("欢迎使用", None)
