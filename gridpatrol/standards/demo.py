"""Demo checklist standards, imported through the same service an administrator's upload uses.

The files live in gridpatrol/demo/data/standards/*.json (format gridpatrol-checklist/1); each new code
is created and published as version 1.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from gridpatrol.demo import services as demo
from gridpatrol.standards import services

DATA = Path(__file__).resolve().parents[1] / "demo" / "data" / "standards"


def demo_files() -> list[Path]:
    return sorted(DATA.glob("*.json"))


def load_standards(session: Session) -> None:
    for path in demo_files():
        services.import_template(session, path.read_bytes(), actor=None)


demo.register_loader("standards", load_standards)
