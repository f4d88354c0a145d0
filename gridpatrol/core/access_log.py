"""gunicorn's access log without secrets: an API token or Open311 `api_key` sent in a query string would otherwise
be written to the log with the request line. The values of those parameters are replaced before a line is
formatted (tokens in the Authorization header are never logged: the log format has no header atoms).

Used by config/gunicorn.conf.py (`logger_class`)."""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

SECRET_PARAMETERS = re.compile(r"((?:^|[?&;])(?:api_key|access_token|token|password)=)[^&;\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET_PARAMETERS.sub(lambda match: match.group(1) + REDACTED, text)


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
