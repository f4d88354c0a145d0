"""The title of an issue raised from a failed checklist item: the fault as the leader saw it.

A checklist item states the standard ("灭火器压力指针在绿区，在有效期内…"); an item fails when the place does not
meet it. Titled with the standard, the 整改台账 would read the opposite of the fault. So the title is:

* the leader's note on the failed item — its first non-empty line, trimmed, cut to the column's length at a
  character boundary with "…" (the whole note stays the issue's description);
* without a note (none, or only spaces), "<category>：<the item's short name> 不合格", e.g.
  "消防安全：灭火器压力指针在绿区 不合格". The short name is the item's text up to its first clause break
  ("，" "," "；" ";" "。" outside brackets); a clause over `SHORT_NAME_MAX` characters loses its bracketed
  asides ("消防设施器材（灭火器、消防栓…）完好有效" → "消防设施器材完好有效") and is then cut with "…". The space
  before 不合格 keeps the verdict apart from item names that end in digits or Latin letters ("UPS 电源").

The generated words are stored, in the office's language (the app's DEFAULT_LOCALE, Chinese): a title is shown
as stored everywhere — the queue, the issue page, the CSV, notifications and mail — and most of those readers
are the office's own people; a title rendered per reader would need every one of those places to rebuild it.
The standard itself is not lost: the issue keeps `item_id`, and its page shows "对照标准: <item text>".
"""

from __future__ import annotations

from typing import Optional

from flask import current_app, has_app_context
from flask_babel import force_locale

from gridpatrol.core.categories import CATEGORY_LABELS, Category

TITLE_MAX = 200  # Issue.title's column length (characters)
SHORT_NAME_MAX = 20
ELLIPSIS = "…"
_CLAUSE_BREAKS = "，,；;。"
_OPENING, _CLOSING = "（(【[", "）)】]"


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its first `limit - 1` characters and "…"."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + ELLIPSIS


def note_line(note: Optional[str]) -> Optional[str]:
    """The note's first non-empty line, trimmed; None when the note is empty or only white space."""
    for line in (note or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def _drop_asides(text: str) -> str:
    kept, depth = [], 0
    for char in text:
        if char in _OPENING:
            depth += 1
        elif char in _CLOSING and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept).strip()


def short_name(text: str) -> str:
    """The item's text up to its first clause break outside brackets, at most `SHORT_NAME_MAX` characters."""
    text = " ".join(text.split())
    depth, end = 0, len(text)
    for index, char in enumerate(text):
        if char in _OPENING:
            depth += 1
        elif char in _CLOSING and depth:
            depth -= 1
        elif char in _CLAUSE_BREAKS and not depth:
            end = index
            break
    clause = text[:end].strip()
    if len(clause) > SHORT_NAME_MAX:
        clause = _drop_asides(clause) or clause
    return cut(clause, SHORT_NAME_MAX)


def category_name(category: str) -> str:
    """The category's name in the office's language (the app's default locale)."""
    try:
        label = CATEGORY_LABELS[Category(category)]
    except ValueError:
        return category
    if not has_app_context():
        return str(label)
    with force_locale(current_app.config.get("DEFAULT_LOCALE", "zh")):
        return str(label)


def finding_title(*, category: str, item_text: str, note: Optional[str]) -> str:
    """The title of the issue raised from a failed item (see the module's docstring)."""
    line = note_line(note)
    if line is not None:
        return cut(line, TITLE_MAX)
    return cut(f"{category_name(category)}：{short_name(item_text)} 不合格", TITLE_MAX)
