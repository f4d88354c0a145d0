"""The `gridpatrol` command: Flask's CLI with GridPatrol's own command groups.

`gridpatrol db upgrade` (Flask-Migrate), `gridpatrol users create`, `gridpatrol demo`; later capabilities
add their groups in `_add_commands`.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_cli_app():
    from gridpatrol import create_app

    return create_app(serving=False)


def _add_commands(group: click.Group) -> None:
    from gridpatrol.accounts.cli import tokens, users
    from gridpatrol.backups.cli import backup, restore
    from gridpatrol.core.photo_commands import photos
    from gridpatrol.demo.cli import demo
    from gridpatrol.grids.cli import grids, sites
    from gridpatrol.points.cli import points
    from gridpatrol.scheduler.cli import scheduler
    from gridpatrol.standards.cli import standards
    from gridpatrol.workdays.cli import calendar

    for command in (users, tokens, demo, sites, grids, standards, scheduler, points, calendar, photos, backup,
                    restore):
        group.add_command(command)


@click.group(cls=FlaskGroup, create_app=_create_cli_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """GridPatrol (网格巡查) administration."""


_add_commands(main)
