"""issue acceptance facts on the issue: accepted severity and time

The severity an issue was accepted with (at its first dispatch) and when, stored on the issue instead of
being read back from the dispatch event's JSON. Existing accepted issues are filled from their first
dispatch event; an accepted issue without one (imported history) takes its severity and dispatch time.

Revision ID: 0008_issue_acceptance
Revises: 0007_queue_indexes
Create Date: 2026-11-22 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_issue_acceptance'
down_revision = '0007_queue_indexes'
branch_labels = None
depends_on = None

_SEVERITIES = "('minor', 'major', 'critical')"
_NOT_ACCEPTED = "('reported', 'rejected')"


def upgrade():
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_severity', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    severity_of = ("e.data ->> 'severity'" if bind.dialect.name == 'postgresql'
                   else "json_extract(e.data, '$.severity')")
    first_dispatch = ("FROM issue_events e WHERE e.issue_id = issues.id AND e.action = 'dispatch' "
                      "ORDER BY e.id LIMIT 1")
    op.execute(
        f"UPDATE issues SET "
        f"accepted_at = (SELECT e.at {first_dispatch}), "
        f"accepted_severity = (SELECT CASE WHEN {severity_of} IN {_SEVERITIES} THEN {severity_of} END "
        f"{first_dispatch}) "
        f"WHERE state NOT IN {_NOT_ACCEPTED}")
    op.execute(
        f"UPDATE issues SET accepted_severity = COALESCE(accepted_severity, severity), "
        f"accepted_at = COALESCE(accepted_at, dispatched_at, reported_at) "
        f"WHERE state NOT IN {_NOT_ACCEPTED}")


def downgrade():
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('accepted_severity')
