"""What the home page and the health check need to know."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def database_ok(session: Session) -> bool:
    try:
        session.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
