from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import TextInput

from gridpatrol.core.categories import CATEGORY_LABELS
from gridpatrol.core.forms import choices
from gridpatrol.standards import services

CATEGORY_CHOICES = choices((c.value, label) for c, label in CATEGORY_LABELS.items())


class TemplateForm(FlaskForm):
    code = StringField(_l("Code"), validators=[
        DataRequired(), Length(max=30),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", message=_l("Letters, digits, dashes and underscores only.")),
    ], render_kw={"autocapitalize": "characters"})
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=services.NAME_MAX)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})
    active = BooleanField(_l("Active (may be chosen for new patrol plans)"), default=True)


class ItemForm(FlaskForm):
    category = SelectField(_l("Category"), choices=CATEGORY_CHOICES)
    text = TextAreaField(_l("Check (the standard to check against)"),
                         validators=[DataRequired(), Length(max=services.TEXT_MAX)], render_kw={"rows": 3})
    # A text input with a numeric keyboard: large and styled like the other fields on a tablet.
    weight = IntegerField(_l("Weight"), default=1, widget=TextInput(),
                          validators=[DataRequired(), NumberRange(services.WEIGHT_MIN, services.WEIGHT_MAX)],
                          render_kw={"inputmode": "numeric", "pattern": "[0-9]*"})
    code = StringField(_l("Code"), validators=[
        Optional(), Length(max=20),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", message=_l("Letters, digits, dots, dashes and underscores only.")),
    ], render_kw={"autocapitalize": "characters"})
    allow_na = BooleanField(_l("May be answered “not applicable”"), default=True)
    critical = BooleanField(_l("Critical: a failure fails the whole patrol"), default=False)
    photo_on_fail = BooleanField(_l("A photo is required when it fails"), default=False)


class MoveForm(FlaskForm):
    direction = StringField(validators=[AnyOf(("up", "down"))])


class ConfirmForm(FlaskForm):
    """Only the CSRF token: start a version, discard a draft, delete an item."""


class PublishForm(FlaskForm):
    note = StringField(_l("What changed (optional)"), validators=[Optional(), Length(max=services.NOTE_MAX)])


class ImportForm(FlaskForm):
    file = FileField(_l("JSON file"), validators=[FileRequired()])
