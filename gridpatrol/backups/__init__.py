"""Backups (备份): one archive with the database and every photo, restored into an empty installation; nightly
backups kept in a directory by the scheduler when BACKUP_DIR is set. Reads every table without importing a domain."""

from flask import Flask


def init_app(app: Flask) -> None:
    from gridpatrol.backups import jobs

    jobs.register_jobs()
