from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridpatrol.extensions import db


class JobHeartbeat(db.Model):
    """When each scheduler job last ran, where, and how it went: shown to admins, read by health checks."""

    __tablename__ = "job_heartbeats"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[Optional[dt.datetime]]
    last_finished_at: Mapped[Optional[dt.datetime]]
    last_ok: Mapped[Optional[bool]] = mapped_column(Boolean)
    last_result: Mapped[Optional[str]] = mapped_column(Text)  # in English: for the log and the command line
    # What the run did as facts ({"result": …, "failed": [[site code, error], …]} or {"error": …}), which the
    # scheduler page words in the reader's language through the job's `explain`.
    last_facts: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON(none_as_null=True))
    host: Mapped[Optional[str]] = mapped_column(String(120))
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    runs: Mapped[int] = mapped_column(Integer, default=0)
