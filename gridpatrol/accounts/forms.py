from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from gridpatrol.accounts.models import TEAM_KIND_LABELS
from gridpatrol.core.forms import MultiCheckboxField, choices
from gridpatrol.core.roles import ROLE_LABELS

LANGUAGES = (("zh", "中文"), ("en", "English"))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LogoutForm(FlaskForm):
    pass


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=choices(LANGUAGES))
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    # InputRequired, not DataRequired: a password of spaces is the policy's to refuse, with its own reason.
    new_password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=200)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[InputRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class TokenForm(FlaskForm):
    name = StringField(_l("What uses it"), validators=[DataRequired(), Length(max=80)],
                       description=_l("e.g. the repair hotline's connector"))
    expires_days = IntegerField(_l("Expires after (days)"), validators=[Optional(), NumberRange(min=1, max=3650)],
                                description=_l("Empty: it never expires. Revoke it when it is no longer used."))


class RevokeTokenForm(FlaskForm):
    pass


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(min=2, max=40),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", message=_l("Letters, digits, dots, dashes and underscores only.")),
    ])
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=80)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)],
                        description=_l("Notifications are also sent here when the installation sends mail."))
    locale = SelectField(_l("Language"), choices=choices((("", _l("Site default (Chinese)")),) + LANGUAGES),
                         validators=[Optional()])
    roles = MultiCheckboxField(_l("Roles"), choices=choices((r.value, label) for r, label in ROLE_LABELS.items()),
                               validators=[DataRequired(message=_l("Choose at least one role."))])
    # "" is every site (a provincial supervisor, the admin); otherwise the id of the one site the roles are for.
    site = SelectField(_l("Site of these roles"), validators=[Optional()])
    teams = MultiCheckboxField(_l("Teams"), coerce=int, validators=[Optional()])
    # The length and the rest of the policy: accounts/passwords.py, one message for every rule.
    password = PasswordField(_l("Initial password"), validators=[Optional(), Length(max=200)],
                             render_kw={"autocomplete": "new-password"})


class AdminPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=200)],
                                 render_kw={"autocomplete": "new-password"})


class UnlockForm(FlaskForm):
    pass


class ActivationForm(FlaskForm):
    pass


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    kind = SelectField(_l("Kind"), choices=choices((k.value, label) for k, label in TEAM_KIND_LABELS.items()))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    active = BooleanField(_l("Active"), default=True)
