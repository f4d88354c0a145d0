"""`gridpatrol users create` and `gridpatrol demo --no-serve`."""

import sqlalchemy as sa
from click.testing import CliRunner

from gridpatrol.accounts.models import User
from gridpatrol.cli import main
from gridpatrol.extensions import db


def _run(app, args, stdin=None):
    """Run the real console entry point against this test's database."""
    return CliRunner().invoke(main, args, input=stdin, env={"GRIDPATROL_DATABASE_URL": app.config["DATABASE_URL"]})


def test_users_create_reads_the_password_from_stdin(app):
    result = _run(app, ["users", "create", "Wang01", "--role", "grid_leader", "--role", "staff", "--name", "王网格",
                        "--password-stdin"], stdin="corridor-2026\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "wang01"))
        assert user.display_name == "王网格"
        assert {r.role for r in user.role_rows} == {"grid_leader", "staff"}


def test_users_create_refuses_a_weak_password_and_creates_nothing(app):
    result = _run(app, ["users", "create", "weak", "--role", "staff", "--password-stdin"], stdin="12345678\n")
    assert result.exit_code != 0
    assert "至少为 10 个字符" in result.output  # CLI messages come in the site's default language
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.username == "weak")) is None


def test_users_create_refuses_an_unknown_role(app):
    result = _run(app, ["users", "create", "x1", "--role", "emperor", "--password-stdin"], stdin="abc12345\n")
    assert result.exit_code == 2 and "emperor" in result.output
