from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, String, Table, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.core.roles import CURRENT_SITE, Role, current_site_id
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db

ROLE_CHECK = "role IN (" + ", ".join(f"'{r.value}'" for r in Role) + ")"


class TeamKind(str, enum.Enum):
    MAINTENANCE = "maintenance"  # 维修班组
    PROPERTY = "property"  # 物业公司
    VENDOR = "vendor"  # 供应商 / 维保单位

    @property
    def label(self) -> str:
        return str(TEAM_KIND_LABELS[self])


TEAM_KIND_LABELS = {
    TeamKind.MAINTENANCE: _l("Maintenance crew"),
    TeamKind.PROPERTY: _l("Property company"),
    TeamKind.VENDOR: _l("Vendor"),
}

team_members = Table(
    "team_members",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[Optional[str]] = mapped_column(String(8))
    email: Mapped[Optional[str]] = mapped_column(String(254))  # notifications by mail, when MAIL_SERVER is set
    # Failed logins of this account before this moment no longer count (an administrator unlocked it or reset
    # its password; accounts/login_limits.py).
    unlocked_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Loaded on use (the logged-in user's are eager-loaded by the user loader), not with every user row
    # a page shows (reporters, leaders, assignees …).
    role_rows: Mapped[list["UserRole"]] = relationship(back_populates="user", cascade="all, delete-orphan")
    teams: Mapped[list["Team"]] = relationship(secondary=team_members, back_populates="members")

    # Set on the instance that represents the logged-in request; Flask-Login stores it in the cookie.
    session_token: ClassVar[Optional[str]] = None
    # Also set there: the (role, site id) pairs the user loader read in the user's own row, so the logged-in user's
    # role checks need no UserRole objects. Once `role_rows` is loaded (an admin editing them), it is what counts.
    loaded_grants: ClassVar[Optional[tuple[tuple[Role, Optional[int]], ...]]] = None

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> Optional[str]:
        return self.session_token

    def _grants(self) -> tuple[tuple[Role, Optional[int]], ...]:
        loaded = self.__dict__.get("loaded_grants")
        if loaded is not None and "role_rows" not in self.__dict__:
            return loaded
        return tuple((Role(r.role), r.site_id) for r in self.role_rows)

    @property
    def roles(self) -> set[Role]:
        """Every role this user holds, at any site (see `roles_at` for one site)."""
        return {role for role, _ in self._grants()}

    def roles_at(self, site_id: Optional[int]) -> set[Role]:
        """The roles this user holds at the site: those given for it and those given for all sites."""
        return {role for role, site in self._grants() if site is None or site == site_id}

    def has_role(self, role: Role, site_id: Any = CURRENT_SITE) -> bool:
        return role in self._roles_for(site_id)

    def has_any_role(self, *roles: Role, site_id: Any = CURRENT_SITE) -> bool:
        return bool(self._roles_for(site_id).intersection(roles))

    def _roles_for(self, site_id: Any) -> set[Role]:
        """Roles at `site_id`; by default at the site of the request being served (g.site), and at any site
        outside a site's pages (the CLI, jobs, pages shared by all sites)."""
        if site_id is CURRENT_SITE:
            site_id = current_site_id()
        return self.roles if site_id is None else self.roles_at(site_id)

    def roles_granted(self) -> list[tuple[Role, Optional[int]]]:
        """(role, site id or None for all sites) of every role row."""
        return list(self._grants())

    def site_ids(self) -> Optional[set[int]]:
        """The sites this user works at; None for all sites (a provincial supervisor, the admin)."""
        grants = self._grants()
        if any(site is None for _, site in grants):
            return None
        return {site for _, site in grants}

    def may_enter_site(self, site_id: int) -> bool:
        ids = self.site_ids()
        return ids is None or site_id in ids

    def __repr__(self) -> str:
        return f"<User {self.username}>"


@event.listens_for(User, "expire")
def _forget_loaded_grants(user: User, attrs) -> None:
    """Expiring the roles (or the whole user) means: read them again, from the rows."""
    if user is not None and (attrs is None or "role_rows" in attrs):  # None: the object is already gone
        user.__dict__.pop("loaded_grants", None)


class UserRole(db.Model):
    """A role held at one site, or at every site when `site_id` is NULL (a provincial supervisor, the admin)."""

    __tablename__ = "user_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    # The sites table belongs to grids, a floor above accounts: named here by table, not imported.
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    user: Mapped[User] = relationship(back_populates="role_rows")

    __table_args__ = (
        CheckConstraint(ROLE_CHECK, name="role_known"),
        # One row per (user, role, site); "all sites" at most once per role (NULLs are distinct in UNIQUE).
        Index("uq_user_roles_user_id_role_site", "user_id", "role", "site_id", unique=True),
        Index("uq_user_roles_user_id_role_all_sites", "user_id", "role", unique=True,
              sqlite_where=text("site_id IS NULL"), postgresql_where=text("site_id IS NULL")),
    )


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams")

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k.value}'" for k in TeamKind) + ")", name="kind_known"),
    )

    @property
    def kind_label(self) -> str:
        return TeamKind(self.kind).label


class UserSession(db.Model):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored here.

    Deleting or revoking the row ends that login everywhere, whatever the cookie says.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[Optional[dt.datetime]]
    address: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(255))

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A personal API token: a program acting as its user (same roles, same sites) with `Authorization: Bearer`.
    Shown once when made; only its SHA-256 is stored, with its first characters to tell tokens apart. Revoking
    or deactivating the user ends it at the next request."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the token's first characters, to recognise it in a list
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[Optional[dt.datetime]]
    last_used_at: Mapped[Optional[dt.datetime]]
    revoked_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship()

    def is_live(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginAttempt(db.Model):
    """Every password check (the login page's and the current password on the password page), kept in the database
    so all gunicorn workers count the same failures (accounts/login_limits.py)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[Optional[str]] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    # The known device the check came from (its id from the signed cookie a successful login sets), or NULL from an
    # unknown place. A known device's failures count for that device only.
    device: Mapped[Optional[str]] = mapped_column(String(24))

    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )
