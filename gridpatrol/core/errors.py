"""Error pages and the domain error type services raise for refusals a user can understand."""

from __future__ import annotations

from flask import Flask, render_template


class DomainError(Exception):
    """A refusal by domain rules (bad state, invalid input); the message is shown to the user."""

    status_code = 422


class NotAllowed(PermissionError):
    """This user may not do this to this object; views answer 403 through roles.deny (audited)."""


class ConflictError(DomainError):
    """The request is based on stale state or repeats an earlier one with different content."""

    status_code = 409


def init_app(app: Flask) -> None:
    for code in (400, 403, 404, 405, 409, 422, 429, 500):
        app.register_error_handler(code, _render_error)


def _render_error(error):
    code = getattr(error, "code", 500) or 500
    return render_template("errors/error.html", code=code, error=error), code
