from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import FloatField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from gridpatrol.core.categories import CATEGORY_LABELS
from gridpatrol.core.forms import MultiCheckboxField, choices
from gridpatrol.grids.models import AssignmentRole

ROLE_CHOICES = ((AssignmentRole.LEADER.value, _l("Grid leader")), (AssignmentRole.DEPUTY.value, _l("Deputy")))


class AssignForm(FlaskForm):
    role = SelectField(_l("Position"), choices=choices(ROLE_CHOICES))
    user_id = SelectField(_l("Person"), coerce=int)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])


class RemoveDeputyForm(FlaskForm):
    pass


class CategoriesForm(FlaskForm):
    categories = MultiCheckboxField(_l("Responsibility categories"),
                                    choices=choices((c.value, label) for c, label in CATEGORY_LABELS.items()))


class CheckpointForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=30)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    lon = FloatField(_l("Longitude"), validators=[DataRequired(), NumberRange(-180, 180)])
    lat = FloatField(_l("Latitude"), validators=[DataRequired(), NumberRange(-90, 90)])


class ImportForm(FlaskForm):
    file = FileField(_l("GeoJSON file"), validators=[FileRequired()])
