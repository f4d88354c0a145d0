"""Safe defaults for GridPatrol.

Loaded first; a file named by GRIDPATROL_SETTINGS overrides these, then environment variables
GRIDPATROL_<KEY> override both (see README, "Configuration"). Every key an operator may set is
listed here, so the environment loader knows its type.
"""

# Sessions and cookies are signed with this key. Outside debug/testing the app refuses to start
# while it still has this value.
SECRET_KEY = "insecure-default-change-me"

# Empty means: a SQLite file `gridpatrol.sqlite` in the instance folder.
DATABASE_URL = ""
SQLITE_BUSY_TIMEOUT_MS = 15000

DEBUG = False
TESTING = False

# Shown in pages and used for "today" when no site says otherwise.
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LOCALE = "zh"
LANGUAGES = ["zh", "en"]

# Cookies: Secure is also set per request whenever the request arrived over HTTPS.
SESSION_COOKIE_SECURE = False
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
SESSION_LIFETIME_HOURS = 12

# Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
PROXY_COUNT = 0
# Redirect plain HTTP to HTTPS and send HSTS (only behind a proxy that terminates TLS).
FORCE_HTTPS = False

# Failed logins, counted in the database so every gunicorn worker sees the same numbers (the rules:
# gridpatrol/accounts/login_limits.py and docs/deploy/README.md). From a limit on, every further failure locks
# what it counted against for LOGIN_LOCK_MINUTES, doubled at each further limit's worth of failures, at most
# LOGIN_LOCK_MAX_MINUTES. A locked place is refused without checking the password.
# Per account and address (or per account and known device): a low limit, the owner's own typos count here.
LOGIN_MAX_FAILURES_PER_PLACE = 5
# Per account from unknown places, all addresses together. A device the account has logged in with before (a
# signed cookie) is not held by it, so guesses from elsewhere cannot lock the owner out.
LOGIN_MAX_FAILURES_PER_ACCOUNT = 20
# Per address from unknown places, all accounts together (one address trying many accounts).
LOGIN_MAX_FAILURES_PER_ADDRESS = 50
# Failures older than this are forgotten.
LOGIN_FAILURE_WINDOW_MINUTES = 1440
# The first lock, and the longest.
LOGIN_LOCK_MINUTES = 1
LOGIN_LOCK_MAX_MINUTES = 60
# How long a browser stays a known device of an account after its last successful login there.
KNOWN_DEVICE_DAYS = 180

# Passwords chosen by a person (forms, `gridpatrol users create`): at least this many characters, and at least this
# zxcvbn score (0-4; 3 = "safely unguessable", about 10^8 guesses). See gridpatrol/accounts/passwords.py.
PASSWORD_MIN_LENGTH = 10
PASSWORD_MIN_SCORE = 3

# argon2id cost (RFC 9106 "low memory" profile by default).
ARGON2_TIME_COST = 3
ARGON2_MEMORY_COST_KIB = 65536
ARGON2_PARALLELISM = 4

# Demo server (gridpatrol demo).
DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8000

LOG_LEVEL = "INFO"
# "text" or "json" (JSON lines for a log collector: time, level, logger, message, process, request id or job).
# The web workers and the scheduler process log this way; gunicorn's own lines stay as gunicorn writes them.
LOG_FORMAT = "text"
# One line per request (method, path without its query, status, duration, user, address, request id).
LOG_REQUESTS = False

# Where photos are kept: "directory" (files under PHOTO_DIR; empty: the instance folder's photos/) or "database"
# (a table in the app's database: several web hosts then share nothing but PostgreSQL). Move existing photos with
# `gridpatrol photos migrate --to database` (or `--to directory`) before changing it.
PHOTO_STORAGE = "directory"
PHOTO_DIR = ""

# Nightly backups by the scheduler (off while BACKUP_DIR is empty): from BACKUP_HOUR on (DEFAULT_TIMEZONE) the first
# run of each day writes gridpatrol-YYYY-MM-DD.tar (the database and every photo) into BACKUP_DIR and keeps the newest
# BACKUP_KEEP. Copy them off this host (docs/deploy/README.md, "Backups").
BACKUP_DIR = ""
BACKUP_KEEP = 7
BACKUP_HOUR = 2

# /healthz (for monitoring) fails when the photo directory's disk has less than this left.
HEALTH_MIN_FREE_UPLOAD_MB = 1024
# /healthz tells its parts (database latency, migrations, each scheduler job's heartbeat, free space, calendar) only
# to a logged-in admin and to callers sending this value in an `X-Health-Token` header (empty: nobody else); with
# HEALTH_DETAILS_PUBLIC every caller sees them. Others get the status alone.
HEALTH_DETAILS_TOKEN = ""
HEALTH_DETAILS_PUBLIC = False

# The largest request body /api/v1 reads, in bytes (operations that take photos have their own, larger bounds).
API_MAX_BODY_BYTES = 1024 * 1024

# Request bodies (gridpatrol/core/bodies.py): every body is bounded before it is read; a longer declared one is
# refused at once and a chunked one is counted as it streams (413, the error page or problem+json).
# The ceiling of every request, in bytes: no route's own bound is above it (the largest is a patrol's submission,
# 64 MiB).
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
# A page's form that takes no file (login, plans, dispatch, comments …): a few KB is plenty; 64 KiB leaves room for
# the longest texts the forms take (2,000 Chinese characters are 18 KB URL-encoded).
FORM_MAX_BODY_BYTES = 64 * 1024
# One field of a multipart form that is not a file (Werkzeug keeps it in memory), and the parts of one form: a
# patrol's plain form has three parts per checklist item (answer, note, photo) and a checklist up to 500 items.
MAX_FORM_MEMORY_SIZE = 512 * 1024
MAX_FORM_PARTS = 2000
# Photos (each at most 12 MB, a JPEG, PNG or WebP image): at most this many, together at most this many bytes,
# per quick report (随手拍) or rectification step (the photos of the fixed state) ...
ISSUE_MAX_PHOTOS = 8
ISSUE_MAX_PHOTOS_BYTES = 24 * 1024 * 1024
# ... and per patrol submission (the whole submission is bounded at 64 MiB besides; the tablet downscales photos to
# a few hundred KB each).
PATROL_MAX_PHOTOS = 60
PATROL_MAX_PHOTOS_BYTES = 48 * 1024 * 1024

# Grid imports (GeoJSON, on the admin's upload page and `gridpatrol grids import`): a larger file is refused whole.
# A real compound has about 49 grids drawn by hand or traced from CAD: 4 to 50 vertices each (the demo compound:
# 387 in all, 19 at most), a few hundred where a CAD export turns curves into segments. 1,000 per grid and 20,000
# per file (49 grids × 400) leave room for that and for a site with several floors, while a runaway export (a
# million vertices cost 15 s and 777 MB to import, and made every map heavy) is refused before it is built.
# 4 MiB holds 20,000 vertices even pretty-printed (~60 bytes each) with the grids' names and properties.
GRID_IMPORT_MAX_BYTES = 4 * 1024 * 1024
GRID_IMPORT_MAX_VERTICES_PER_GRID = 1_000
GRID_IMPORT_MAX_VERTICES_PER_FILE = 20_000

# A patrol finished on a tablet without network is sent when the network is back. Once its grace period has
# ended (the patrol counts as missed, 漏巡), such a submission is still accepted for this many hours, by the
# server's clock, if the device says it was finished within the grace period; one arriving later is refused and
# the patrol stays missed. 0: nothing is accepted after the grace period; at most 744 (31 days). One that arrives
# after its month's points were closed books its correction in the next open month.
OFFLINE_SUBMISSION_HOURS = 24

# The scheduler closes last month's points (月度锁定) on this day of the month, in the site's time zone.
POINTS_CLOSE_DAY = 5

# Notifications by mail (optional): with MAIL_SERVER set, every notification also goes by SMTP to users who
# have an email address, in their language, after the transaction that caused it has committed. A failing mail
# server is logged; it never fails the transaction.
MAIL_SERVER = ""
MAIL_PORT = 25
MAIL_USE_TLS = False  # STARTTLS after connecting (usually with MAIL_PORT 587)
MAIL_USERNAME = ""
MAIL_PASSWORD = ""
MAIL_FROM = ""  # the From address; empty: MAIL_USERNAME, else gridpatrol@localhost
# How recipients reach the app, for the links in mail (e.g. "https://gridpatrol.example.org"). Empty: the host
# of the request that caused the mail; mail from scheduler jobs then carries paths only.
MAIL_BASE_URL = ""
