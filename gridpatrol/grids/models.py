from __future__ import annotations

import datetime as dt
import enum
from typing import Optional

from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.accounts.models import User
from gridpatrol.core.geometry import GeometryType
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class Site(db.Model):
    """One compound (办公区 / 大院). Its boundary is optional; gaps and outside parts are reported against it."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    boundary: Mapped[Optional[BaseGeometry]] = mapped_column(GeometryType)
    # Bumped by every change to the site's grids; lets each process rebuild its cached locator.
    grids_version: Mapped[int] = mapped_column(Integer, default=0)
    # The map shows a grid grey (uncovered) when no patrol of it was done in this many days (1 to 365).
    uncovered_after_days: Mapped[int] = mapped_column(Integer, default=7, server_default=db.text("7"))
    # 编制单位: who issues the printed points table (e.g. 东湖区机关事务服务中心); the site's name when unset.
    issuing_unit: Mapped[Optional[str]] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    grids: Mapped[list["Grid"]] = relationship(back_populates="site", order_by="Grid.code")


class Grid(db.Model):
    """A grid unit (网格单元): the area part of the four fixes (定区域)."""

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    building: Mapped[Optional[str]] = mapped_column(String(80))
    level: Mapped[int] = mapped_column(Integer, default=0)  # floor number; 0 is outdoor ground
    geometry: Mapped[BaseGeometry] = mapped_column(GeometryType)
    # Responsibility categories (定责任): codes of gridpatrol.core.categories.Category.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[Optional[str]] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship(back_populates="grids")
    assignments: Mapped[list["GridAssignment"]] = relationship(
        back_populates="grid", order_by="GridAssignment.effective_from", cascade="all, delete-orphan"
    )
    checkpoints: Mapped[list["Checkpoint"]] = relationship(back_populates="grid", order_by="Checkpoint.code")

    __table_args__ = (UniqueConstraint("site_id", "code"), Index("ix_grids_site_id_level", "site_id", "level"))

    def current(self, role: "AssignmentRole") -> Optional["GridAssignment"]:
        for a in self.assignments:
            if a.role == role.value and a.effective_to is None:
                return a
        return None

    @property
    def leader(self) -> Optional[User]:
        a = self.current(AssignmentRole.LEADER)
        return a.user if a else None

    @property
    def deputy(self) -> Optional[User]:
        a = self.current(AssignmentRole.DEPUTY)
        return a.user if a else None


class AssignmentRole(str, enum.Enum):
    LEADER = "leader"  # 网格长
    DEPUTY = "deputy"  # 副网格长


class GridAssignment(db.Model):
    """Who is responsible for a grid, and since when (定人员). Rows are closed, never deleted."""

    __tablename__ = "grid_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(10))
    effective_from: Mapped[dt.datetime]
    effective_to: Mapped[Optional[dt.datetime]]
    assigned_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    note: Mapped[Optional[str]] = mapped_column(String(255))

    grid: Mapped[Grid] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    assigned_by: Mapped[Optional[User]] = relationship(foreign_keys=[assigned_by_id])

    __table_args__ = (
        CheckConstraint("role IN ('leader', 'deputy')", name="role_known"),
        # At most one open assignment per grid and role: exactly one responsible leader at a time.
        Index("uq_grid_assignments_open", "grid_id", "role", unique=True,
              sqlite_where=db.text("effective_to IS NULL"), postgresql_where=db.text("effective_to IS NULL")),
        Index("ix_grid_assignments_user_id", "user_id"),
        Index("ix_grid_assignments_grid_id", "grid_id"),  # a grid's history (who led it in a month)
    )


class Checkpoint(db.Model):
    """A patrol checkpoint (巡更点) inside a grid, with a QR poster."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(120))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    grid: Mapped[Grid] = relationship(back_populates="checkpoints")

    __table_args__ = (UniqueConstraint("grid_id", "code"),)
