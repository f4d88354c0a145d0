from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, DateField, FloatField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from gridpatrol.core.categories import CATEGORY_LABELS
from gridpatrol.core.forms import choices

SEVERITY_LABELS = (("minor", _l("Minor (一般)")), ("major", _l("Major (较大)")), ("critical", _l("Critical (重大)")))
REJECT_LABELS = (("invalid", _l("Invalid report")), ("duplicate", _l("Duplicate")), ("not_ours", _l("Not our responsibility")))


class ReportForm(FlaskForm):
    lon = FloatField(_l("Longitude"), validators=[DataRequired(message=_l("Tap the map where the problem is."))])
    lat = FloatField(_l("Latitude"), validators=[DataRequired(message=_l("Tap the map where the problem is."))])
    level = IntegerField(_l("Level"), default=0, validators=[Optional(), NumberRange(-9, 99)])
    category = SelectField(_l("Category"), choices=choices((c.value, label) for c, label in CATEGORY_LABELS.items()))
    severity = SelectField(_l("Severity"), choices=choices(SEVERITY_LABELS), default="minor")
    description = TextAreaField(_l("What is wrong"), validators=[DataRequired(), Length(max=2000)])
    photos = MultipleFileField(_l("Photos"))
    file_anyway = BooleanField(_l("It is not one of these: file it anyway"))


class ActionForm(FlaskForm):
    """Every transition form carries the version of the issue the page showed."""

    version = HiddenField()
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class DispatchForm(ActionForm):
    team_id = SelectField(_l("Team"), coerce=int, validators=[Optional()])
    assignee_id = SelectField(_l("Person"), coerce=int, validators=[Optional()])
    severity = SelectField(_l("Severity"), choices=choices(SEVERITY_LABELS))


class AcceptForm(DispatchForm):
    """The first dispatch (受理): for a quick report, the supervisor also marks 应巡未发现 (the view drops the
    box for a problem a patrol found)."""

    should_have_been_found = BooleanField(_l("A patrol should have found it (missed by patrols)"), default=False)


class RejectForm(ActionForm):
    reason = SelectField(_l("Reason"), choices=choices(REJECT_LABELS))
    duplicate_of = IntegerField(_l("Duplicate of issue no."), validators=[Optional()])


class FixForm(ActionForm):
    photos = MultipleFileField(_l("Photos after the fix"))


class ResumeForm(ActionForm):
    """恢复办理 after 缓办: a new deadline (the day's close of office), or none for the working time that was left."""

    deadline = DateField(_l("New deadline"), validators=[Optional()])


class ExtensionRequestForm(FlaskForm):
    """延期申请: why, and the day the work can be done by (the deadline becomes that day's close of office)."""

    reason = TextAreaField(_l("Why more time is needed"),
                           validators=[DataRequired(message=_l("Say why more time is needed.")), Length(max=2000)])
    deadline = DateField(_l("New deadline"), validators=[DataRequired(message=_l("Give the new deadline."))])


class ExtensionDecisionForm(FlaskForm):
    """A supervisor's decision on a pending request; `version` is the request's, as the page showed it."""

    version = HiddenField()
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class CommentForm(FlaskForm):
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=4000)])


class BulkDispatchForm(FlaskForm):
    team_id = SelectField(_l("Team"), coerce=int)
    should_have_been_found = BooleanField(_l("Quick reports among them: a patrol should have found them"),
                                          default=False)


class TimeLimitForm(FlaskForm):
    pass
