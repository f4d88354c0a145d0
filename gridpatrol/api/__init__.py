"""/api/v1: the machine interface, on the top floor (CTFd's api/v1): it composes the domains' services, and no
domain imports it.

One flask-smorest `Api` (spec.py) documents the namespaces, each a blueprint of its own module (sites, grids,
issues, patrols, points, dashboard); a plain blueprint (`api`) serves the OpenAPI document and its docs page
(Swagger UI, vendored in static/vendor/swagger-ui). Every namespace authenticates in `auth.authenticate` (a
bearer token or the browser's session), takes the `<site>` of its URLs through the same site check as the pages
(grids/site_context.py), calls the services the pages call, and lets `core.errors` answer every refusal as
problem+json. The request's transaction is the app's (core/transaction.py): one commit, or a rollback on refusal.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template

from gridpatrol.api.spec import PREFIX, make_api

bp = Blueprint("api", __name__, url_prefix=PREFIX, template_folder="templates")


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document, built once per app (it describes the code, which does not change while it runs)."""
    document = current_app.extensions.get("gridpatrol.openapi")
    if document is None:
        document = current_app.extensions["gridpatrol.openapi"] = current_app.extensions["gridpatrol.api"].spec.to_dict()
    return jsonify(document)


@bp.get("/docs")
def docs():
    """A browsable page of the document (Swagger UI from the app's own static files; no CDN)."""
    return render_template("api/docs.html")


def init_app(app: Flask) -> None:
    from gridpatrol.accounts.tokens import accept_tokens_on
    from gridpatrol.api import namespaces
    from gridpatrol.core import bodies
    from gridpatrol.core.errors import answer_json_under
    from gridpatrol.extensions import csrf

    api = make_api()
    api.init_app(app)
    app.extensions["gridpatrol.api"] = api
    for blueprint in namespaces.ALL:
        csrf.exempt(blueprint)  # auth.authenticate checks the CSRF token itself for a session caller
        api.register_blueprint(blueprint)
        accept_tokens_on(blueprint.name)
        bodies.blueprint_default(blueprint.name, lambda config: config["API_MAX_BODY_BYTES"])
    answer_json_under(PREFIX + "/")
    app.register_blueprint(bp)
