"""notifications become a kind, its parameters and a target, rendered when read; users get an email address

A notification no longer stores text in the writer's language and a hard-coded link: it stores its kind, the
parameters its message needs (JSON), the object it is about (target type + id) and that object's site. It is
rendered when read, in the reader's language, with the link built at render time.

Existing rows are converted where their kind and link say what they were about (patrol_due → /patrols/<id>,
issue_due and issue_overdue → /issues/<id>), so their readers see them in their own language like any new one.
A row that cannot be converted (an unknown kind, or its object is gone) keeps its old text and link as the
parameters of the kind "legacy", rendered as it was written.

Revision ID: 0009_notification_kinds
Revises: 0008_issue_acceptance
Create Date: 2026-11-23 09:00:00.000000

"""
import datetime as dt
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_notification_kinds'
down_revision = '0008_issue_acceptance'
branch_labels = None
depends_on = None

_LINK = re.compile(r"^/(patrols|issues)/(\d+)$")
_DEADLINE_KEY = re.compile(r"^issue-(?:due|overdue):\d+:(.+)$")

notifications = sa.table(
    'notifications',
    sa.column('id', sa.Integer), sa.column('key', sa.String), sa.column('kind', sa.String),
    sa.column('text', sa.String), sa.column('link', sa.String), sa.column('params', sa.JSON),
    sa.column('target_type', sa.String), sa.column('target_id', sa.Integer), sa.column('site_id', sa.Integer),
)
patrols = sa.table('patrols', sa.column('id', sa.Integer), sa.column('site_id', sa.Integer),
                   sa.column('grid_id', sa.Integer))
grids = sa.table('grids', sa.column('id', sa.Integer), sa.column('code', sa.String), sa.column('name', sa.String))
issues = sa.table('issues', sa.column('id', sa.Integer), sa.column('site_id', sa.Integer),
                  sa.column('grid_id', sa.Integer), sa.column('title', sa.String))


def _converted(bind, row):
    """(kind, params, target_type, target_id, site_id) for a row written before this revision."""
    match = _LINK.match(row.link or "")
    legacy = ('legacy', {'text': row.text, 'link': row.link}, None, None, None)
    if match is None:
        return legacy
    target_id = int(match.group(2))
    if row.kind == 'patrol_due' and match.group(1) == 'patrols':
        found = bind.execute(sa.select(patrols.c.site_id, grids.c.code, grids.c.name)
                             .select_from(patrols.join(grids, grids.c.id == patrols.c.grid_id))
                             .where(patrols.c.id == target_id)).first()
        if found is None:
            return legacy
        return 'patrol_due', {'code': found.code, 'name': found.name}, 'patrol', target_id, found.site_id
    if row.kind in ('issue_due', 'issue_overdue') and match.group(1) == 'issues':
        found = bind.execute(sa.select(issues.c.site_id, issues.c.title, grids.c.code)
                             .select_from(issues.outerjoin(grids, grids.c.id == issues.c.grid_id))
                             .where(issues.c.id == target_id)).first()
        deadline = _DEADLINE_KEY.match(row.key or "")
        if found is None or deadline is None:
            return legacy
        try:
            dt.datetime.fromisoformat(deadline.group(1))
        except ValueError:
            return legacy
        params = {'id': target_id, 'title': found.title, 'deadline': deadline.group(1)}
        if row.kind == 'issue_overdue':
            params['grid'] = found.code
        return row.kind, params, 'issue', target_id, found.site_id
    return legacy


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('target_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('target_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('site_id', sa.Integer(), nullable=True))

    bind = op.get_bind()
    for row in bind.execute(sa.select(notifications.c.id, notifications.c.key, notifications.c.kind,
                                      notifications.c.text, notifications.c.link)).all():
        kind, params, target_type, target_id, site_id = _converted(bind, row)
        bind.execute(notifications.update().where(notifications.c.id == row.id).values(
            kind=kind, params=params, target_type=target_type, target_id=target_id, site_id=site_id))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('params', existing_type=sa.JSON(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_notifications_site_id_sites'), 'sites', ['site_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index('ix_notifications_target', ['target_type', 'target_id'], unique=False)
        batch_op.drop_column('link')
        batch_op.drop_column('text')


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('link', sa.String(length=255), nullable=True))

    # The old rows held text in one language: a kind rendered when read is written back as a neutral line.
    bind = op.get_bind()
    for row in bind.execute(sa.select(notifications.c.id, notifications.c.kind, notifications.c.params,
                                      notifications.c.target_type, notifications.c.target_id)).all():
        params = row.params or {}
        if row.kind == 'legacy':
            text, link = params.get('text') or '', params.get('link')
        else:
            text = f"{row.kind} {row.target_type or ''} {row.target_id or ''}".strip()
            link = (f"/{row.target_type}s/{row.target_id}" if row.target_type in ('issue', 'patrol')
                    and row.target_id is not None else None)
        bind.execute(notifications.update().where(notifications.c.id == row.id).values(text=text[:500], link=link))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('text', existing_type=sa.String(length=500), nullable=False)
        batch_op.drop_index('ix_notifications_target')
        batch_op.drop_constraint(batch_op.f('fk_notifications_site_id_sites'), type_='foreignkey')
        batch_op.drop_column('site_id')
        batch_op.drop_column('target_id')
        batch_op.drop_column('target_type')
        batch_op.drop_column('params')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')
