from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session

from gridpatrol.accounts import bp, login_limits, passwords, services, tokens
from gridpatrol.accounts.forms import (
    ActivationForm, AdminPasswordForm, LanguageForm, LoginForm, LogoutForm, PasswordChangeForm, RevokeTokenForm,
    TeamForm, TokenForm, UnlockForm, UserForm,
)
from gridpatrol.accounts.models import ApiToken, Team, TeamKind, User
from gridpatrol.audit import services as audit
from gridpatrol.core.access import load
from gridpatrol.core.errors import reshow_on_refusal
from gridpatrol.core.forms import choices
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.core.time import to_local, utcnow
from gridpatrol.core.transaction import record_despite_rollback
from gridpatrol.extensions import db

# A form re-shown with errors answers 422, so the request's transaction rolls back.
INVALID = 422


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login or a language switch."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.root")


def _start_login(user: User) -> None:
    services.open_session(db.session, user, address=request.remote_addr,
                          user_agent=request.headers.get("User-Agent"))
    session.clear()  # a fresh session on login, so nothing set before it carries over
    session.permanent = True
    login_user(user)


def _known_devices() -> login_limits.KnownDevices:
    return login_limits.KnownDevices.from_cookie(request.cookies.get(login_limits.KNOWN_DEVICE_COOKIE))


def _remember_device(response, known: login_limits.KnownDevices, user: User):
    """After a successful login (or a new password) here: this browser is a known device of the account."""
    response.set_cookie(
        login_limits.KNOWN_DEVICE_COOKIE, known.remember(user, utcnow()),
        max_age=current_app.config["KNOWN_DEVICE_DAYS"] * 86400, httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure,
    )
    return response


def _until(lock: login_limits.Lock) -> str:
    """When a lock ends, rounded up to the minute, in the display time zone: "10:15", or with the date when that
    is not today."""
    until = to_local(lock.shown_until)
    return until.strftime("%H:%M" if until.date() == to_local(utcnow()).date() else "%Y-%m-%d %H:%M")


def _lock_message(lock: login_limits.Lock) -> str:
    if lock.scope is login_limits.LockScope.ACCOUNT:
        return _("This account is locked until %(time)s after too many wrong passwords from other places. On a "
                 "device you have logged in with before you can still log in; otherwise wait, or ask an "
                 "administrator to unlock the account.", time=_until(lock))
    if lock.scope is login_limits.LockScope.ADDRESS:
        return _("Too many failed logins from this network address. Try again after %(time)s.", time=_until(lock))
    return _("Too many wrong passwords for this account from here. Try again after %(time)s, or ask an "
             "administrator to unlock the account.", time=_until(lock))


def _record_throttled(username: str, lock: login_limits.Lock, **detail) -> None:
    # 429 rolls the request back, so the throttle record is written on its own.
    detail = {"limit": lock.scope.value, "until": lock.until.isoformat(), **detail}
    record_despite_rollback(lambda s: audit.record(s, audit.LOGIN_THROTTLED, actor_name=username, detail=detail))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return render_template("accounts/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), INVALID
    known = _known_devices()
    result = services.authenticate(db.session, form.username.data, form.password.data, request.remote_addr, known)
    if result.outcome is services.LoginOutcome.OK:
        locale = session.get("locale")
        _start_login(result.user)
        if locale and not result.user.locale:
            session["locale"] = locale
        return _remember_device(redirect(_safe_next(form.next.data)), known, result.user)
    if result.outcome is services.LoginOutcome.BAD_CREDENTIALS:
        # The failed attempt must be counted, so this answer commits (200, not 4xx).
        form.password.errors.append(_("Wrong username or password."))
        return render_template("accounts/login.html", form=form)
    form.password.errors.append(_lock_message(result.lock))
    _record_throttled(services.normalise_username(form.username.data)[:80], result.lock)
    return render_template("accounts/login.html", form=form), 429


@bp.post("/logout")
@login_required
def logout():
    if LogoutForm().validate_on_submit():
        locale = current_user.locale
        services.revoke_session(db.session, current_user.session_token)
        audit.record(db.session, audit.LOGOUT, actor=current_user)
        logout_user()
        session.clear()
        if locale:  # the login page keeps speaking the language this user chose
            session["locale"] = locale
        flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.post("/language")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            services.set_locale(db.session, current_user, form.locale.data)
    return redirect(_safe_next(form.next.data or request.referrer and urlsplit(request.referrer).path))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()

    def page():
        return render_template("accounts/password.html", form=form, password_hint=passwords.policy_hint())

    if form.validate_on_submit():
        user, known = current_user._get_current_object(), _known_devices()
        check = services.check_current_password(db.session, user, form.current_password.data, request.remote_addr,
                                                known)
        if check.outcome is services.LoginOutcome.BAD_CREDENTIALS:
            # Counted as a failed login of this account from here, so this answer commits (200, as the login page).
            form.current_password.errors.append(_("The current password is wrong."))
            return page()
        if check.outcome is services.LoginOutcome.LOCKED:
            form.current_password.errors.append(_(
                "Too many wrong passwords for this account. The current password is not checked until %(time)s; "
                "try again then, or ask an administrator.", time=_until(check.lock)))
            _record_throttled(user.username, check.lock, password_page=True)
            return page(), 429
        reshow_on_refusal(page, field=form.new_password)
        services.change_password(db.session, user, new_password=form.new_password.data, actor=current_user)
        _start_login(user)  # every other login of this user has just ended
        flash(_("Your password has been changed. Other devices have been logged out."), "success")
        return _remember_device(redirect(url_for("home.root")), known, user)
    return page(), (INVALID if form.is_submitted() else 200)


# --- personal API tokens ------------------------------------------------------------------------------
def _tokens_page(form: TokenForm, *, new_token: str | None = None):
    return render_template("accounts/tokens.html", form=form, revoke_form=RevokeTokenForm(), new_token=new_token,
                           tokens=tokens.of_user(db.session, current_user._get_current_object()), now=utcnow())


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def api_tokens():
    """The user's own API tokens: make one (shown once, on the answer to the POST), see and revoke them."""
    form = TokenForm()
    if form.validate_on_submit():
        reshow_on_refusal(lambda: _tokens_page(form), field=form.name)
        _row, token = tokens.create(db.session, current_user._get_current_object(), name=form.name.data,
                                    expires_days=form.expires_days.data, now=utcnow())
        # Answered, not redirected: the token is nowhere else to show it from. no-store keeps it out of caches.
        response = make_response(_tokens_page(TokenForm(formdata=None), new_token=token))
        response.headers["Cache-Control"] = "no-store"
        return response
    return _tokens_page(form), (INVALID if form.is_submitted() else 200)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int):
    if not RevokeTokenForm().validate_on_submit():
        return _tokens_page(TokenForm(formdata=None)), INVALID
    row = load(ApiToken, token_id, may=lambda t: t.user_id == current_user.id, refusal="token of another user")
    if tokens.revoke(db.session, row, now=utcnow(), actor=current_user._get_current_object()):
        flash(_("Token %(prefix)s… revoked: programs using it are refused from now on.", prefix=row.prefix),
              "success")
    return redirect(url_for("accounts.api_tokens"))


# --- administration -----------------------------------------------------------------------------------
def _team_choices(s: Session):
    return choices((t.id, t.name) for t in services.list_teams(s))


def _site_field(form: UserForm, user: User | None = None) -> None:
    """The sites a user's roles may be given for; on a GET, the site they are given for now."""
    form.site.choices = choices([("", _("All sites"))] + [(str(i), f"{code} {name}")
                                                           for i, code, name in services.site_choices(db.session)])
    if request.method == "GET" and user is not None:
        sites = {r.site_id for r in user.role_rows}
        form.site.data = str(sites.pop()) if len(sites) == 1 and None not in sites else ""
        form.site.description = _("The roles of this user are given for different sites; saving gives them all "
                                  "for the site chosen here.") if len(sites) > 1 else ""


def _grants(form: UserForm) -> list[tuple[Role, int | None]]:
    site_id = int(form.site.data) if form.site.data else None
    return [(Role(r), site_id) for r in form.roles.data]


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def admin_users():
    return render_template("accounts/admin_users.html", users=services.list_users(db.session),
                           site_codes={i: code for i, code, _name in services.site_choices(db.session)},
                           activation_form=ActivationForm(), unlock_form=UnlockForm(),
                           locks=services.locked_accounts(db.session), lock_scopes=login_limits.LockScope)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_user_new():
    form = UserForm()
    form.teams.choices = _team_choices(db.session)
    _site_field(form)

    def page():
        return render_template("accounts/admin_user_form.html", form=form, user=None,
                               password_hint=passwords.policy_hint())

    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("An initial password is required."))
        else:
            teams = [db.session.get(Team, i) for i in form.teams.data]
            reshow_on_refusal(page, field=form.password)
            passwords.check_new_password(form.password.data, username=services.normalise_username(form.username.data),
                                         display_name=form.display_name.data)
            reshow_on_refusal(page, field=form.username)
            user = services.create_user(
                db.session, username=form.username.data, display_name=form.display_name.data,
                password=form.password.data, roles=_grants(form), phone=form.phone.data, email=form.email.data,
                locale=form.locale.data, teams=[t for t in teams if t], actor=current_user,
            )
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("accounts.admin_users"))
    return page(), (INVALID if form.is_submitted() else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_user_edit(user_id: int):
    user = load(User, user_id)
    form = UserForm(obj=None if request.method == "POST" else user)
    form.teams.choices = _team_choices(db.session)
    _site_field(form, user)
    del form.password
    form.username.render_kw = {"readonly": True}
    if request.method == "GET":
        form.username.data = user.username
        form.roles.data = [r.role for r in user.role_rows]
        form.teams.data = [t.id for t in user.teams]
        form.locale.data = user.locale or ""
    form.username.data = user.username  # usernames never change: audit records name them

    def page():
        return _user_edit_page(form, user)

    if form.validate_on_submit():
        teams = [db.session.get(Team, i) for i in form.teams.data]
        reshow_on_refusal(page, field=form.roles)
        services.update_user(
            db.session, user, display_name=form.display_name.data, phone=form.phone.data, email=form.email.data,
            locale=form.locale.data, roles=_grants(form), teams=[t for t in teams if t],
            actor=current_user,
        )
        flash(_("User %(name)s saved.", name=user.username), "success")
        return redirect(url_for("accounts.admin_users"))
    return page(), (INVALID if form.is_submitted() else 200)


@bp.post("/admin/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def admin_user_set_active(user_id: int):
    user = load(User, user_id)
    form = ActivationForm()
    if not form.validate_on_submit():
        return redirect(url_for("accounts.admin_users"))
    activate = request.form.get("active") == "1"
    reshow_on_refusal(admin_users)
    services.set_active(db.session, user, activate, actor=current_user)
    flash(_("User %(name)s activated.", name=user.username) if activate
          else _("User %(name)s deactivated; their logins have ended.", name=user.username), "success")
    return redirect(url_for("accounts.admin_users"))


def _user_edit_page(form: UserForm, user: User, password_form: AdminPasswordForm | None = None):
    return render_template("accounts/admin_user_form.html", form=form, user=user,
                           password_form=password_form or AdminPasswordForm(formdata=None),
                           activation_form=ActivationForm(), password_hint=passwords.policy_hint())


def _unfilled_user_form(user: User) -> UserForm:
    """The user's edit form as a GET shows it, beside a refused password reset."""
    form = UserForm(formdata=None, obj=user)
    form.teams.choices = _team_choices(db.session)
    _site_field(form, user)
    del form.password
    form.username.render_kw = {"readonly": True}
    form.roles.data = [r.role for r in user.role_rows]
    form.teams.data = [t.id for t in user.teams]
    form.locale.data = user.locale or ""
    return form


@bp.post("/admin/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def admin_user_password(user_id: int):
    """An administrator sets a new password: it ends the user's logins and unlocks the account."""
    user = load(User, user_id)
    form = AdminPasswordForm()
    if not form.validate_on_submit():
        return _user_edit_page(_unfilled_user_form(user), user, form), INVALID
    reshow_on_refusal(lambda: _user_edit_page(_unfilled_user_form(user), user, form), field=form.new_password)
    services.change_password(db.session, user, new_password=form.new_password.data, actor=current_user)
    known = _known_devices()
    response = redirect(url_for("accounts.admin_user_edit", user_id=user.id))
    if user.id == current_user.id:
        _start_login(user)
        _remember_device(response, known, user)
    flash(_("Password of %(name)s reset; their logins have ended and the account is unlocked.", name=user.username),
          "success")
    return response


@bp.post("/admin/users/<int:user_id>/unlock")
@roles_required(Role.ADMIN)
def admin_user_unlock(user_id: int):
    """The account's failed logins so far no longer count: it is unlocked everywhere (CSRF: UnlockForm)."""
    user = load(User, user_id)
    if UnlockForm().validate_on_submit():
        services.unlock(db.session, user, actor=current_user)
        flash(_("User %(name)s unlocked: earlier failed logins no longer count.", name=user.username), "success")
    return redirect(url_for("accounts.admin_users"))


@bp.get("/admin/teams")
@roles_required(Role.ADMIN)
def admin_teams():
    return render_template("accounts/admin_teams.html", teams=services.list_teams(db.session))


@bp.route("/admin/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/admin/teams/<int:team_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_team_edit(team_id: int | None):
    team = load(Team, team_id) if team_id is not None else None
    form = TeamForm(obj=team if request.method == "GET" else None)
    def page():
        return render_template("accounts/admin_team_form.html", form=form, team=team)

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.name)
        services.save_team(db.session, team, name=form.name.data, kind=TeamKind(form.kind.data),
                           phone=form.phone.data, active=form.active.data, actor=current_user)
        flash(_("Team saved."), "success")
        return redirect(url_for("accounts.admin_teams"))
    return page(), (INVALID if form.is_submitted() else 200)
