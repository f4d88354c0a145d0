"""A history for the demo: a year (or five) of patrols, problems, repairs and points, played day by day through
the domains' own services (`services.play`). It composes patrols, issues and points, so it sits on the top floor,
beside the consumers; `gridpatrol demo` calls it after the demo loaders."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to wire: no blueprint, no signal, no job. Registered so the package is part of the app like the
    others (and importable by the demo command)."""
    from gridpatrol.history import services  # noqa: F401
