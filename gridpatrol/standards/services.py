"""Checklist standards (检查标准, 定标准): templates, their versions and items; JSON export and import.

A template's content lives in versions. Only a draft may change; publishing freezes it for good (patrols
point at the version they were filled against) and supersedes the version published before. Editing a
published standard means starting a new version: a draft that copies the published items, codes included,
so an item's code ("XF-03") names the same check across versions.

All functions flush and leave the commit to the request or job. Refusals raise DomainError (an import
refusal raises ImportRefused with every problem found, before anything is written).
The `before_flush` guard in `guard.py` backs this up for callers that bypass these functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gridpatrol.audit import services as audit
from gridpatrol.core.categories import Category
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import utcnow
from gridpatrol.standards import guard
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion, VersionStatus

guard.install()

EXPORT_FORMAT = "gridpatrol-checklist/1"
# Item code prefixes (pinyin initials), numbered per template: SD-01, SD-02 … A code is never reused
# for another check of the same template, even after the item that had it was removed.
CODE_PREFIXES = {
    Category.WATER_POWER: "SD",  # 水电
    Category.EQUIPMENT: "SB",  # 设备设施
    Category.ASSETS: "ZC",  # 资产基建
    Category.FIRE_SAFETY: "XF",  # 消防安全
    Category.SANITATION: "WS",  # 环境卫生
    Category.SECURITY: "AB",  # 安全保卫
    Category.GREENING: "LH",  # 绿化
}
TEMPLATE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,29}$")
ITEM_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,19}$")
NAME_MAX = 120
NOTE_MAX = 255
TEXT_MAX = 1000
WEIGHT_MIN, WEIGHT_MAX = 1, 100
MAX_ITEMS = 500
MAX_IMPORT_BYTES = 2 * 1024 * 1024
CATEGORY_VALUES = tuple(c.value for c in Category)

# Audit actions.
CREATED = "standard.created"
UPDATED = "standard.updated"
ITEM_ADDED = "standard.item_added"
ITEM_UPDATED = "standard.item_updated"
ITEM_REMOVED = "standard.item_removed"
ITEM_MOVED = "standard.item_moved"
VERSION_STARTED = "standard.version_started"
PUBLISHED = "standard.published"
DRAFT_DISCARDED = "standard.draft_discarded"
IMPORTED = "standard.imported"

ITEM_FIELDS = ("code", "category", "text", "weight", "allow_na", "critical", "photo_on_fail")


# --- reading ---------------------------------------------------------------------------------------
def list_templates(session: Session, *, active_only: bool = False) -> list[ChecklistTemplate]:
    query = (select(ChecklistTemplate).options(selectinload(ChecklistTemplate.versions))
             .order_by(ChecklistTemplate.code))
    if active_only:
        query = query.where(ChecklistTemplate.active.is_(True))
    return list(session.scalars(query))


def get_template(session: Session, ident: int | str) -> ChecklistTemplate:
    """The template with this id (int) or code (str); DomainError if there is none."""
    if isinstance(ident, int):
        template = session.get(ChecklistTemplate, ident)
    else:
        template = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.code == _norm_code(ident)))
    if template is None:
        raise DomainError(_("There is no checklist standard %(ident)s.", ident=ident))
    return template


def find_version(template: ChecklistTemplate, number: int) -> Optional[TemplateVersion]:
    return next((v for v in template.versions if v.number == number), None)


def get_version(template: ChecklistTemplate, number: int) -> TemplateVersion:
    version = find_version(template, number)
    if version is None:
        raise DomainError(_("%(code)s has no version %(number)d.", code=template.code, number=number))
    return version


def current_version(template: ChecklistTemplate) -> Optional[TemplateVersion]:
    """What the template stands for today: the published version, else the draft."""
    return template.published or template.draft


def category_counts(version: Optional[TemplateVersion]) -> list[tuple[Category, int]]:
    """(category, number of items) in the enum's order, categories without items left out."""
    if version is None:
        return []
    counts: dict[str, int] = {}
    for item in version.items:
        counts[item.category] = counts.get(item.category, 0) + 1
    return [(c, counts[c.value]) for c in Category if c.value in counts]


def grouped_items(version: Optional[TemplateVersion]) -> list[tuple[Category, list[TemplateItem]]]:
    """Items grouped by category; groups in the order their first item appears, items by position."""
    groups: dict[str, list[TemplateItem]] = {}
    for item in _ordered(version.items if version else []):
        groups.setdefault(item.category, []).append(item)
    return [(Category(c), items) for c, items in groups.items()]


def diff_versions(old: Optional[TemplateVersion], new: TemplateVersion) -> dict[str, list[str]]:
    """Item codes added, removed, changed and moved (order among the kept items) from old to new."""
    before = {i.code: _item_values(i) for i in _ordered(old.items if old else [])}
    after = {i.code: _item_values(i) for i in _ordered(new.items)}
    kept_before = [c for c in before if c in after]
    kept_after = [c for c in after if c in before]
    return {
        "added": [c for c in after if c not in before],
        "removed": [c for c in before if c not in after],
        "changed": [c for c in kept_after if before[c] != after[c]],
        "moved": [c for c, b in zip(kept_after, kept_before) if c != b],
    }


def _item_values(item: TemplateItem) -> dict[str, Any]:
    return {f: getattr(item, f) for f in ITEM_FIELDS}


def _ordered(items) -> list[TemplateItem]:
    return sorted(items, key=lambda i: (i.position, i.id or 0))


# --- templates -------------------------------------------------------------------------------------
def _norm_code(code: str) -> str:
    return (code or "").strip().upper()


def _check_template_fields(code: str, name: str) -> None:
    if not TEMPLATE_CODE_RE.match(code):
        raise DomainError(_("A standard's code has 1 to 30 letters, digits, dashes or underscores."))
    if not name or len(name) > NAME_MAX:
        raise DomainError(_("A standard needs a name of at most %(n)d characters.", n=NAME_MAX))


def create_template(session: Session, code: str, name: str, description: Optional[str] = None, *,
                    actor=None) -> ChecklistTemplate:
    """A new template with an empty version 1 draft."""
    code, name = _norm_code(code), (name or "").strip()
    _check_template_fields(code, name)
    if session.scalar(select(ChecklistTemplate.id).where(ChecklistTemplate.code == code)) is not None:
        raise DomainError(_("A checklist standard with the code %(code)s exists already.", code=code))
    template = ChecklistTemplate(code=code, name=name, description=(description or "").strip() or None, active=True)
    template.versions.append(TemplateVersion(number=1, status=VersionStatus.DRAFT.value))
    session.add(template)
    session.flush()
    audit.record(session, CREATED, actor=actor, target=template, detail={"code": code, "name": name})
    return template


def update_template(session: Session, template: ChecklistTemplate, *, name: str, description: Optional[str],
                    active: bool, actor=None) -> bool:
    """Name, description and whether new plans may use it. These are not versioned. Returns whether it changed."""
    name = (name or "").strip()
    _check_template_fields(template.code, name)
    values = {"name": name, "description": (description or "").strip() or None, "active": bool(active)}
    changed = {k: v for k, v in values.items() if getattr(template, k) != v}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(template, key, value)
    session.flush()
    audit.record(session, UPDATED, actor=actor, target=template, detail={"code": template.code, **changed})
    return True


def _lock_versions(session: Session, template: ChecklistTemplate) -> None:
    """Lock the template's version rows (PostgreSQL) and reload them, so two admins cannot race a change."""
    session.scalars(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id).with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    session.refresh(template, ["versions"])


# --- draft editing ---------------------------------------------------------------------------------
def _require_draft(session: Session, version: TemplateVersion) -> None:
    if version.id is not None:
        _lock_versions(session, version.template)
    if not version.is_draft:
        raise DomainError(_(
            "Version %(number)d of %(code)s is %(status)s and can no longer change; start a new version.",
            number=version.number, code=version.template.code, status=version.status))


def _check_item(*, category: Any, text: Any, weight: Any, allow_na: Any = True, critical: Any = False,
                photo_on_fail: Any = False) -> list[tuple[str, str]]:
    """(field, message) for every invalid value; shared by the editor, publishing and import."""
    problems = []
    if not isinstance(category, str) or category not in CATEGORY_VALUES:
        problems.append(("category", _("%(value)s is not a known category (one of %(known)s).",
                                       value=json.dumps(category, ensure_ascii=False),
                                       known=", ".join(CATEGORY_VALUES))))
    if not isinstance(text, str) or not text.strip():
        problems.append(("text", _("the text of the check is required.")))
    elif len(text.strip()) > TEXT_MAX:
        problems.append(("text", _("the text is longer than %(n)d characters.", n=TEXT_MAX)))
    if isinstance(weight, bool) or not isinstance(weight, int) or not WEIGHT_MIN <= weight <= WEIGHT_MAX:
        problems.append(("weight", _("the weight must be a whole number from %(low)d to %(high)d.",
                                     low=WEIGHT_MIN, high=WEIGHT_MAX)))
    for key, value in (("allow_na", allow_na), ("critical", critical), ("photo_on_fail", photo_on_fail)):
        if not isinstance(value, bool):
            problems.append((key, _("must be true or false.")))
    return problems


def _check_item_code(code: Any) -> Optional[str]:
    if not isinstance(code, str) or not ITEM_CODE_RE.match(_norm_code(code)):
        return _("an item code has 1 to 20 letters, digits, dots, dashes or underscores.")
    return None


def _raise_item_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise DomainError("; ".join(f"{field}: {message}" for field, message in problems))


def next_code(template: ChecklistTemplate, category: str, taken: set[str] = frozenset()) -> str:
    """The next free code for a category, e.g. XF-07, never reusing a code any version of the template had."""
    prefix = CODE_PREFIXES[Category(category)]
    used = {i.code for v in template.versions for i in v.items} | set(taken)
    pattern = re.compile(rf"^{prefix}-(\d+)$")
    numbers = [int(m.group(1)) for m in map(pattern.match, used) if m]
    return f"{prefix}-{max(numbers, default=0) + 1:02d}"


def _place(version: TemplateVersion, item: TemplateItem) -> None:
    """Put the item just after the last other item of its category (keeping a category together), else at
    the end, and number the positions 1…n."""
    others = [i for i in _ordered(version.items) if i is not item]
    same = [n for n, i in enumerate(others) if i.category == item.category]
    others.insert(same[-1] + 1 if same else len(others), item)
    for number, each in enumerate(others, start=1):
        if each.position != number:
            each.position = number


def _renumber(version: TemplateVersion) -> None:
    for number, item in enumerate(_ordered(version.items), start=1):
        if item.position != number:
            item.position = number


def _detail(version: TemplateVersion, **extra) -> dict[str, Any]:
    return {"template": version.template.code, "version": version.number, **extra}


def add_item(session: Session, version: TemplateVersion, *, category: str, text: str, weight: int = 1,
             allow_na: bool = True, critical: bool = False, photo_on_fail: bool = False,
             code: Optional[str] = None, actor=None) -> TemplateItem:
    """Add a check to a draft, after the other checks of its category. Without a code, one is made up."""
    _require_draft(session, version)
    problems = _check_item(category=category, text=text, weight=weight, allow_na=allow_na, critical=critical,
                           photo_on_fail=photo_on_fail)
    _raise_item_problems(problems)
    if code:
        code = _checked_code(version, code, None)
    else:
        code = next_code(version.template, category)
    item = TemplateItem(position=0, code=code, category=category, text=text.strip(), weight=weight,
                        allow_na=allow_na, critical=critical, photo_on_fail=photo_on_fail)
    _place(version, item)
    version.items.append(item)
    session.flush()
    version.items.sort(key=lambda i: i.position)
    audit.record(session, ITEM_ADDED, actor=actor, target=version, detail=_detail(version, **_item_values(item)))
    return item


def _checked_code(version: TemplateVersion, code: str, item: Optional[TemplateItem]) -> str:
    problem = _check_item_code(code)
    if problem:
        raise DomainError(f"code: {problem}")
    code = _norm_code(code)
    if any(other.code == code for other in version.items if other is not item):
        raise DomainError(_("This version has another item with the code %(code)s.", code=code))
    return code


def update_item(session: Session, item: TemplateItem, *, category: str, text: str, weight: int,
                allow_na: bool, critical: bool, photo_on_fail: bool, code: Optional[str] = None,
                actor=None) -> bool:
    """Change a check of a draft. A new category moves it to the end of that category. Returns whether it changed."""
    version = item.version
    _require_draft(session, version)
    _raise_item_problems(_check_item(category=category, text=text, weight=weight, allow_na=allow_na,
                                     critical=critical, photo_on_fail=photo_on_fail))
    values = {"category": category, "text": text.strip(), "weight": weight, "allow_na": allow_na,
              "critical": critical, "photo_on_fail": photo_on_fail}
    if code and _norm_code(code) != item.code:
        values["code"] = _checked_code(version, code, item)
    changed = {k: v for k, v in values.items() if getattr(item, k) != v}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(item, key, value)
    if "category" in changed:
        _place(version, item)
    session.flush()
    version.items.sort(key=lambda i: i.position)
    audit.record(session, ITEM_UPDATED, actor=actor, target=version,
                 detail=_detail(version, code=item.code, changed=changed))
    return True


def remove_item(session: Session, item: TemplateItem, *, actor=None) -> None:
    version = item.version
    _require_draft(session, version)
    values = _item_values(item)
    version.items.remove(item)
    _renumber(version)
    session.flush()
    audit.record(session, ITEM_REMOVED, actor=actor, target=version, detail=_detail(version, **values))


def move_item(session: Session, item: TemplateItem, direction: str, *, actor=None) -> bool:
    """Swap with the neighbouring check of the same category ('up' or 'down'). False at the end of the group."""
    if direction not in ("up", "down"):
        raise DomainError(_("Move an item up or down."))
    version = item.version
    _require_draft(session, version)
    same = [i for i in _ordered(version.items) if i.category == item.category]
    index = same.index(item) + (-1 if direction == "up" else 1)
    if not 0 <= index < len(same):
        return False
    other = same[index]
    item.position, other.position = other.position, item.position
    session.flush()
    version.items.sort(key=lambda i: i.position)
    audit.record(session, ITEM_MOVED, actor=actor, target=version,
                 detail=_detail(version, code=item.code, direction=direction, position=item.position))
    return True


# --- versions --------------------------------------------------------------------------------------
def start_new_version(session: Session, template: ChecklistTemplate, *, actor=None,
                      note: Optional[str] = None) -> TemplateVersion:
    """A draft copying the published version (codes included). If a draft exists, that draft is returned."""
    _lock_versions(session, template)
    if template.draft is not None:
        return template.draft
    base = template.published
    number = max((v.number for v in template.versions), default=0) + 1
    version = TemplateVersion(number=number, status=VersionStatus.DRAFT.value,
                              note=(note or "").strip()[:NOTE_MAX] or None)
    for item in _ordered(base.items if base else []):
        version.items.append(TemplateItem(**_item_values(item), position=item.position))
    template.versions.append(version)
    session.flush()
    audit.record(session, VERSION_STARTED, actor=actor, target=template, detail={
        "template": template.code, "version": number, "from_version": base.number if base else None})
    return version


def validate_version(version: TemplateVersion) -> list[str]:
    """Why this version cannot be published (empty: it can)."""
    problems = []
    if not version.items:
        problems.append(_("A standard needs at least one item."))
    seen: set[str] = set()
    for item in _ordered(version.items):
        label = item.code or "#%d" % item.position
        if item.code in seen:
            problems.append(_("The code %(code)s is used twice.", code=item.code))
        seen.add(item.code)
        if _check_item_code(item.code):
            problems.append(f"{label}: {_check_item_code(item.code)}")
        for field, message in _check_item(category=item.category, text=item.text, weight=item.weight,
                                          allow_na=item.allow_na, critical=item.critical,
                                          photo_on_fail=item.photo_on_fail):
            problems.append(f"{label}, {field}: {message}")
    return problems


def publish(session: Session, version: TemplateVersion, *, actor=None, note: Optional[str] = None) -> TemplateVersion:
    """Freeze the draft as the version new patrols use; the previously published one becomes superseded."""
    _require_draft(session, version)
    problems = validate_version(version)
    if problems:
        raise DomainError(_("Version %(number)d cannot be published: %(problems)s",
                            number=version.number, problems="; ".join(problems)))
    template = version.template
    previous = template.published
    if previous is not None:
        previous.status = VersionStatus.SUPERSEDED.value
    version.status = VersionStatus.PUBLISHED.value
    version.published_at = utcnow()
    if note is not None and note.strip():
        version.note = note.strip()[:NOTE_MAX]
    session.flush()
    audit.record(session, PUBLISHED, actor=actor, target=version, detail={
        "template": template.code, "version": version.number, "items": len(version.items),
        "superseded": previous.number if previous else None})
    return version


def discard_draft(session: Session, version: TemplateVersion, *, actor=None) -> None:
    template = version.template
    _require_draft(session, version)
    number, items = version.number, len(version.items)
    template.versions.remove(version)
    session.delete(version)
    session.flush()
    audit.record(session, DRAFT_DISCARDED, actor=actor, target=template,
                 detail={"template": template.code, "version": number, "items": items})


# --- export and import -----------------------------------------------------------------------------
def export_template(template: ChecklistTemplate, version: Optional[TemplateVersion] = None) -> dict[str, Any]:
    """The JSON form of a version (default: the published one, else the draft); import_template reads it back."""
    version = version or current_version(template)
    if version is None:
        raise DomainError(_("%(code)s has no version to export.", code=template.code))
    return {
        "format": EXPORT_FORMAT,
        "code": template.code,
        "name": template.name,
        "description": template.description,
        "version": version.number,
        "items": [_item_values(item) for item in _ordered(version.items)],
    }


@dataclass(frozen=True)
class ImportProblem:
    index: Optional[int]  # 1-based number of the item in the file; None for the file itself
    field: Optional[str]  # the JSON key at fault
    message: str

    def __str__(self) -> str:
        if self.index is not None and self.field:
            return _("Item %(n)d, %(field)s: %(message)s", n=self.index, field=self.field, message=self.message)
        if self.index is not None:
            return _("Item %(n)d: %(message)s", n=self.index, message=self.message)
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message


class ImportRefused(DomainError):
    """The file was refused as a whole; nothing was imported."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class ParsedTemplate:
    code: str
    name: str
    description: Optional[str]
    items: list[dict[str, Any]]


TOP_LEVEL_KEYS = {"format", "code", "name", "description", "version", "items"}
ITEM_KEYS = set(ITEM_FIELDS)
REQUIRED_ITEM_KEYS = ("category", "text", "weight")
ITEM_DEFAULTS = {"allow_na": True, "critical": False, "photo_on_fail": False}


def parse_import(data: dict | bytes | str) -> ParsedTemplate:
    """Check a whole file; ImportRefused lists every problem (item number and field)."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportRefused([ImportProblem(None, None, _("The file is larger than %(n)d MB.",
                                                             n=MAX_IMPORT_BYTES // (1024 * 1024)))])
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused([ImportProblem(None, None, _("The file is not UTF-8 text."))]) from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ImportRefused([ImportProblem(None, None, _(
                "The file is not valid JSON (line %(line)d, column %(column)d: %(error)s).",
                line=exc.lineno, column=exc.colno, error=exc.msg))]) from None
    if not isinstance(data, dict):
        raise ImportRefused([ImportProblem(None, None, _("The file must hold one JSON object."))])
    if data.get("format") != EXPORT_FORMAT:
        raise ImportRefused([ImportProblem(None, "format", _(
            "expected \"%(expected)s\", found %(found)s.", expected=EXPORT_FORMAT,
            found=json.dumps(data.get("format"), ensure_ascii=False)))])

    problems: list[ImportProblem] = []
    for key in sorted(set(data) - TOP_LEVEL_KEYS):
        problems.append(ImportProblem(None, key, _("unknown field.")))
    code = data.get("code")
    if not isinstance(code, str) or not TEMPLATE_CODE_RE.match(_norm_code(code)):
        problems.append(ImportProblem(None, "code", _(
            "required: 1 to 30 letters, digits, dashes or underscores.")))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        problems.append(ImportProblem(None, "name", _("required: text of at most %(n)d characters.", n=NAME_MAX)))
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(ImportProblem(None, "description", _("must be text or null.")))
    items = data.get("items")
    if not isinstance(items, list) or not items:
        problems.append(ImportProblem(None, "items", _("required: a list of at least one item.")))
        items = []
    elif len(items) > MAX_ITEMS:
        problems.append(ImportProblem(None, "items", _("at most %(n)d items.", n=MAX_ITEMS)))
        items = []

    parsed_items: list[dict[str, Any]] = []
    first_with_code: dict[str, int] = {}
    for number, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            problems.append(ImportProblem(number, None, _("an item must be a JSON object.")))
            continue
        for key in sorted(set(raw) - ITEM_KEYS):
            problems.append(ImportProblem(number, key, _("unknown field.")))
        for key in REQUIRED_ITEM_KEYS:
            if key not in raw:
                problems.append(ImportProblem(number, key, _("this field is missing.")))
        values = {**ITEM_DEFAULTS, **{k: v for k, v in raw.items() if k in ITEM_KEYS}}
        present = {k: values.get(k) for k in ("category", "text", "weight", "allow_na", "critical", "photo_on_fail")}
        for field, message in _check_item(**present):
            if field in raw or field in ITEM_DEFAULTS:
                problems.append(ImportProblem(number, field, message))
        item_code = raw.get("code")
        if item_code is not None:
            problem = _check_item_code(item_code)
            if problem:
                problems.append(ImportProblem(number, "code", problem))
            else:
                item_code = _norm_code(item_code)
                if item_code in first_with_code:
                    problems.append(ImportProblem(number, "code", _(
                        "the code %(code)s is used by item %(other)d as well.",
                        code=item_code, other=first_with_code[item_code])))
                else:
                    first_with_code[item_code] = number
        values["code"] = item_code
        if isinstance(values.get("text"), str):
            values["text"] = values["text"].strip()
        parsed_items.append(values)
    if problems:
        raise ImportRefused(problems)
    return ParsedTemplate(code=_norm_code(code), name=name.strip(), description=(description or "").strip() or None,
                          items=parsed_items)


def import_template(session: Session, data: dict | bytes | str, *, actor=None) -> ChecklistTemplate:
    """Import a standard, all or nothing.

    A new code makes a new template whose version 1 is published at once. A known code makes a new draft
    version of that template (to be reviewed and published in the editor); the template's name and
    description are taken from the file. Refused (ImportRefused) if that template already has a draft.
    """
    parsed = parse_import(data)
    template = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.code == parsed.code))
    created = template is None
    if created:
        template = ChecklistTemplate(code=parsed.code, name=parsed.name, description=parsed.description, active=True)
        session.add(template)
        version = TemplateVersion(number=1, status=VersionStatus.DRAFT.value)
        template.versions.append(version)
    else:
        _lock_versions(session, template)
        if template.draft is not None:
            raise ImportRefused([ImportProblem(None, "code", _(
                "%(code)s has an unpublished draft (version %(number)d); publish or discard it first.",
                code=template.code, number=template.draft.number))])
        template.name, template.description = parsed.name, parsed.description
        version = TemplateVersion(number=max((v.number for v in template.versions), default=0) + 1,
                                  status=VersionStatus.DRAFT.value)
        template.versions.append(version)
    given = {item["code"] for item in parsed.items if item["code"]}
    for position, values in enumerate(parsed.items, start=1):
        code = values["code"] or next_code(template, values["category"], given)
        given.add(code)
        version.items.append(TemplateItem(position=position, **{**values, "code": code}))
    session.flush()
    audit.record(session, IMPORTED, actor=actor, target=template, detail={
        "template": template.code, "name": template.name, "version": version.number, "items": len(version.items),
        "created": created})
    if created:
        publish(session, version, actor=actor)
    return template
