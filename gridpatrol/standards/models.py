from __future__ import annotations

import datetime as dt
import enum
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class VersionStatus(str, enum.Enum):
    DRAFT = "draft"  # being edited; never used by a patrol
    PUBLISHED = "published"  # the version new patrols are filled against
    SUPERSEDED = "superseded"  # replaced by a newer one; patrols that used it keep it


class ChecklistTemplate(db.Model):
    """A checklist standard (检查标准, 定标准). Its content lives in versions."""

    __tablename__ = "checklist_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[Optional[str]] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    versions: Mapped[list["TemplateVersion"]] = relationship(
        back_populates="template", order_by="TemplateVersion.number", cascade="all, delete-orphan")

    @property
    def published(self) -> Optional["TemplateVersion"]:
        return next((v for v in self.versions if v.status == VersionStatus.PUBLISHED.value), None)

    @property
    def draft(self) -> Optional["TemplateVersion"]:
        return next((v for v in self.versions if v.status == VersionStatus.DRAFT.value), None)


class TemplateVersion(db.Model):
    """One version of a template. Only a draft may change; publishing freezes it for good."""

    __tablename__ = "template_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=VersionStatus.DRAFT.value)
    note: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[Optional[dt.datetime]]

    template: Mapped[ChecklistTemplate] = relationship(back_populates="versions")
    items: Mapped[list["TemplateItem"]] = relationship(
        back_populates="version", order_by="TemplateItem.position", cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (
        UniqueConstraint("template_id", "number"),
        CheckConstraint("status IN ('draft', 'published', 'superseded')", name="status_known"),
        # At most one draft and one published version per template, whatever the code above does.
        Index("uq_template_versions_one_draft", "template_id", unique=True,
              sqlite_where=text("status = 'draft'"), postgresql_where=text("status = 'draft'")),
        Index("uq_template_versions_one_published", "template_id", unique=True,
              sqlite_where=text("status = 'published'"), postgresql_where=text("status = 'published'")),
    )

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT.value


class TemplateItem(db.Model):
    """One check: the standard text the leader checks against, its weight and rules."""

    __tablename__ = "template_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # Stable across versions, so answers can be compared over time ("WP-03" is the same check in v1 and v2).
    code: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    allow_na: Mapped[bool] = mapped_column(Boolean, default=True)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_on_fail: Mapped[bool] = mapped_column(Boolean, default=False)

    version: Mapped[TemplateVersion] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("version_id", "code"),
        CheckConstraint("weight BETWEEN 1 AND 100", name="weight_range"),
    )
