"""The nightly backup: with BACKUP_DIR set, the first run on each day from BACKUP_HOUR on (in DEFAULT_TIMEZONE)
writes `gridpatrol-YYYY-MM-DD.tar` there and keeps the newest BACKUP_KEEP of them. Off by default."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from gridpatrol.backups import services

EVERY_SECONDS = 3600


def _run(session: Session, now: dt.datetime) -> dict:
    config = current_app.config
    if not config["BACKUP_DIR"]:
        return {"state": "off"}
    local = now.astimezone(zoneinfo.ZoneInfo(config["DEFAULT_TIMEZONE"]))
    if local.hour < config["BACKUP_HOUR"]:
        return {"state": "waiting", "hour": config["BACKUP_HOUR"]}
    written = services.nightly_backup(Path(config["BACKUP_DIR"]), config["BACKUP_KEEP"], local.date())
    return {"state": "wrote", "name": written} if written else {"state": "present"}


def _explain(facts: dict) -> str:
    state = facts["state"]
    if state == "off":
        return _("nightly backups are off (BACKUP_DIR is not set)")
    if state == "waiting":
        return _("today's backup is written from %(hour)02d:00", hour=facts["hour"])
    if state == "wrote":
        return _("wrote %(name)s", name=facts["name"])
    return _("today's backup is there")


def register_jobs() -> None:
    from gridpatrol.scheduler.jobs import Job, register

    register(Job("nightly_backup", EVERY_SECONDS, _run, "write the nightly backup into BACKUP_DIR (when set)",
                 title=_l("Nightly backup"), explain=_explain, startup_rank=95))
