"""Grids and the four fixes (四定): sites, grid units, leaders, checkpoints, the map and point location."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("grids", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.grids import demo, models, site_context, views  # noqa: F401  (demo loader, models, routes)

    app.register_blueprint(bp)
    site_context.init_app(app)
    navigation.set_site_source(_navigation_site)
    app.jinja_env.globals["switchable_sites"] = site_context.switchable_sites
    app.jinja_env.globals["same_page_on_site"] = site_context.site_page_url_for_endpoint
    app.jinja_env.globals["current_site"] = site_context.current_site_or_none
    navigation.register("grids.site_map", _l("Map"), order=10)
    navigation.register("grids.index", _l("Grids"), order=11)


def _navigation_site():
    from gridpatrol.grids import site_context

    site = site_context.current_site_or_none()
    return (site.id, site.code) if site is not None else None
