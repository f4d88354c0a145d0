from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from gridpatrol.core.forms import choices
from gridpatrol.points.rules import DEFAULT_RULES, RULE_LABELS

MONTH_PATTERN = r"^\d{4}-\d{2}$"
DECISIONS = (("uphold", _l("Uphold: the entry stands")), ("overturn", _l("Overturn: cancel the entry")))


class AppealForm(FlaskForm):
    reason = TextAreaField(_l("Why is this entry wrong?"), validators=[DataRequired(), Length(max=2000)])


class DecideAppealForm(FlaskForm):
    decision = SelectField(_l("Decision"), choices=choices(DECISIONS))
    note = TextAreaField(_l("Reason for the decision"), validators=[DataRequired(), Length(max=2000)])


class CloseMonthForm(FlaskForm):
    site = HiddenField(validators=[DataRequired()])
    month = HiddenField(validators=[DataRequired(), Regexp(MONTH_PATTERN)])


class RulesForm(FlaskForm):
    """Effective month, a note, and one whole-number field per rule (added by `rules_form`)."""

    effective_from = SelectField(_l("Applies from the month"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])


def rules_form(**kwargs) -> RulesForm:
    """A RulesForm with a field `rule_<code>` for every rule of DEFAULT_RULES."""

    class _Form(RulesForm):
        pass

    for code in DEFAULT_RULES:
        setattr(_Form, f"rule_{code}", IntegerField(RULE_LABELS[code], validators=[
            InputRequired(), NumberRange(-100, 100)]))
    return _Form(**kwargs)
