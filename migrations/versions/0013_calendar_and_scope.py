"""official calendars imported from the State Council's notice; what a plan does on a rest day; the checklist
categories a plan and a patrol cover

Revision ID: 0013_calendar_and_scope
Revises: 0012_dashboard_indexes
Create Date: 2026-12-02 11:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0013_calendar_and_scope'
down_revision = '0012_dashboard_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'official_calendar_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('notice', sa.String(length=200), nullable=True),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('imported_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'],
                                name=op.f('fk_official_calendar_years_imported_by_id_users')),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_official_calendar_years')),
    )
    op.create_table(
        'official_calendar_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('is_workday', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(['year'], ['official_calendar_years.year'], ondelete='CASCADE',
                                name=op.f('fk_official_calendar_days_year_official_calendar_years')),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_official_calendar_days')),
    )
    op.create_index(op.f('ix_official_calendar_days_year'), 'official_calendar_days', ['year'])
    with op.batch_alter_table('patrol_plans') as batch_op:
        batch_op.add_column(sa.Column('on_rest_day', sa.String(length=10), server_default='next', nullable=False))
        batch_op.add_column(sa.Column('categories', sa.JSON(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_patrol_plans_on_rest_day_known'), "on_rest_day IN ('next', 'previous', 'skip', 'keep')")
    # Plans made before: a monthly plan moves to the next working day (the new default); plans on given
    # weekdays or every N days keep happening on rest days as they did (a weekend guard round stays).
    op.execute("UPDATE patrol_plans SET on_rest_day = 'keep' WHERE recurrence <> 'monthly'")
    with op.batch_alter_table('patrols') as batch_op:
        batch_op.add_column(sa.Column('categories', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('patrols') as batch_op:
        batch_op.drop_column('categories')
    with op.batch_alter_table('patrol_plans') as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_patrol_plans_on_rest_day_known'), type_='check')
        batch_op.drop_column('categories')
        batch_op.drop_column('on_rest_day')
    op.drop_index(op.f('ix_official_calendar_days_year'), table_name='official_calendar_days')
    op.drop_table('official_calendar_days')
    op.drop_table('official_calendar_years')
