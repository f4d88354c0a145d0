from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, Time,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.accounts.models import Team, User
from gridpatrol.core.photos import StoredPhotoColumns
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site


class Severity(str, enum.Enum):
    MINOR = "minor"  # 一般
    MAJOR = "major"  # 较大
    CRITICAL = "critical"  # 重大


class IssueState(str, enum.Enum):
    REPORTED = "reported"  # 待受理
    DISPATCHED = "dispatched"  # 已派单
    IN_PROGRESS = "in_progress"  # 整改中
    AWAITING_VERIFICATION = "awaiting_verification"  # 待复核
    CLOSED = "closed"  # 已结案
    REJECTED = "rejected"  # 不予受理
    DEFERRED = "deferred"  # 缓办: set aside by a supervisor (e.g. waiting for a budget); its clock stops


class RejectReason(str, enum.Enum):
    INVALID = "invalid"  # 无效
    DUPLICATE = "duplicate"  # 重复
    NOT_OURS = "not_ours"  # 非本单位职责


class IssueSource(str, enum.Enum):
    PATROL = "patrol"  # a failed checklist item
    REPORT = "report"  # 随手拍


OPEN_STATES = (IssueState.REPORTED.value, IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value,
               IssueState.AWAITING_VERIFICATION.value, IssueState.DEFERRED.value)
# The open states whose deadline runs: only these can be overdue. A deferred issue (缓办) is open — it is in the
# 整改台账 and will be resumed — but its clock stands still until a supervisor resumes it with a new deadline.
CLOCK_STATES = tuple(s for s in OPEN_STATES if s != IssueState.DEFERRED.value)


class ExtensionState(str, enum.Enum):
    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已批准: the deadline moved
    REFUSED = "refused"  # 未批准: the deadline stands
    LAPSED = "lapsed"  # the issue was deferred before a decision: a resume sets the deadline anyway


class Issue(db.Model):
    """A problem found (问题隐患). Overdue is derived from `deadline`, never stored."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    grid_id: Mapped[Optional[int]] = mapped_column(ForeignKey("grids.id"))
    level: Mapped[int] = mapped_column(Integer, default=0)
    lon: Mapped[Optional[float]] = mapped_column(Float)
    lat: Mapped[Optional[float]] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10), default=Severity.MINOR.value)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[Optional[str]] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))
    patrol_id: Mapped[Optional[int]] = mapped_column(ForeignKey("patrols.id"))
    item_id: Mapped[Optional[int]] = mapped_column(ForeignKey("template_items.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(24), default=IssueState.REPORTED.value)
    team_id: Mapped[Optional[int]] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    deadline: Mapped[Optional[dt.datetime]]
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[Optional[dt.datetime]]
    # Decided at acceptance (the first dispatch) and never changed after: what the points domain books.
    accepted_severity: Mapped[Optional[str]] = mapped_column(String(10))
    accepted_at: Mapped[Optional[dt.datetime]]
    # 应巡未发现: for a quick report, whether the supervisor judged at acceptance that a patrol should have found
    # it (only then does it cost the grid's leader); None for problems a patrol found, or not yet accepted.
    should_have_been_found: Mapped[Optional[bool]] = mapped_column(Boolean)
    fixed_at: Mapped[Optional[dt.datetime]]  # last "fix reported"
    fixed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[Optional[dt.datetime]]
    rejected_at: Mapped[Optional[dt.datetime]]
    reject_reason: Mapped[Optional[str]] = mapped_column(String(10))
    duplicate_of_id: Mapped[Optional[int]] = mapped_column(ForeignKey("issues.id"))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every transition: a page showing an older version is stale and its action is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship()
    grid: Mapped[Optional[Grid]] = relationship(lazy="joined")
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="joined")
    assignee: Mapped[Optional[User]] = relationship(foreign_keys=[assignee_id])
    fixed_by: Mapped[Optional[User]] = relationship(foreign_keys=[fixed_by_id])
    team: Mapped[Optional[Team]] = relationship()
    events: Mapped[list["IssueEvent"]] = relationship(back_populates="issue", order_by="IssueEvent.id",
                                                      cascade="all, delete-orphan")
    photos: Mapped[list["IssuePhoto"]] = relationship(back_populates="issue", order_by="IssuePhoto.id",
                                                      cascade="all, delete-orphan")
    comments: Mapped[list["IssueComment"]] = relationship(back_populates="issue", order_by="IssueComment.id",
                                                          cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One issue per failed item of a patrol.
        UniqueConstraint("patrol_id", "item_id"),
        Index("ix_issues_site_id_state_deadline", "site_id", "state", "deadline"),
        Index("ix_issues_state_deadline", "state", "deadline"),  # the queue: open issues by deadline
        Index("ix_issues_reporter_id_state", "reporter_id", "state"),
        Index("ix_issues_grid_id_state", "grid_id", "state"),
        Index("ix_issues_team_id_state", "team_id", "state"),
        Index("ix_issues_assignee_id_state", "assignee_id", "state"),
        Index("ix_issues_reported_at", "reported_at"),
        # The dashboard's ranges: a site's issues reported, due or closed within its periods.
        Index("ix_issues_site_id_reported_at", "site_id", "reported_at"),
        Index("ix_issues_site_id_deadline", "site_id", "deadline"),
        Index("ix_issues_site_id_closed_at", "site_id", "closed_at"),
        CheckConstraint("severity IN ('minor', 'major', 'critical')", name="severity_known"),
        CheckConstraint("state IN ('reported', 'dispatched', 'in_progress', 'awaiting_verification', 'closed', "
                        "'rejected', 'deferred')", name="state_known"),
        CheckConstraint("source IN ('patrol', 'report')", name="source_known"),
    )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def overdue_at(self, now: dt.datetime) -> bool:
        """Past its deadline while its clock runs (a deferred issue is never overdue)."""
        return self.state in CLOCK_STATES and self.deadline is not None and now > self.deadline


class IssueEvent(db.Model):
    """One transition (or comment, or photo) on an issue, written in the same transaction as the change."""

    __tablename__ = "issue_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[Optional[str]] = mapped_column(String(24))
    to_state: Mapped[Optional[str]] = mapped_column(String(24))
    note: Mapped[Optional[str]] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    issue: Mapped[Issue] = relationship(back_populates="events")
    actor: Mapped[Optional[User]] = relationship(lazy="joined")


class IssueExtension(db.Model):
    """延期: a rectifier's request for a later deadline, and a supervisor's decision on it. The issue's deadline
    moves only when one is approved; each step writes an `IssueEvent` in the same transaction. At most one request
    per issue is pending (a partial unique index; the service says so first, in words)."""

    __tablename__ = "issue_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(10), default=ExtensionState.PENDING.value)
    requested_at: Mapped[dt.datetime]
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    deadline_before: Mapped[dt.datetime]  # the deadline in force when it was asked for
    requested_deadline: Mapped[dt.datetime]
    decided_at: Mapped[Optional[dt.datetime]]
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    # Two supervisors deciding the same request at once: the second flush finds the row changed and is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)

    issue: Mapped[Issue] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[Optional[User]] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_issue_extensions_issue_id", "issue_id"),
        Index("uq_issue_extensions_one_pending", "issue_id", unique=True, sqlite_where=text("state = 'pending'"),
              postgresql_where=text("state = 'pending'")),
        # 延期数 of a period: approvals by decision time.
        Index("ix_issue_extensions_state_decided_at", "state", "decided_at"),
        CheckConstraint("state IN ('pending', 'approved', 'refused', 'lapsed')", name="state_known"),
        CheckConstraint("requested_deadline > deadline_before", name="later_deadline"),
    )


class IssueDeferral(db.Model):
    """缓办: one stretch of time an issue spent deferred (state `deferred`), from `deferred_at` until `resumed_at`
    (None: still deferred). Kept as rows so that a report taken "as of" an instant knows whether the issue was
    deferred then (metrics: deferred issues leave 应结案数 while deferred). At most one open stretch per issue."""

    __tablename__ = "issue_deferrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    deferred_at: Mapped[dt.datetime]
    deferred_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str] = mapped_column(String(24))
    deadline_before: Mapped[Optional[dt.datetime]]  # the deadline in force when deferred (kept on the issue too)
    remaining_hours: Mapped[float] = mapped_column(Float, default=0.0)  # working hours left to it then
    resumed_at: Mapped[Optional[dt.datetime]]
    resumed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    deadline_after: Mapped[Optional[dt.datetime]]  # the deadline the resume set

    issue: Mapped[Issue] = relationship()
    deferred_by: Mapped[User] = relationship(foreign_keys=[deferred_by_id], lazy="joined")

    __table_args__ = (
        Index("ix_issue_deferrals_issue_id_deferred_at", "issue_id", "deferred_at"),
        Index("uq_issue_deferrals_one_open", "issue_id", unique=True, sqlite_where=text("resumed_at IS NULL"),
              postgresql_where=text("resumed_at IS NULL")),
        CheckConstraint("remaining_hours >= 0", name="remaining_not_negative"),
    )


class IssuePhoto(StoredPhotoColumns, db.Model):
    __tablename__ = "issue_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("issue_events.id"))
    kind: Mapped[str] = mapped_column(String(8))  # before | after

    issue: Mapped[Issue] = relationship(back_populates="photos")
    event: Mapped[Optional[IssueEvent]] = relationship()

    __table_args__ = (CheckConstraint("kind IN ('before', 'after')", name="kind_known"),)


class IssueComment(db.Model):
    __tablename__ = "issue_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    issue: Mapped[Issue] = relationship(back_populates="comments")
    author: Mapped[User] = relationship(lazy="joined")


class TimeLimit(db.Model):
    """How long a category × severity may take to fix (处置时限), in working hours or working days."""

    __tablename__ = "issue_time_limits"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(6))  # hours | days (working)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("site_id", "category", "severity"),
        CheckConstraint("unit IN ('hours', 'days')", name="unit_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class WorkingHours(db.Model):
    """A site's office hours on a workday, for limits counted in working hours (default 08:30–17:30)."""

    __tablename__ = "site_working_hours"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    starts: Mapped[dt.time] = mapped_column(Time)
    ends: Mapped[dt.time] = mapped_column(Time)
