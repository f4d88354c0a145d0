from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, TimeField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import ListWidget, RadioInput

from gridpatrol.core.categories import CATEGORY_LABELS
from gridpatrol.core.forms import MultiCheckboxField, choices

KIND_LABELS = (("routine", _l("Routine patrol")), ("special", _l("Special inspection")),
               ("cross_check", _l("Cross-check")), ("safety_sweep", _l("Safety sweep")))
RECURRENCE_LABELS = (("daily", _l("Every day")), ("workdays", _l("Workdays (official calendar)")),
                     ("weekdays", _l("Chosen days of the week")), ("monthly", _l("A day of the month")),
                     ("every_n_days", _l("Every N days")))
# 检查范围: which checklist categories the plan's patrols cover (PatrolPlan.categories).
SCOPE_GRID, SCOPE_CHOSEN = "grid", "chosen"
SCOPE_LABELS = ((SCOPE_GRID, _l("Each grid's responsibility categories")),
                (SCOPE_CHOSEN, _l("Only the categories chosen below (a special inspection)")))
# 遇休息日 (PatrolPlan.on_rest_day): for monthly, weekly and every-N-days plans.
REST_DAY_LABELS = (("next", _l("Move to the next working day")), ("previous", _l("Move to the previous working day")),
                   ("skip", _l("Skip it")), ("keep", _l("Go ahead on the rest day")))
WEEKDAY_LABELS = ((0, _l("Mon")), (1, _l("Tue")), (2, _l("Wed")), (3, _l("Thu")), (4, _l("Fri")), (5, _l("Sat")),
                  (6, _l("Sun")))


class PlanForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS))
    template_id = SelectField(_l("Checklist standard"), coerce=int)
    recurrence = SelectField(_l("Repeats"), choices=choices(RECURRENCE_LABELS))
    weekdays = MultiCheckboxField(_l("Days of the week"), coerce=int, choices=choices(WEEKDAY_LABELS))
    month_day = IntegerField(_l("Day of the month (-1 = last day)"), validators=[Optional(), NumberRange(-1, 31)])
    interval_days = IntegerField(_l("Every how many days"), validators=[Optional(), NumberRange(1, 366)])
    on_rest_day = SelectField(_l("On a rest day"), choices=choices(REST_DAY_LABELS), default="next")
    window_start = TimeField(_l("Window opens at"), validators=[DataRequired()])
    window_minutes = IntegerField(_l("Window length (minutes)"), default=120,
                                  validators=[DataRequired(), NumberRange(1, 10080)])
    grace_minutes = IntegerField(_l("Late grace (minutes)"), default=60, validators=[Optional(), NumberRange(0, 10080)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day (optional)"), validators=[Optional()])
    grids = MultiCheckboxField(_l("Grids"), coerce=int)
    scope = RadioField(_l("Checklist scope"), choices=choices(SCOPE_LABELS), default=SCOPE_GRID,
                       widget=ListWidget(prefix_label=False), option_widget=RadioInput())
    categories = MultiCheckboxField(_l("Categories to check"),
                                    choices=choices((c.value, label) for c, label in CATEGORY_LABELS.items()))

    def validate_categories(self, field) -> None:
        if self.scope.data == SCOPE_CHOSEN and not field.data:
            raise ValidationError(_l("Choose at least one category to check."))

    def chosen_categories(self) -> list[str] | None:
        """The plan's categories (PlanInput.categories): None when each grid's own categories decide."""
        return list(self.categories.data or []) if self.scope.data == SCOPE_CHOSEN else None


class PlanStateForm(FlaskForm):
    pass


class StartForm(FlaskForm):
    pass
