from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, Time,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.accounts.models import User
from gridpatrol.core.photos import StoredPhotoColumns
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.grids.models import Checkpoint, Grid, Site
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion


class PlanKind(str, enum.Enum):
    ROUTINE = "routine"  # 日常巡查
    SPECIAL = "special"  # 专项检查
    CROSS_CHECK = "cross_check"  # 互检
    SAFETY_SWEEP = "safety_sweep"  # 安全大排查


class Recurrence(str, enum.Enum):
    DAILY = "daily"
    WORKDAYS = "workdays"  # Chinese official calendar with 调休, plus the site's overrides
    WEEKDAYS = "weekdays"  # chosen days of the week
    MONTHLY = "monthly"  # a day of the month (-1: the last day)
    EVERY_N_DAYS = "every_n_days"  # counted from the plan's first day


class RestDayRule(str, enum.Enum):
    """What a monthly, weekly or every-N-days plan does when its day is a rest day (patrols/schedule.py)."""

    NEXT = "next"  # moves to the next working day
    PREVIOUS = "previous"  # moves to the previous working day
    SKIP = "skip"  # does not happen
    KEEP = "keep"  # happens on the rest day anyway (e.g. a weekend guard round)


class PatrolStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    MISSED = "missed"


class PatrolPlan(db.Model):
    """A rule that makes patrols (巡查计划). The scheduler turns it into one patrol per grid and window."""

    __tablename__ = "patrol_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default=PlanKind.ROUTINE.value)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    recurrence: Mapped[str] = mapped_column(String(20))
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)  # 0 = Monday
    month_day: Mapped[Optional[int]] = mapped_column(Integer)
    interval_days: Mapped[Optional[int]] = mapped_column(Integer)
    window_start: Mapped[dt.time] = mapped_column(Time)  # wall-clock time in the site's zone
    window_minutes: Mapped[int] = mapped_column(Integer)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What happens when the recurrence lands on a rest day (RestDayRule): a monthly sweep moves to a working day.
    on_rest_day: Mapped[str] = mapped_column(String(10), default="next", server_default="next")
    # The checklist categories its patrols cover; None = each grid's own responsibility categories (定责任).
    categories: Mapped[Optional[list[str]]] = mapped_column(JSON(none_as_null=True))
    # Every window starting before this instant has been materialised (the scheduler's catch-up mark).
    materialized_until: Mapped[Optional[dt.datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    plan_grids: Mapped[list["PlanGrid"]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                        lazy="selectin")

    __table_args__ = (
        CheckConstraint("window_minutes > 0 AND window_minutes <= 10080", name="window_length"),
        CheckConstraint("grace_minutes >= 0", name="grace_non_negative"),
        CheckConstraint("kind IN ('routine', 'special', 'cross_check', 'safety_sweep')", name="kind_known"),
        CheckConstraint("recurrence IN ('daily', 'workdays', 'weekdays', 'monthly', 'every_n_days')",
                        name="recurrence_known"),
        CheckConstraint("on_rest_day IN ('next', 'previous', 'skip', 'keep')", name="on_rest_day_known"),
    )


class PlanGrid(db.Model):
    """A grid the plan covers, and whose leader patrols it (its own, or another grid's for a cross-check)."""

    __tablename__ = "plan_grids"

    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)
    patroller_grid_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grids.id"))

    plan: Mapped[PatrolPlan] = relationship(back_populates="plan_grids")
    grid: Mapped[Grid] = relationship(foreign_keys=[grid_id], lazy="joined")
    patroller_grid: Mapped[Optional[Grid]] = relationship(foreign_keys=[patroller_grid_id], lazy="joined")


class Patrol(db.Model):
    """One occurrence of a plan for one grid (巡查任务)."""

    __tablename__ = "patrols"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id", ondelete="CASCADE"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id"))
    kind: Mapped[str] = mapped_column(String(20))
    window_start: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    grace_until: Mapped[dt.datetime]
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default=PatrolStatus.SCHEDULED.value)
    started_at: Mapped[Optional[dt.datetime]]
    submitted_at: Mapped[Optional[dt.datetime]]  # server time the submission arrived
    completed_at: Mapped[Optional[dt.datetime]]  # device time the leader finished (offline submissions arrive later)
    submitted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    score: Mapped[Optional[float]] = mapped_column(Float)
    failed_critical: Mapped[bool] = mapped_column(Boolean, default=False)
    location_lon: Mapped[Optional[float]] = mapped_column(Float)
    location_lat: Mapped[Optional[float]] = mapped_column(Float)
    location_accuracy_m: Mapped[Optional[float]] = mapped_column(Float)
    location_outside: Mapped[Optional[bool]] = mapped_column(Boolean)
    location_distance_m: Mapped[Optional[float]] = mapped_column(Float)
    missed_at: Mapped[Optional[dt.datetime]]
    # The checklist categories this patrol covers, fixed when it is scheduled; None = every item of its version.
    categories: Mapped[Optional[list[str]]] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    plan: Mapped[PatrolPlan] = relationship()
    grid: Mapped[Grid] = relationship(lazy="joined")
    template_version: Mapped[TemplateVersion] = relationship()
    assignee: Mapped[Optional[User]] = relationship(foreign_keys=[assignee_id], lazy="joined")
    submitted_by: Mapped[Optional[User]] = relationship(foreign_keys=[submitted_by_id])
    answers: Mapped[list["PatrolAnswer"]] = relationship(back_populates="patrol", cascade="all, delete-orphan")
    photos: Mapped[list["PatrolPhoto"]] = relationship(back_populates="patrol", cascade="all, delete-orphan")
    scans: Mapped[list["CheckpointScan"]] = relationship(back_populates="patrol", cascade="all, delete-orphan",
                                                         order_by="CheckpointScan.id")  # scan order

    __table_args__ = (
        # One patrol per plan, grid and window: a second scheduler or a re-run cannot double it.
        UniqueConstraint("plan_id", "grid_id", "window_start"),
        Index("ix_patrols_assignee_id_window_start", "assignee_id", "window_start"),
        Index("ix_patrols_status_grace_until", "status", "grace_until"),
        Index("ix_patrols_site_id_window_start", "site_id", "window_start"),
        CheckConstraint("status IN ('scheduled', 'in_progress', 'submitted', 'missed')", name="status_known"),
    )

    @property
    def is_open(self) -> bool:
        return self.status in (PatrolStatus.SCHEDULED.value, PatrolStatus.IN_PROGRESS.value)

    @property
    def late(self) -> bool:
        """Submitted after the window closed but within the grace period (derived, never stored)."""
        done = self.completed_at or self.submitted_at
        return self.status == PatrolStatus.SUBMITTED.value and done is not None and done > self.due_at


class PatrolAnswer(db.Model):
    __tablename__ = "patrol_answers"

    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("template_items.id"), primary_key=True)
    result: Mapped[str] = mapped_column(String(4))
    note: Mapped[Optional[str]] = mapped_column(Text)

    patrol: Mapped[Patrol] = relationship(back_populates="answers")
    item: Mapped[TemplateItem] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("result IN ('pass', 'fail', 'na')", name="result_known"),)


class PatrolPhoto(StoredPhotoColumns, db.Model):
    """A photo taken on a patrol. The file lives outside the web root, named by its SHA-256."""

    __tablename__ = "patrol_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[Optional[int]] = mapped_column(ForeignKey("template_items.id"))

    patrol: Mapped[Patrol] = relationship(back_populates="photos")


class CheckpointScan(db.Model):
    """A checkpoint scanned on a patrol. Suspicious scans are flagged, never refused."""

    __tablename__ = "checkpoint_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    scanned_at: Mapped[dt.datetime]  # device clock
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # server clock
    method: Mapped[str] = mapped_column(String(8))  # qr | typed
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # other_grid, repeated, clock_skew

    patrol: Mapped[Patrol] = relationship(back_populates="scans")
    checkpoint: Mapped[Checkpoint] = relationship(lazy="joined")


class Submission(db.Model):
    """A tablet's submission, keyed by the UUID the client made: the same UUID is never applied twice."""

    __tablename__ = "patrol_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
