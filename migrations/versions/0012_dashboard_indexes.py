"""indexes for the dashboard: the site's issues reported, due or closed within a range; a grid's leaders

Revision ID: 0012_dashboard_indexes
Revises: 0011_site_uncovered_days
Create Date: 2026-12-02 06:30:00.000000

The dashboard and the sites overview count a site's (or every site's) issues reported, due or closed within the
periods they show; with these the database reads those ranges instead of every issue the sites ever had
(the overview's month over 100 sites: a sequential scan of all issues before, two index ranges after). The
points ranking (and the monthly points table) find who led a site's grids in a month through the grids'
assignment history, which had no index by grid (only the partial one of the open assignments).
"""
from alembic import op

revision = '0012_dashboard_indexes'
down_revision = '0011_site_uncovered_days'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_issues_site_id_reported_at': ['site_id', 'reported_at'],
    'ix_issues_site_id_deadline': ['site_id', 'deadline'],
    'ix_issues_site_id_closed_at': ['site_id', 'closed_at'],
}


def upgrade():
    with op.batch_alter_table('issues', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_grid_assignments_grid_id', ['grid_id'], unique=False)


def downgrade():
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_assignments_grid_id')
    with op.batch_alter_table('issues', schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
