"""The audit log has no forms of its own: it is written by other modules and only read here."""
