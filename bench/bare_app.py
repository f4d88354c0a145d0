"""The baseline target: the smallest Flask app, served by the same gunicorn config as GridPatrol.

`gunicorn -c config/gunicorn.conf.py bench.bare_app:app` (run from the repository root).
It imports nothing from gridpatrol and touches no database, so GridPatrol's figure ÷ this figure is
what GridPatrol's own stack (settings, extensions, security headers, transaction hooks, database)
costs on this machine, with gunicorn, the load generator and the machine held constant.
"""

from flask import Flask

app = Flask(__name__)

BODY = b"ok\n"


@app.get("/")
def index():
    return BODY, 200, {"Content-Type": "text/plain; charset=utf-8"}
