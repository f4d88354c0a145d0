"""延期 and 缓办: extension requests (issue_extensions) and deferral stretches (issue_deferrals); the issue state
'deferred' (缓办) joins the CHECK constraint on issues.state

Revision ID: 0015_extension_and_deferral
Revises: 0014_acceptance_and_paper
Create Date: 2026-12-02 13:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0015_extension_and_deferral'
down_revision = '0014_acceptance_and_paper'
branch_labels = None
depends_on = None

STATES = "'reported', 'dispatched', 'in_progress', 'awaiting_verification', 'closed', 'rejected'"


def upgrade():
    with op.batch_alter_table('issues') as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_issues_state_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_issues_state_known'), f"state IN ({STATES}, 'deferred')")
    op.create_table(
        'issue_extensions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('deadline_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_deadline', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'approved', 'refused', 'lapsed')",
                           name=op.f('ck_issue_extensions_state_known')),
        sa.CheckConstraint('requested_deadline > deadline_before', name=op.f('ck_issue_extensions_later_deadline')),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_extensions_issue_id_issues'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_issue_extensions_requested_by_id_users')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_issue_extensions_decided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_extensions')),
    )
    with op.batch_alter_table('issue_extensions') as batch_op:
        batch_op.create_index('ix_issue_extensions_issue_id', ['issue_id'], unique=False)
        batch_op.create_index('ix_issue_extensions_state_decided_at', ['state', 'decided_at'], unique=False)
        batch_op.create_index('uq_issue_extensions_one_pending', ['issue_id'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        'issue_deferrals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('deferred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deferred_by_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('from_state', sa.String(length=24), nullable=False),
        sa.Column('deadline_before', sa.DateTime(timezone=True), nullable=True),
        sa.Column('remaining_hours', sa.Float(), nullable=False),
        sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resumed_by_id', sa.Integer(), nullable=True),
        sa.Column('deadline_after', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('remaining_hours >= 0', name=op.f('ck_issue_deferrals_remaining_not_negative')),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_deferrals_issue_id_issues'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['deferred_by_id'], ['users.id'],
                                name=op.f('fk_issue_deferrals_deferred_by_id_users')),
        sa.ForeignKeyConstraint(['resumed_by_id'], ['users.id'], name=op.f('fk_issue_deferrals_resumed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_deferrals')),
    )
    with op.batch_alter_table('issue_deferrals') as batch_op:
        batch_op.create_index('ix_issue_deferrals_issue_id_deferred_at', ['issue_id', 'deferred_at'], unique=False)
        batch_op.create_index('uq_issue_deferrals_one_open', ['issue_id'], unique=True,
                              sqlite_where=sa.text('resumed_at IS NULL'), postgresql_where=sa.text('resumed_at IS NULL'))


def downgrade():
    with op.batch_alter_table('issue_deferrals') as batch_op:
        batch_op.drop_index('uq_issue_deferrals_one_open', sqlite_where=sa.text('resumed_at IS NULL'),
                            postgresql_where=sa.text('resumed_at IS NULL'))
        batch_op.drop_index('ix_issue_deferrals_issue_id_deferred_at')
    op.drop_table('issue_deferrals')
    with op.batch_alter_table('issue_extensions') as batch_op:
        batch_op.drop_index('uq_issue_extensions_one_pending', sqlite_where=sa.text("state = 'pending'"),
                            postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('ix_issue_extensions_state_decided_at')
        batch_op.drop_index('ix_issue_extensions_issue_id')
    op.drop_table('issue_extensions')
    # A deferred issue cannot stay deferred in a schema that does not know the state: back to where it was.
    op.execute("UPDATE issues SET state = 'dispatched' WHERE state = 'deferred'")
    with op.batch_alter_table('issues') as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_issues_state_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_issues_state_known'), f"state IN ({STATES})")
