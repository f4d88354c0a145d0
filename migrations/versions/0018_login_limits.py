"""Login limits that cannot be turned against the owner: users.unlocked_at, login_attempts.device

Revision ID: 0018_login_limits
Revises: 0017_api_tokens
Create Date: 2026-12-08 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0018_login_limits'
down_revision = '0017_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('unlocked_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=24), nullable=True))


def downgrade():
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.drop_column('device')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('unlocked_at')
