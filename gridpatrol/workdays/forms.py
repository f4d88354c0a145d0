from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from gridpatrol.core.forms import choices


class OverrideForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    kind = SelectField(_l("This day is"), choices=choices((("off", _l("a day off")), ("work", _l("a working day")),
                                                          ("official", _l("as the official calendar says")))))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=120)])
