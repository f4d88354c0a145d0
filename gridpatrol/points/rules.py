"""What earns points, as pure functions of patrols and issues.

The live path (signal handlers writing the ledger as events happen) and `rebuild` (recomputing a month
from the events) both use these functions, so the two cannot drift apart.

Default rules (docs/domain.md): on-time patrol +2, late patrol +1, missed patrol −3, valid issue found +1/+3/+5
by severity (一般/较大/重大), rejected report 0, a problem in one's own grid first found by someone else −1 —
only when the supervisor marked at acceptance that a patrol should have found it (应巡未发现,
`Issue.should_have_been_found`): staff repair requests (随手拍) do not cost the leader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from flask_babel import lazy_gettext as _l

from gridpatrol.issues.models import IssueState

DEFAULT_RULES: dict[str, int] = {
    "patrol_on_time": 2,
    "patrol_late": 1,
    "patrol_missed": -3,
    "issue_found_minor": 1,
    "issue_found_major": 3,
    "issue_found_critical": 5,
    "report_rejected": 0,
    "missed_in_own_grid": -1,
}
# Entries that are not earned by an event but correct an earlier entry.
CORRECTION_RULES = ("patrol_missed_reversed", "appeal_overturned")

RULE_LABELS = {
    "patrol_on_time": _l("Patrol on time"),
    "patrol_late": _l("Patrol late"),
    "patrol_missed": _l("Patrol missed"),
    "issue_found_minor": _l("Valid issue found (minor)"),
    "issue_found_major": _l("Valid issue found (major)"),
    "issue_found_critical": _l("Valid issue found (critical)"),
    "report_rejected": _l("Report rejected"),
    "missed_in_own_grid": _l("Problem in own grid a patrol should have found, reported by someone else"),
    "patrol_missed_reversed": _l("Correction: missed patrol arrived in time"),
    "appeal_overturned": _l("Correction: appeal upheld for the leader"),
}


@dataclass(frozen=True)
class Earning:
    user_id: int
    rule_code: str
    source_type: str  # patrol | issue
    source_id: int
    when: dt.datetime  # decides the month it belongs to
    reason: str


def patrol_earnings(patrol) -> list[Earning]:
    """A submitted patrol earns its patroller on-time or late points; a missed one costs the assignee."""
    if patrol.status == "submitted" and patrol.submitted_by_id is not None:
        rule = "patrol_late" if patrol.late else "patrol_on_time"
        return [Earning(patrol.submitted_by_id, rule, "patrol", patrol.id, patrol.window_start,
                        f"patrol {patrol.id} of grid {patrol.grid.code}")]
    if patrol.status == "missed" and patrol.assignee_id is not None:
        return [Earning(patrol.assignee_id, "patrol_missed", "patrol", patrol.id, patrol.window_start,
                        f"patrol {patrol.id} of grid {patrol.grid.code} missed")]
    return []


def issue_earnings(issue, *, accepted_severity: Optional[str], grid_leader_id: Optional[int],
                   grid_deputy_id: Optional[int]) -> list[Earning]:
    """A valid (accepted) issue earns its finder points by the severity it was accepted with; the grid's
    leader loses a point when someone else reported it first and the supervisor marked at acceptance that a
    patrol should have found it (应巡未发现). A rejected report earns 0."""
    if IssueState(issue.state) is IssueState.REJECTED:
        return [Earning(issue.reporter_id, "report_rejected", "issue", issue.id, issue.reported_at,
                        f"issue {issue.id} rejected ({issue.reject_reason})")]
    if accepted_severity is None:
        return []  # not accepted yet
    earned = [Earning(issue.reporter_id, f"issue_found_{accepted_severity}", "issue", issue.id, issue.reported_at,
                      f"issue {issue.id} found")]
    if issue.should_have_been_found is True and grid_leader_id is not None \
            and issue.reporter_id not in (grid_leader_id, grid_deputy_id):
        earned.append(Earning(grid_leader_id, "missed_in_own_grid", "issue", issue.id, issue.reported_at,
                              f"issue {issue.id} in own grid found by someone else"))
    return earned
