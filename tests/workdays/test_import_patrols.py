"""Patrols made but not started follow an imported official year; started and past ones are never touched."""

import datetime as dt

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.patrols.models import Patrol, Recurrence
from gridpatrol.workdays import notice, services
from tests.patrols import builders
from tests.workdays.test_notice_import import NOTICE_2027


def _starts(app) -> list[str]:
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        rows = session.execute(sa.select(Patrol.window_start, Patrol.status).order_by(Patrol.window_start)).all()
    return [f"{start.astimezone(builders.SHANGHAI):%m-%d %H:%M} {status}" for start, status in rows]


def _import(app, now):
    with app.app_context(), job_transaction() as session:
        return {e.kind: e.count for e in services.import_notice(session, notice.parse(NOTICE_2027), actor=None,
                                                                 now=now).effects}


def test_a_patrol_on_what_becomes_a_day_off_is_dropped(app, no_official_2027):
    builders.compound(app)
    builders.make_plan(app, recurrence=Recurrence.WORKDAYS, window="08:30", minutes=120, grace=30,
                       starts_on=dt.date(2027, 2, 1))
    now = builders.at("2027-02-10 12:00")  # 11 February is a working day by the provisional calendar
    builders.materialize(app, now)
    assert "02-11 08:30 scheduled" in _starts(app)
    effects = _import(app, now)  # the notice gives 11 and 12 February off
    assert effects["patrols_rescheduled"] == 1
    assert "02-11 08:30 scheduled" not in _starts(app)
    assert "02-04 08:30 missed" in _starts(app)  # the past is untouched


def test_a_make_up_sunday_gets_its_patrol_and_kept_patrols_keep_their_ids(app, no_official_2027):
    builders.compound(app)
    builders.make_plan(app, recurrence=Recurrence.WORKDAYS, window="08:30", minutes=120, grace=30,
                       starts_on=dt.date(2027, 2, 13))
    now = builders.at("2027-02-13 12:00")  # Saturday; Sunday 14 February is a make-up working day by the notice
    builders.materialize(app, now)
    assert _starts(app) == []
    effects = _import(app, now)
    assert effects["patrols_rescheduled"] == 1
    assert _starts(app) == ["02-14 08:30 scheduled"]
    with app.app_context():
        kept = app.extensions["sqlalchemy"].session.scalar(sa.select(Patrol.id))
    _import(app, now)  # importing the same notice again changes nothing
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.scalars(sa.select(Patrol.id)).all() == [kept]
