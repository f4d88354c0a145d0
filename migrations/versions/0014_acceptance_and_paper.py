"""at acceptance a supervisor says whether a patrol should have found a reported problem (应巡未发现); a site's
issuing unit (编制单位) for the printed points table

Revision ID: 0014_acceptance_and_paper
Revises: 0013_calendar_and_scope
Create Date: 2026-12-02 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_acceptance_and_paper'
down_revision = '0013_calendar_and_scope'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issues') as batch_op:
        batch_op.add_column(sa.Column('should_have_been_found', sa.Boolean(), nullable=True))
    with op.batch_alter_table('sites') as batch_op:
        batch_op.add_column(sa.Column('issuing_unit', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.drop_column('issuing_unit')
    with op.batch_alter_table('issues') as batch_op:
        batch_op.drop_column('should_have_been_found')
