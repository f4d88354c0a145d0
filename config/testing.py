"""Settings for the test suite (pass GRIDPATROL_SETTINGS=config/testing.py or let tests/conftest.py load it)."""

TESTING = True
SECRET_KEY = "testing-secret-key-not-for-production"
# Cheap hashes keep the suite fast; the algorithm is the same argon2id.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST_KIB = 1024
ARGON2_PARALLELISM = 1
SQLITE_BUSY_TIMEOUT_MS = 30000
LOG_LEVEL = "WARNING"
