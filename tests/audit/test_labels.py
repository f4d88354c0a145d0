"""Every action the code records has its words, and the log page shows words, never codes or escaped JSON."""

import ast
import pathlib

from gridpatrol.audit import labels
from gridpatrol.audit import services as audit
from gridpatrol.core.transaction import job_transaction
from tests import helpers

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "gridpatrol"


def _strings(node) -> set[str]:
    parts = [node.body, node.orelse] if isinstance(node, ast.IfExp) else [node]
    return {p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)}


def _recorded_actions() -> set[str]:
    """What is given as the action of audit.record(session, ACTION, …) anywhere in the package: a string, a
    conditional of two, a module constant, or a local `action = …`; and the action constants of audit.services."""
    found = {value for name, value in vars(audit).items() if name.isupper() and isinstance(value, str)}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name) and target.id.isupper()
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
                found |= _strings(node.value)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "record" \
                    and len(node.args) >= 2:
                action = node.args[1]
                assert not isinstance(action, ast.JoinedStr), f"{path}: an action built by an f-string has no words"
                found |= _strings(action)
                if isinstance(action, ast.Name) and action.id in constants:
                    found.add(constants[action.id])
    return found


def test_every_recorded_action_has_its_words():
    recorded = _recorded_actions()
    assert len(recorded) > 30  # the scan sees the code
    assert recorded - set(labels.ACTION_LABELS) == set()


def test_the_log_shows_words_not_codes_or_escaped_json(app):
    admin = helpers.make_user(app, "root", roles=("admin",))
    with app.app_context(), job_transaction() as session:
        audit.record(session, "calendar.override", actor=None,
                     detail={"day": "2026-11-19", "is_workday": False, "note": "办公区停电检修"})
    client = app.test_client()
    helpers.login(client, admin)
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert "办公区停电检修" in html and "\\u" not in html
    assert "登录成功" in html or "已登录" in html  # the login itself, in words
    assert "login.succeeded</" not in html and "calendar.override</" not in html
