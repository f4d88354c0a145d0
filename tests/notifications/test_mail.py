"""Notifications by mail: through a local SMTP server (aiosmtpd) started by the test, in each recipient's
language, only after the transaction commits, and never failing the transaction when the mail server does."""

from __future__ import annotations

import email
import email.policy
import logging

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.notifications import mail
from tests import helpers
from tests.issues import builders as issue_builders
from tests.issues.builders import at, user
from tests.notifications.builders import client_for, people, recipients

TITLE = "三楼卫生间水龙头漏水"


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=helpers.free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def _app(database_url, **settings):
    from gridpatrol import create_app

    return create_app({"DATABASE_URL": database_url, "MAIL_FROM": "gridpatrol@example.org", **settings})


@pytest.fixture
def mail_app(database_url, smtp):
    app = _app(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_BASE_URL="https://gp.example.org")
    yield app
    mail.drain()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def world(mail_app):
    issue_builders.world(mail_app)
    people(mail_app, fixer={"email": "fixer@example.org"},
           fixer2={"email": "fixer2@example.org", "locale": "en"},
           boss={"email": "boss@example.org"})


def _dispatch(app, issue_id, *, before_commit=None):
    with app.app_context(), job_transaction() as session:
        issues.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                        team=issue_builders.team(session), now=at("2026-11-18 10:00"))
        if before_commit is not None:
            before_commit()


def test_mail_goes_out_after_the_commit_in_each_recipients_language(mail_app, world, smtp):
    issue_id = issue_builders.file_report(mail_app)
    mail.drain()
    smtp.messages.clear()  # the report's own notices (boss has an address)

    def nothing_sent_yet():
        mail.drain()
        assert smtp.messages == []

    _dispatch(mail_app, issue_id, before_commit=nothing_sent_yet)
    mail.drain()
    (zh,), (en,) = smtp.to("fixer@example.org"), smtp.to("fixer2@example.org")
    assert len(smtp.messages) == 2  # boss dispatched it: not told; clerk has no address
    assert zh["Subject"].startswith(f"[网格巡查] 问题 #{issue_id} {TITLE} 已派给您整改")
    assert en["Subject"].startswith(f"[GridPatrol] Issue #{issue_id} {TITLE} is yours to fix by 2026-11-")
    assert zh["From"] == "gridpatrol@example.org" and zh["To"] == "fixer@example.org"
    link = f"https://gp.example.org/s/TEST/issues/{issue_id}"
    assert link in zh.get_content() and link in en.get_content()
    assert "已派给您整改" in zh.get_content() and "is yours to fix" in en.get_content()


def test_a_rolled_back_transaction_sends_nothing(mail_app, world, smtp):
    issue_id = issue_builders.file_report(mail_app)
    mail.drain()
    smtp.messages.clear()

    def fail():
        raise RuntimeError("something after the notification failed")

    with pytest.raises(RuntimeError):
        _dispatch(mail_app, issue_id, before_commit=fail)
    mail.drain()
    assert smtp.messages == [] and recipients(mail_app, "issue_dispatched") == []


def test_mail_from_a_request_links_to_the_requests_host(database_url, smtp):
    app = _app(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)  # no MAIL_BASE_URL
    try:
        issue_builders.world(app)
        people(app, fixer2={"email": "fixer2@example.org", "locale": "en"})
        issue_id = issue_builders.file_report(app)
        boss = client_for(app, "boss")
        with app.app_context():
            version = db.session.get(Issue, issue_id).version
            team_id = db.session.scalar(sa.text("SELECT id FROM teams"))
        response = helpers.post_form(boss, f"/s/TEST/issues/{issue_id}/dispatch",
                                     {"version": str(version), "team_id": str(team_id), "assignee_id": "0",
                                      "severity": "minor", "note": ""}, token_from=f"/s/TEST/issues/{issue_id}")
        assert response.status_code == 302
        mail.drain()
        (message,) = smtp.to("fixer2@example.org")
        assert f"http://localhost/s/TEST/issues/{issue_id}" in message.get_content()
    finally:
        mail.drain()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def mail_log(caplog):
    """Records of the mail logger. Alembic's fileConfig (migrations/env.py) disables every logger that exists when
    the test session migrates its databases, this one included: enabled again for the test."""
    logger = logging.getLogger("gridpatrol.notifications.mail")
    disabled, logger.disabled = logger.disabled, False
    with caplog.at_level(logging.ERROR, logger=logger.name):
        yield caplog
    logger.disabled = disabled


def test_a_failing_mail_server_does_not_fail_the_transition(database_url, mail_log):
    app = _app(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=helpers.free_port())  # nobody listens there
    try:
        issue_builders.world(app)
        people(app, fixer={"email": "fixer@example.org"})
        issue_id = issue_builders.file_report(app)
        issue_builders.advance(app, issue_id, "dispatched")
        mail.drain()
        with app.app_context():
            assert db.session.get(Issue, issue_id).state == "dispatched"
        assert recipients(app, "issue_dispatched") == ["fixer", "fixer2"]  # in the app all the same
        assert any("could not send 1 notification mail(s) through 127.0.0.1" in r.getMessage()
                   for r in mail_log.records)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_no_mail_without_a_mail_server(app, smtp):
    issue_builders.world(app)
    people(app, fixer={"email": "fixer@example.org"})
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "dispatched")
    mail.drain()
    assert smtp.messages == [] and recipients(app, "issue_dispatched") == ["fixer", "fixer2"]
