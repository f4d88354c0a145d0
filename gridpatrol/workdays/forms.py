from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from gridpatrol.core.forms import choices
from gridpatrol.workdays.notice import MAX_BYTES


class OverrideForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    kind = SelectField(_l("This day is"), choices=choices((("off", _l("a day off")), ("work", _l("a working day")),
                                                          ("official", _l("as the official calendar says")))))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=120)])


class NoticeForm(FlaskForm):
    """The State Council's holiday notice as a small TOML file (workdays.notice), typed or uploaded."""

    text = TextAreaField(_l("The notice"), validators=[Optional(), Length(max=MAX_BYTES)])
    file = FileField(_l("or a file"))
