"""Example production settings. Copy to /etc/gridpatrol/settings.py and point GRIDPATROL_SETTINGS at it.

Anything here can also come from the environment as GRIDPATROL_<KEY>; the environment wins.
"""

# Generate with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"
# The app refuses to start with the default key.
SECRET_KEY = "REPLACE-ME"

# PostgreSQL through psycopg 3. One database serves every web host and the single scheduler.
DATABASE_URL = "postgresql+psycopg://gridpatrol:PASSWORD@db.internal:5432/gridpatrol"

# The compound's own time zone; sites may override it.
DEFAULT_TIMEZONE = "Asia/Shanghai"

# nginx terminates TLS in front of gunicorn: trust its X-Forwarded-For/-Proto, mark cookies Secure,
# send HSTS and redirect plain HTTP.
PROXY_COUNT = 1
FORCE_HTTPS = True
SESSION_COOKIE_SECURE = True

# Lock an account after 10 wrong passwords within an hour; an address after 50.
LOGIN_MAX_FAILURES_PER_ACCOUNT = 10
LOGIN_MAX_FAILURES_PER_ADDRESS = 50

LOG_LEVEL = "INFO"
