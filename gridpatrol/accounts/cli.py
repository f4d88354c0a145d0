"""`gridpatrol users …`: account administration from the shell."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from gridpatrol.accounts import passwords, services
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
    """Create USERNAME with the given role(s). The password is prompted for, or read from stdin.

    \b
    The password policy (PASSWORD_MIN_LENGTH, default 10 characters; PASSWORD_MIN_SCORE): common passwords,
    keyboard patterns, repeated characters and passwords made of the username or name are refused.
    """
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        click.echo(passwords.policy_hint(), err=True)
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with job_transaction() as session:
            passwords.check_new_password(password, username=services.normalise_username(username),
                                         display_name=display_name or username)
            site_id = services.site_id_for_code(session, site_code) if site_code else None
            user = services.create_user(
                session, username=username, display_name=display_name or username, password=password,
                roles=[(Role(r), site_id) for r in roles], phone=phone,
            )
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    where = f"at site {site_code.upper()}" if site_code else "at all sites"
    click.echo(f"created user {user.username} with roles {', '.join(sorted(roles))} {where}")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def unlock_user(username: str) -> None:
    """Unlock USERNAME after failed logins (as the users page does): earlier failures no longer count."""
    try:
        with job_transaction() as session:
            services.unlock(session, _user_named(session, username), actor=None)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"unlocked {services.normalise_username(username)}: earlier failed logins no longer count")


# --- API tokens ------------------------------------------------------------------------------------------------
@click.group()
def tokens() -> None:
    """Personal API tokens (`Authorization: Bearer …` on /api/v1, `api_key` on Open311)."""


def _user_named(session, username: str):
    user = services.get_user_by_username(session, username)
    if user is None:
        raise click.ClickException(f"no user named {username}")
    return user


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="api", show_default=True, help="What uses the token (shown in lists).")
@click.option("--expires", "expires_days", type=int, help="Days until it expires (default: never).")
@with_appcontext
def create_token(username: str, name: str, expires_days: int | None) -> None:
    """Make a token for USERNAME and print it once: it is stored only as a hash."""
    from gridpatrol.accounts import tokens as api_tokens
    from gridpatrol.core.time import utcnow

    try:
        with job_transaction() as session:
            row, token = api_tokens.create(session, _user_named(session, username), name=name,
                                           expires_days=expires_days, now=utcnow())
            until = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "does not expire"
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"token {row.prefix}… for {username} ({name}), {until}; it is shown only now", err=True)


@tokens.command("list")
@click.argument("username")
@with_appcontext
def list_tokens(username: str) -> None:
    """USERNAME's tokens: id, first characters, name, made, expires, last used, state."""
    from gridpatrol.accounts import tokens as api_tokens
    from gridpatrol.core.time import utcnow

    with job_transaction() as session:
        now = utcnow()
        rows = api_tokens.of_user(session, _user_named(session, username))
        for row in rows:
            state = "revoked" if row.revoked_at else ("live" if row.is_live(now) else "expired")

            def stamp(when):
                return f"{when:%Y-%m-%d %H:%M}" if when else "-"
            click.echo(f"{row.id}\t{row.prefix}…\t{row.name}\tmade {stamp(row.created_at)}\t"
                       f"expires {stamp(row.expires_at)}\tused {stamp(row.last_used_at)}\t{state}")
        if not rows:
            click.echo(f"{username} has no tokens")


@tokens.command("revoke")
@click.argument("username")
@click.argument("token")
@with_appcontext
def revoke_token(username: str, token: str) -> None:
    """Revoke USERNAME's TOKEN (its id or first characters, as `tokens list` shows them): refused from now on."""
    from gridpatrol.accounts import tokens as api_tokens
    from gridpatrol.core.time import utcnow

    try:
        with job_transaction() as session:
            row = api_tokens.find_by_prefix(session, _user_named(session, username), token.rstrip("…"))
            ended = api_tokens.revoke(session, row, now=utcnow())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked token {row.prefix}… ({row.name})" if ended else f"token {row.prefix}… was revoked already")
