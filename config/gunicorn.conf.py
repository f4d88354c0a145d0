"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Bind address and worker count come from GRIDPATROL_BIND / GRIDPATROL_WORKERS so the demo, the
benchmarks and production use one file.
"""

import os

bind = os.environ.get("GRIDPATROL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GRIDPATROL_WORKERS", "4"))
worker_class = os.environ.get("GRIDPATROL_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GRIDPATROL_THREADS", "2"))
# Each worker builds its own app and engine: no connection pool is ever shared across a fork.
preload_app = False
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = os.environ.get("GRIDPATROL_ACCESS_LOG") or None
# %(p)s is the worker pid: lets operators (and tests) see which worker served a request.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'
# The request line without the values of api_key, token and the like (an Open311 client may send its key in the
# query string); no header is ever logged.
logger_class = "gridpatrol.core.access_log.RedactingLogger"
errorlog = "-"
loglevel = os.environ.get("GRIDPATROL_GUNICORN_LOGLEVEL", "info")
forwarded_allow_ips = os.environ.get("GRIDPATROL_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's runtime control socket defaults to one path per user; several instances on one host
# (web, benchmarks, tests) would fight over it, and systemd does the process management anyway.
control_socket_disable = True


def post_worker_init(worker):
    # Logged once the worker has imported the app and can serve: lets operators and tests tell
    # "booting" from "ready".
    worker.log.info("GridPatrol worker ready (pid %s)", worker.pid)
