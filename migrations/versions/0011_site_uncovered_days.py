"""sites say after how many days without a patrol a grid is shown as uncovered (grey on the map)

Revision ID: 0011_site_uncovered_days
Revises: 0010_role_sites
Create Date: 2026-12-02 06:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0011_site_uncovered_days'
down_revision = '0010_role_sites'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.add_column(sa.Column('uncovered_after_days', sa.Integer(), server_default=sa.text('7'),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('sites') as batch_op:
        batch_op.drop_column('uncovered_after_days')
