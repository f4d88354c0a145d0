"""Open311 GeoReport v2 (`/open311/v2/…`): the compound's issues as service requests, for the city's 12345 bridge,
the repair hotline and other systems that speak the standard. A consumer on the top floor, like `dashboard/` and
`api/`: it composes the issues domain's services and no domain imports it.

* `catalogue.py`: our categories as services (`services`, `services/{code}` with the severity and level
  attributes);
* `reading.py`: issues as service requests (`GET requests`, `GET requests/{id}`), our states mapped to
  open/closed;
* `submission.py`: `POST requests`, a quick report (随手拍) filed through `issues.services.report` as the
  api_key's user;
* `access.py`: the jurisdiction (a site code) and the api_key (a personal API token);
* `formats.py`: the two formats (JSON, XML by the spec's Spark convention) and the error list;
* `views.py`: the routes and the blueprint's error handlers, so every refusal is answered as the spec shows it.

docs/open311.md says what is served and how to get an api_key.
"""

from flask import Blueprint, Flask

bp = Blueprint("open311", __name__, url_prefix="/open311")


def init_app(app: Flask) -> None:
    from gridpatrol.core import bodies
    from gridpatrol.extensions import csrf
    from gridpatrol.open311 import views  # noqa: F401  (routes and error handlers)
    from gridpatrol.open311.params import MAX_BODY_BYTES

    # A machine interface authenticated by its api_key (never by a browser's session): no CSRF token to show.
    csrf.exempt(bp)
    bodies.blueprint_default(bp.name, MAX_BODY_BYTES)  # the bound of every body it takes
    app.register_blueprint(bp)
