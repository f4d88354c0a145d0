"""The scheduler process (`gridpatrol scheduler run`): a few fixed jobs that work from database state.

Never started by create_app or a web worker. Jobs are idempotent, so a restart catches up and a second
scheduler does no harm.
"""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("scheduler", __name__, template_folder="templates", url_prefix="/admin/scheduler")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.scheduler import models, views  # noqa: F401  (heartbeats for Alembic, routes)

    app.register_blueprint(bp)
    navigation.register("scheduler.status", _l("Scheduler"), (Role.ADMIN,), order=91)
