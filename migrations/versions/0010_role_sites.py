"""role assignments carry a site (NULL: all sites)

Revision ID: 0010_role_sites
Revises: 0009_notification_kinds

The table is rebuilt (its primary key changes from (user_id, role) to an id); every existing role becomes a role
for all sites, which is what it meant before sites were part of a role.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_role_sites'
down_revision = '0009_notification_kinds'
branch_labels = None
depends_on = None

ROLE_CHECK = "role IN ('admin', 'supervisor', 'grid_leader', 'rectifier', 'staff')"


def upgrade():
    # Read, drop, create, write back: the new table takes the old one's constraint names (PostgreSQL keeps
    # index names unique per schema, so both tables cannot exist at once under these names).
    rows = op.get_bind().execute(sa.text("SELECT user_id, role FROM user_roles")).all()
    op.drop_table('user_roles')
    table = op.create_table(
        'user_roles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(ROLE_CHECK, name='ck_user_roles_role_known'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_user_roles_user_id_users', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name='fk_user_roles_site_id_sites', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_user_roles'),
    )
    op.bulk_insert(table, [{"user_id": user_id, "role": role, "site_id": None} for user_id, role in rows])
    op.create_index('uq_user_roles_user_id_role_site', 'user_roles', ['user_id', 'role', 'site_id'], unique=True)
    op.create_index('uq_user_roles_user_id_role_all_sites', 'user_roles', ['user_id', 'role'], unique=True,
                    sqlite_where=sa.text('site_id IS NULL'), postgresql_where=sa.text('site_id IS NULL'))


def downgrade():
    rows = op.get_bind().execute(sa.text("SELECT DISTINCT user_id, role FROM user_roles")).all()
    op.drop_table('user_roles')
    table = op.create_table(
        'user_roles',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.CheckConstraint(ROLE_CHECK, name='ck_user_roles_role_known'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_user_roles_user_id_users', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'role', name='pk_user_roles'),
    )
    op.bulk_insert(table, [{"user_id": user_id, "role": role} for user_id, role in rows])
