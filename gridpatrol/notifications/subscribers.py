"""Who is told what, when the domains announce something (their signals; the domains never import this).

Every receiver runs inside the transaction of what it reports and writes with `services.notify`, so a
notification exists exactly when its cause is committed. Nobody is told what they did themselves.

| signal | kind | to |
|---|---|---|
| issues `issue_reported` | issue_reported | the grid's leader and the site's supervisors |
| issues `issue_transitioned` dispatch / redispatch | issue_dispatched | the assignee, or else the team's active members |
| issues `issue_transitioned` report_fix | issue_fix_reported | who may verify: the site's supervisors and the grid's leader, not the fixer |
| issues `issue_transitioned` verify_fail | issue_rework | the fixer |
| issues `issue_transitioned` verify_pass / reject | issue_closed / issue_rejected | the reporter |
| issues `issue_transitioned` defer (缓办) | issue_deferred | who works on it (the assignee, or else the team) and the grid's leader |
| issues `issue_transitioned` resume | issue_resumed | who works on it and the grid's leader, with the new deadline |
| issues.extensions `extension_requested` | extension_requested | the site's supervisors |
| issues.extensions `extension_decided` | extension_decided | who asked for it |
| points `appeal_decided` | appeal_decided | the leader who appealed |
| patrols `patrols_due_soon` (job) | patrol_due | the patrol's assignee |
| issues `issues_due_soon` (job) | issue_due | the assignee, or else the team's active members |
| issues `issues_overdue` (job) | issue_overdue | the site's supervisors and the grid's leader |
| patrols `patrol_submitted` | — | marks the patrol's reminders read: done |
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy.orm import Session

from gridpatrol.notifications import recipients, services
from gridpatrol.notifications.services import Note, Target


def _stamp(when: Optional[dt.datetime]) -> Optional[str]:
    return when.astimezone(dt.timezone.utc).isoformat() if when is not None else None


def _issue_params(issue, **more: Any) -> dict[str, Any]:
    return {"id": issue.id, "title": issue.title, **more}


def _others(user_ids, *excluded: Optional[int]) -> list[int]:
    return [u for u in dict.fromkeys(user_ids) if u not in excluded]


# --- the rectification workflow ------------------------------------------------------------------------
def on_issue_reported(session: Session, *, issue, now: dt.datetime, **_kwargs) -> None:
    if issue.grid_id is None:
        return
    to = _others(recipients.grid_leader(session, issue.grid_id) + recipients.supervisors_of_site(session, issue.site_id),
                 issue.reporter_id)
    services.notify(session, "issue_reported", to, key=f"issue-reported:{issue.id}",
                    target=Target("issue", issue.id, issue.site_id),
                    params=_issue_params(issue, grid=issue.grid.code if issue.grid is not None else None), now=now)


def on_issue_transitioned(session: Session, *, issue, action, actor, note: Optional[str], now: dt.datetime,
                          **_kwargs) -> None:
    from gridpatrol.issues.workflow import Action

    action = Action(action)
    # The issue's version is bumped by every transition: one key per transition, whatever the action.
    key = f"issue-{action.value}:{issue.id}:{issue.version}"
    target = Target("issue", issue.id, issue.site_id)
    if action in (Action.DISPATCH, Action.REDISPATCH):
        to = recipients.rectifiers(session, [(issue.assignee_id, issue.team_id)])[(issue.assignee_id, issue.team_id)]
        kind, params = "issue_dispatched", _issue_params(issue, deadline=_stamp(issue.deadline))
    elif action is Action.REPORT_FIX:
        to = recipients.supervisors_of_site(session, issue.site_id) + recipients.grid_leader(session, issue.grid_id)
        kind, params = "issue_fix_reported", _issue_params(issue)
        to = _others(to, issue.fixed_by_id)
    elif action is Action.VERIFY_FAIL:
        to = recipients.active(session, [issue.fixed_by_id])
        kind, params = "issue_rework", _issue_params(issue, note=note)
    elif action is Action.VERIFY_PASS:
        to = recipients.active(session, [issue.reporter_id])
        kind, params = "issue_closed", _issue_params(issue)
    elif action is Action.REJECT:
        to = recipients.active(session, [issue.reporter_id])
        kind, params = "issue_rejected", _issue_params(issue, reason=issue.reject_reason)
    elif action in (Action.DEFER, Action.RESUME):  # the clock stops or runs again: who works on it must know
        to = recipients.rectifiers(session, [(issue.assignee_id, issue.team_id)])[(issue.assignee_id, issue.team_id)]
        to = to + recipients.grid_leader(session, issue.grid_id)
        if action is Action.DEFER:
            kind, params = "issue_deferred", _issue_params(issue, note=note)
        else:
            kind, params = "issue_resumed", _issue_params(issue, deadline=_stamp(issue.deadline))
    else:  # started, commented: nobody needs telling
        return
    services.notify(session, kind, _others(to, actor.id), key=key, target=target, params=params, now=now)


# --- 延期 --------------------------------------------------------------------------------------------------
def on_extension_requested(session: Session, *, issue, extension, actor, now: dt.datetime, **_kwargs) -> None:
    services.notify(session, "extension_requested",
                    _others(recipients.supervisors_of_site(session, issue.site_id), actor.id),
                    key=f"extension-requested:{extension.id}", target=Target("issue", issue.id, issue.site_id),
                    params=_issue_params(issue, name=actor.display_name,
                                         deadline=_stamp(extension.requested_deadline)), now=now)


def on_extension_decided(session: Session, *, issue, extension, approved: bool, actor, now: dt.datetime,
                         **_kwargs) -> None:
    services.notify(session, "extension_decided",
                    _others(recipients.active(session, [extension.requested_by_id]), actor.id),
                    key=f"extension-decided:{extension.id}", target=Target("issue", issue.id, issue.site_id),
                    params=_issue_params(issue, approved=approved, deadline=_stamp(issue.deadline),
                                         note=extension.decision_note), now=now)


# --- points ----------------------------------------------------------------------------------------------
def on_appeal_decided(session: Session, *, appeal, overturned: bool, actor, now: dt.datetime, **_kwargs) -> None:
    entry = appeal.entry
    services.notify(session, "appeal_decided", _others(recipients.active(session, [appeal.user_id]), actor.id),
                    key=f"appeal-decided:{appeal.id}", target=Target("appeal", appeal.id, entry.site_id),
                    params={"outcome": "overturned" if overturned else "upheld", "rule": entry.rule_code,
                            "month": f"{entry.month:%Y-%m}", "note": appeal.decision_note},
                    now=now)


# --- reminders (scheduler jobs) --------------------------------------------------------------------------
def on_patrols_due_soon(session: Session, *, patrols, now: dt.datetime, **_kwargs) -> int:
    return services.notify_many(session, [
        Note("patrol_due", patrol.assignee_id, f"patrol-due:{patrol.id}", Target("patrol", patrol.id, patrol.site_id),
             {"code": patrol.grid_code, "name": patrol.grid_name})
        for patrol in patrols], now)


def on_patrol_submitted(session: Session, *, patrol, now: dt.datetime, **_kwargs) -> None:
    services.mark_done(session, "patrol", patrol.id, ["patrol_due"], now)


def due_key(issue_id: int, deadline: dt.datetime) -> str:
    return f"issue-due:{issue_id}:{_stamp(deadline)}"


def overdue_key(issue_id: int, deadline: dt.datetime) -> str:
    return f"issue-overdue:{issue_id}:{_stamp(deadline)}"


def on_issues_due_soon(session: Session, *, issues, now: dt.datetime, **_kwargs) -> int:
    working = recipients.rectifiers(session, [(i.assignee_id, i.team_id) for i in issues])
    return services.notify_many(session, [
        Note("issue_due", user_id, due_key(issue.id, issue.deadline), Target("issue", issue.id, issue.site_id),
             {"id": issue.id, "title": issue.title, "deadline": _stamp(issue.deadline)})
        for issue in issues for user_id in working[(issue.assignee_id, issue.team_id)]], now)


def on_issues_overdue(session: Session, *, issues, now: dt.datetime, **_kwargs) -> int:
    leaders = recipients.grid_leaders(session, [i.grid_id for i in issues])
    supervisors: dict[int, list[int]] = {}
    notes = []
    for issue in issues:
        if issue.site_id not in supervisors:
            supervisors[issue.site_id] = recipients.supervisors_of_site(session, issue.site_id)
        to = supervisors[issue.site_id] + ([leaders[issue.grid_id]] if issue.grid_id in leaders else [])
        notes += [Note("issue_overdue", user_id, overdue_key(issue.id, issue.deadline),
                       Target("issue", issue.id, issue.site_id),
                       {"id": issue.id, "title": issue.title, "grid": issue.grid_code,
                        "deadline": _stamp(issue.deadline)})
                  for user_id in dict.fromkeys(to)]
    return services.notify_many(session, notes, now)


def connect_signals() -> None:
    """Subscribe to the domains' signals (idempotent: blinker connects a receiver once)."""
    from gridpatrol.issues import extensions as issue_extensions
    from gridpatrol.issues import jobs as issue_jobs
    from gridpatrol.issues import services as issues
    from gridpatrol.patrols import services as patrols
    from gridpatrol.points import services as points

    issues.issue_transitioned.connect(on_issue_transitioned)
    issues.issue_reported.connect(on_issue_reported)
    issue_extensions.extension_requested.connect(on_extension_requested)
    issue_extensions.extension_decided.connect(on_extension_decided)
    issue_jobs.issues_due_soon.connect(on_issues_due_soon)
    issue_jobs.issues_overdue.connect(on_issues_overdue)
    patrols.patrols_due_soon.connect(on_patrols_due_soon)
    patrols.patrol_submitted.connect(on_patrol_submitted)
    points.appeal_decided.connect(on_appeal_decided)
