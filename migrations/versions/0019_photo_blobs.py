"""Photos in the database (photo_blobs), for PHOTO_STORAGE = "database": several web hosts share nothing but it

Revision ID: 0019_photo_blobs
Revises: 0018_login_limits
Create Date: 2026-12-02 18:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0019_photo_blobs'
down_revision = '0018_login_limits'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'photo_blobs',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_photo_blobs')),
    )


def downgrade():
    op.drop_table('photo_blobs')
