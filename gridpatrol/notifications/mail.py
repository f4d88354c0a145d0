"""Notifications by mail (optional): when MAIL_SERVER is set, every notification written for a user who has an
email address also goes out by SMTP, rendered in that user's language.

Built on the standard library: `email.message.EmailMessage` writes the MIME (UTF-8 subject and body, as
Chinese text needs) and `smtplib` speaks SMTP (STARTTLS, login). Both are maintained with Python itself;
Flask-Mail would wrap the same two modules and add nothing this needs.

Mail never goes out inside the transaction that caused it: `queue` keeps it on the session (`session.info`),
the session's after_commit hook renders it (in the recipient's language, with absolute links) and hands it to
the process's one background sender; a rollback drops it. A refusing, failing or unreachable mail server is
logged, never raised: the transaction it reports on has committed already and stands.
"""

from __future__ import annotations

import email.utils
import logging
import os
import smtplib
import ssl
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Iterable, Optional

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from gridpatrol.notifications import kinds

log = logging.getLogger(__name__)

_OUTBOX = "gridpatrol_mail_outbox"
SMTP_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Outgoing:
    """A notification to mail, with everything rendering needs (rendering runs after the commit: no queries)."""

    to: str
    locale: str
    kind: str
    params: dict[str, Any]
    target_id: Optional[int]
    timezone: str
    site_code: Optional[str]


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int
    use_tls: bool
    username: str
    password: str
    sender: str


def enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def reader_locale(locale: Optional[str]) -> str:
    """The language a user reads in: their own choice, else the default (zh)."""
    config = current_app.config
    return locale if locale in config["LANGUAGES"] else config["DEFAULT_LOCALE"]


def queue(session: Session, notes: Iterable[Any]) -> None:
    """Keep mail for these just-written notifications (`services.Note`s) until the transaction commits. Only
    active users with an email address get mail."""
    from gridpatrol.accounts.models import User
    from gridpatrol.grids.models import Site

    notes = list(notes)
    people = {row.id: row for row in session.execute(
        select(User.id, User.email, User.locale).where(
            User.id.in_(sorted({n.user_id for n in notes})), User.active.is_(True), User.email.is_not(None),
            User.email != ""))}
    if not people:
        return
    site_ids = sorted({n.target.site_id for n in notes if n.target.site_id is not None})
    sites = {row.id: row for row in session.execute(
        select(Site.id, Site.timezone, Site.code).where(Site.id.in_(site_ids)))} if site_ids else {}
    default_zone = current_app.config["DEFAULT_TIMEZONE"]
    outbox = session.info.setdefault(_OUTBOX, [])
    for n in notes:
        if n.user_id not in people:
            continue
        site = sites.get(n.target.site_id)
        outbox.append(Outgoing(people[n.user_id].email.strip(), reader_locale(people[n.user_id].locale), n.kind,
                               n.params, n.target.id, site.timezone if site else default_zone,
                               site.code if site else None))


def _settings() -> SmtpSettings:
    config = current_app.config
    return SmtpSettings(config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USE_TLS"], config["MAIL_USERNAME"],
                        config["MAIL_PASSWORD"], config["MAIL_FROM"] or config["MAIL_USERNAME"] or "gridpatrol@localhost")


def message(item: Outgoing, sender: str, base_url: str = "") -> EmailMessage:
    """The mail of one notification, in the recipient's language."""
    with force_locale(item.locale):
        rendered = kinds.render(item.kind, item.params, kinds.Context(item.target_id, item.timezone, item.site_code),
                                kinds.url_builder(base_url, external=True))
        app_name = _("GridPatrol")
    text = " ".join(rendered.text.split())
    mail = EmailMessage()
    mail["Subject"] = f"[{app_name}] {text if len(text) <= 120 else text[:119] + '…'}"
    mail["From"] = sender
    mail["To"] = item.to
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(rendered.text + (f"\n\n{rendered.url}\n" if rendered.url else "\n"))
    return mail


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_OUTBOX, None)
    if not pending:
        return
    if not has_app_context():  # every commit of this app runs in one; nothing to render with otherwise
        log.error("%d notification mail(s) dropped: committed outside an application context", len(pending))
        return
    try:
        settings = _settings()
        base_url = current_app.config["MAIL_BASE_URL"]
        messages = [message(item, settings.sender, base_url) for item in pending]
    except Exception:  # a rendering bug must not turn a committed transition into an error page
        log.exception("could not render %d notification mail(s)", len(pending))
        return
    _submit(settings, messages)


def _after_rollback(session: Session) -> None:
    session.info.pop(_OUTBOX, None)


# --- sending -------------------------------------------------------------------------------------------
_lock = threading.Lock()
_executor: Optional[ThreadPoolExecutor] = None
_executor_pid: Optional[int] = None
_pending: set[Future] = set()


def _sender() -> ThreadPoolExecutor:
    """One sending thread per process (made anew in a forked worker), so mail keeps its order and the mail
    server sees one connection at a time from each worker."""
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():
        _executor, _executor_pid = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridpatrol-mail"), os.getpid()
        _pending.clear()
    return _executor


def _submit(settings: SmtpSettings, messages: list[EmailMessage]) -> None:
    with _lock:
        future = _sender().submit(send, settings, messages)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def drain(timeout: Optional[float] = 30) -> None:
    """Wait until the mail handed to the sender so far has been sent (or has failed). For tests and commands
    that exit right after their work."""
    with _lock:
        futures = list(_pending)
    wait(futures, timeout=timeout)


def send(settings: SmtpSettings, messages: list[EmailMessage]) -> int:
    """Send over one SMTP connection; returns how many were accepted. Failures are logged, never raised."""
    sent = 0
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.use_tls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            for mail in messages:
                try:
                    smtp.send_message(mail)
                    sent += 1
                except smtplib.SMTPException:
                    log.exception("mail server %s refused the notification to %s", settings.server, mail["To"])
    except (OSError, smtplib.SMTPException):
        log.exception("could not send %d notification mail(s) through %s:%s", len(messages) - sent,
                      settings.server, settings.port)
    return sent


def install() -> None:
    """Hook the outbox to every session's commit and rollback (once per process)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
