"""The scheduler's heartbeat keeps what a run did as facts (job_heartbeats.last_facts), so the scheduler page
words them in the reader's language; last_result keeps the English line for the log and the command line

Revision ID: 0016_job_result_facts
Revises: 0015_extension_and_deferral
Create Date: 2026-12-02 14:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0016_job_result_facts'
down_revision = '0015_extension_and_deferral'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_heartbeats') as batch_op:
        batch_op.add_column(sa.Column('last_facts', sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    with op.batch_alter_table('job_heartbeats') as batch_op:
        batch_op.drop_column('last_facts')
