"""What a grid leader's tablet keeps for a day without network (离线巡查).

Opening today's list online makes the tablet's service worker fetch the form of every patrol on it that the
leader can still fill (static/js/sw-today.js), together with a small table of the patrol grid's checkpoints, so
that a leader who walks into a basement without signal can open, fill and queue any of them
(static/js/sw-checkpoints.js answers the form's checkpoint lookups from that table).

The checkpoint table holds each active checkpoint's code and name and the SHA-256 of its QR poster's signed
text, never the text itself: the tablet can recognise a genuine poster offline, but the table does not hand
out the posters' signatures (a code copied from it would not pass as a scanned poster).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.grids import qr
from gridpatrol.grids.models import Checkpoint
from gridpatrol.patrols import services
from gridpatrol.patrols.models import Patrol

# The states of today's list in which the form can still be filled (patrols.views.show renders the form).
FILLABLE_STATES = frozenset({"upcoming", "due", "in_progress", "late"})


def kept_offline(user: User, rows: Iterable[tuple[Patrol, str]], now: dt.datetime) -> set[int]:
    """The ids of the patrols of today's list (patrol, display state) whose form the tablet keeps offline:
    those the user fills and can still submit. Done and missed patrols are not kept: nothing is left to fill."""
    return {patrol.id for patrol, state in rows
            if state in FILLABLE_STATES and services.can_fill(user, patrol) and patrol.is_open
            and now < patrol.grace_until}


def poster_digest(payload: str) -> str:
    """The hex SHA-256 of a poster's signed text as the server reads a scan of it (trimmed, upper case)."""
    return hashlib.sha256(payload.strip().upper().encode("ascii")).hexdigest()


def checkpoint_table(session: Session, patrol: Patrol) -> dict[str, Any]:
    """The patrol grid's active checkpoints for an offline lookup: code, name and the poster's digest."""
    grid = patrol.grid
    checkpoints = session.scalars(select(Checkpoint).where(
        Checkpoint.grid_id == grid.id, Checkpoint.active.is_(True)).order_by(Checkpoint.code))
    return {"patrol_id": patrol.id, "grid": grid.code,
            "checkpoints": [{"code": c.code, "name": c.name, "poster_sha256": poster_digest(qr.checkpoint_payload(c))}
                            for c in checkpoints]}
