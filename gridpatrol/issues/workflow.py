"""The rectification workflow (整改) as one table.

    reported ─dispatch─▶ dispatched ─start─▶ in_progress ─report_fix─▶ awaiting_verification
        │                  ▲ redispatch        ▲ redispatch                     │
        └─reject─▶ rejected                    └───────── rework ◀── verify_fail ┤
                                                                  verify_pass ──▶ closed
    dispatched, in_progress ─defer─▶ deferred ─resume─▶ dispatched        (缓办, by a supervisor)
    (comment: in every state, by anyone who can view the issue)

缓办 (deferral) is a state, not a flag beside the state: while an issue waits for a budget or parts nothing but a
resume (and comments) can happen to it, which is exactly what a state of this table says; a flag would have had
every other row ask "unless deferred". A deferred issue is open (in the 整改台账, `OPEN_STATES`) but its clock
stands still: it is never overdue (`CLOCK_STATES`) and leaves 应结案数 while deferred (`issues.metrics`). A
resume leads back to `dispatched`: the rectifier starts again. Its new deadline is the date the supervisor gives,
else the working time that was left when it was deferred, counted from the resume. The stretches of deferral are
rows (`IssueDeferral`), so a report taken "as of" an instant knows whether the issue was deferred then.

延期 (extension) is not a row here: it changes no state. A rectifier working on the issue asks for a later
deadline, a supervisor of the site approves or refuses (`issues/extensions.py`); its events' words are below.

Each row says, for an issue in `from_state`, what `action` does: the state it leads to, who may do it (a
predicate name, `Who`; the predicates themselves are in `services`), what the action needs (`Need`, with the
refusal when it is missing), whether the page asks for a note, the button's label, the form class in
`issues/forms.py` that carries it, the event it writes and the words the timeline uses for that event.

Everything else reads this table: `services.allowed_actions` and `services._require` (who may do what now and
what it needs), the service functions (the new state; one function per action, registered with
`services.performs`), the issue page's forms and buttons, the view `act` (table → form class → service
function), the state and action labels (`issues/labels.py`). A new transition is one row here and one service
function there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Optional

from flask_babel import lazy_gettext as _l

from gridpatrol.issues.models import IssueState


class Action(str, enum.Enum):
    DISPATCH = "dispatch"  # 派单 (the first dispatch accepts the report: 受理)
    REDISPATCH = "redispatch"  # 改派
    REJECT = "reject"  # 不予受理
    START = "start"  # 开始整改
    REPORT_FIX = "report_fix"  # 整改完成, with after-photos
    VERIFY_PASS = "verify_pass"  # 核查通过: 结案
    VERIFY_FAIL = "verify_fail"  # 核查不通过: 返工
    DEFER = "defer"  # 缓办, with the reason
    RESUME = "resume"  # 恢复办理, with a new deadline
    COMMENT = "comment"  # 留言


class Who(str, enum.Enum):
    """Who may make a transition: names of predicates (user, issue) → bool, implemented in `services`."""

    SUPERVISOR = "supervisor"  # a supervisor (or admin) of the issue's site
    RECTIFIER = "rectifier"  # the rectifier working on it: its assignee, or a member of its team
    VERIFIER = "verifier"  # a supervisor or the grid's leader (or deputy), but not whoever reported the fix
    VIEWER = "viewer"  # anyone who can view the issue


class Need(str, enum.Enum):
    """What an action cannot do without (the service refuses with the row's message when it is missing)."""

    NOTE = "note"  # a note in words
    REASON = "reason"  # a known reject reason
    PHOTOS = "photos"  # at least one photo
    TEAM_OR_ASSIGNEE = "team_or_assignee"  # a team or a person to send it to
    TEXT = "text"  # the comment's text


class Place(str, enum.Enum):
    """Where the issue page shows the action's form."""

    NEXT_STEP = "next_step"  # the "Next step" panel; after it, the page flashes the new state
    TIMELINE = "timeline"  # under the timeline (comments)


@dataclass(frozen=True)
class Transition:
    from_state: IssueState
    action: Action
    to_state: IssueState  # the same state for a re-dispatch or a comment
    who: Who
    label: object  # the button (lazy string)
    form: str  # the form class's name in issues/forms.py
    needs: Mapping[Need, object] = field(default_factory=dict)  # need → refusal (lazy string), checked in order
    asks_note: bool = True  # the form shows its note field
    event: Optional[str] = None  # the event's action as stored (IssueEvent.action); None: no event (comment)
    place: Place = Place.NEXT_STEP
    primary: bool = True  # the page's main button for this state

    @property
    def changes_state(self) -> bool:
        return self.to_state is not self.from_state


@dataclass(frozen=True)
class StateInfo:
    label: object  # the badge: 待受理, 已派单 …
    in_sentence: object  # inside a sentence: "Done: the issue is now …", "… while the issue is …"


STATES: dict[IssueState, StateInfo] = {
    IssueState.REPORTED: StateInfo(_l("To accept"), _l("reported")),
    IssueState.DISPATCHED: StateInfo(_l("Dispatched"), _l("dispatched")),
    IssueState.IN_PROGRESS: StateInfo(_l("Being fixed"), _l("in progress")),
    IssueState.AWAITING_VERIFICATION: StateInfo(_l("Awaiting verification"), _l("awaiting verification")),
    IssueState.CLOSED: StateInfo(_l("Closed"), _l("closed")),
    IssueState.REJECTED: StateInfo(_l("Rejected"), _l("rejected")),
    IssueState.DEFERRED: StateInfo(_l("Deferred"), _l("deferred")),
}

_SEND_TO = {Need.TEAM_OR_ASSIGNEE: _l("Choose a team or a person.")}
_DEFER_WHY = {Need.NOTE: _l("Say why the issue is deferred.")}

TRANSITIONS: tuple[Transition, ...] = (
    Transition(IssueState.REPORTED, Action.DISPATCH, IssueState.DISPATCHED, Who.SUPERVISOR, _l("Dispatch"),
               "AcceptForm", _SEND_TO, event="dispatch"),
    Transition(IssueState.REPORTED, Action.REJECT, IssueState.REJECTED, Who.SUPERVISOR, _l("Reject"), "RejectForm",
               {Need.REASON: _l("Choose why the report is rejected."),
                Need.NOTE: _l("Say why the report is rejected.")}, event="reject", primary=False),
    Transition(IssueState.DISPATCHED, Action.REDISPATCH, IssueState.DISPATCHED, Who.SUPERVISOR, _l("Re-dispatch"),
               "DispatchForm", _SEND_TO, event="redispatch", primary=False),
    Transition(IssueState.DISPATCHED, Action.START, IssueState.IN_PROGRESS, Who.RECTIFIER, _l("Start the fix"),
               "ActionForm", asks_note=False, event="start"),
    Transition(IssueState.IN_PROGRESS, Action.REDISPATCH, IssueState.IN_PROGRESS, Who.SUPERVISOR, _l("Re-dispatch"),
               "DispatchForm", _SEND_TO, event="redispatch", primary=False),
    Transition(IssueState.IN_PROGRESS, Action.REPORT_FIX, IssueState.AWAITING_VERIFICATION, Who.RECTIFIER,
               _l("Report fixed"), "FixForm", {Need.PHOTOS: _l("Add at least one photo of the fixed state."),
                                               Need.NOTE: _l("Say what was done.")}, event="report_fix"),
    Transition(IssueState.AWAITING_VERIFICATION, Action.VERIFY_PASS, IssueState.CLOSED, Who.VERIFIER,
               _l("Verified: close"), "ActionForm", asks_note=False, event="verify_pass"),
    Transition(IssueState.AWAITING_VERIFICATION, Action.VERIFY_FAIL, IssueState.IN_PROGRESS, Who.VERIFIER,
               _l("Not fixed: send back for rework"), "ActionForm", {Need.NOTE: _l("Say what is still wrong.")},
               event="rework", primary=False),
    Transition(IssueState.DISPATCHED, Action.DEFER, IssueState.DEFERRED, Who.SUPERVISOR, _l("Defer"), "ActionForm",
               _DEFER_WHY, event="defer", primary=False),
    Transition(IssueState.IN_PROGRESS, Action.DEFER, IssueState.DEFERRED, Who.SUPERVISOR, _l("Defer"), "ActionForm",
               _DEFER_WHY, event="defer", primary=False),
    Transition(IssueState.DEFERRED, Action.RESUME, IssueState.DISPATCHED, Who.SUPERVISOR, _l("Resume the work"),
               "ResumeForm", event="resume"),
    *(Transition(state, Action.COMMENT, state, Who.VIEWER, _l("Add comment"), "CommentForm",
                 {Need.TEXT: _l("A comment cannot be empty.")}, place=Place.TIMELINE, primary=False)
      for state in IssueState),
)

# What the timeline says for each stored event (IssueEvent.action): filing, then one per transition's event.
EVENT_LABELS: dict[str, object] = {
    "reported": _l("reported it"),
    "dispatch": _l("dispatched it"),
    "redispatch": _l("re-dispatched it"),
    "reject": _l("rejected it"),
    "start": _l("started the fix"),
    "report_fix": _l("reported it fixed"),
    "verify_pass": _l("verified and closed it"),
    "rework": _l("sent it back for rework"),
    # Not a transition: the official calendar of a year was imported and gave more days off before the deadline.
    "deadline_moved": _l("moved the deadline by the official calendar"),
    "defer": _l("deferred it"),
    "resume": _l("resumed it with a new deadline"),
    # Not transitions: 延期 (issues/extensions.py).
    "extension_requested": _l("asked for a later deadline"),
    "extension_approved": _l("approved the later deadline"),
    "extension_refused": _l("refused the later deadline"),
    "extension_lapsed": _l("closed the request for a later deadline: the issue was deferred"),
}

_BY_KEY: dict[tuple[IssueState, Action], Transition] = {(t.from_state, t.action): t for t in TRANSITIONS}
assert len(_BY_KEY) == len(TRANSITIONS), "one row per (state, action)"
assert {t.event for t in TRANSITIONS if t.event} <= set(EVENT_LABELS), "every event has its words"


def transition(state: IssueState | str, action: Action | str) -> Optional[Transition]:
    """The row for doing `action` to an issue in `state`, or None if that cannot be done in that state."""
    try:
        return _BY_KEY.get((IssueState(state), Action(action)))
    except ValueError:
        return None


def transitions_from(state: IssueState | str) -> list[Transition]:
    """The rows leaving `state`, in the table's order (the order the page shows them)."""
    state = IssueState(state)
    return [t for t in TRANSITIONS if t.from_state is state]


def for_action(action: Action | str) -> Optional[Transition]:
    """A row of `action` (its form, label and place are the same in every state), or None for no action."""
    if not is_action(action):
        return None
    return next(t for t in TRANSITIONS if t.action is Action(action))


def is_action(name: str) -> bool:
    return name in Action._value2member_map_


def open_states() -> tuple[IssueState, ...]:
    """The states something can still happen in besides a comment (the queue: issues not yet closed)."""
    return tuple(s for s in IssueState if any(t.action is not Action.COMMENT for t in transitions_from(s)))
