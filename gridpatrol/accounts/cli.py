"""`gridpatrol users …`: account administration from the shell."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from gridpatrol.accounts import services
from gridpatrol.core.errors import DomainError
from gridpatrol.core.roles import Role
from gridpatrol.core.transaction import job_transaction


@click.group()
def users() -> None:
    """Create and manage user accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]),
              help="Repeat for several roles.")
@click.option("--site", "site_code", help="The site (code) the roles are for; without it, all sites.")
@click.option("--name", "display_name", help="Display name (defaults to the username).")
@click.option("--phone")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def create_user(username: str, roles: tuple[str, ...], site_code: str | None, display_name: str | None,
                phone: str | None, password_stdin: bool) -> None:
    """Create USERNAME with the given role(s). The password is prompted for, or read from stdin."""
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with job_transaction() as session:
            site_id = services.site_id_for_code(session, site_code) if site_code else None
            user = services.create_user(
                session, username=username, display_name=display_name or username, password=password,
                roles=[(Role(r), site_id) for r in roles], phone=phone,
            )
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    where = f"at site {site_code.upper()}" if site_code else "at all sites"
    click.echo(f"created user {user.username} with roles {', '.join(sorted(roles))} {where}")
