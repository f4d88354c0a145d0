"""The scheduler process (`gridpatrol scheduler run`): a few fixed jobs that work from database state.

Never started by create_app or a web worker. Jobs are idempotent, so a restart catches up and a second
scheduler does no harm.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from gridpatrol.scheduler import models  # noqa: F401  (heartbeats, for Alembic)
