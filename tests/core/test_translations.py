"""The Chinese catalog covers every translatable string, and the committed .mo matches it.

Source strings (msgids) are English. These tests extract them from the current sources with
Babel, using the same mapping (gridpatrol/translations/babel.cfg) and keywords as the
`pybabel extract` command in docs/translations.md, and check the catalogs against them.
When a test here fails after you added or changed a string, run the commands it prints.

No app or database is needed: only files are read.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

try:  # Babel >= 2.14
    from babel.messages.frontend import parse_mapping_cfg
except ImportError:  # pragma: no cover - older Babel
    from babel.messages.frontend import parse_mapping as parse_mapping_cfg

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gridpatrol"
TRANSLATIONS = PACKAGE / "translations"
BABEL_CFG = TRANSLATIONS / "babel.cfg"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("zh",)

# Babel's defaults (_, gettext, ngettext, pgettext, ...) plus the lazy variants used in
# forms, models and navigation. Keep in step with the -k options in docs/translations.md.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

FIX_COMMANDS = """\
To fix it, run from the repository root:

  .venv/bin/pybabel extract -F gridpatrol/translations/babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -o gridpatrol/translations/messages.pot .
  .venv/bin/pybabel update -i gridpatrol/translations/messages.pot -d gridpatrol/translations
  # translate every new, empty or "#, fuzzy" entry in gridpatrol/translations/zh/LC_MESSAGES/messages.po
  # (delete the "#, fuzzy" line once the translation is right)
  .venv/bin/pybabel compile -d gridpatrol/translations --statistics

then commit messages.pot, messages.po and messages.mo together. See docs/translations.md."""

# Python %-style placeholders: %(name)s, %(n)d, %(x).1f ... and positional %s / %d.
# Positional ones are matched without flags so that "100% of" is not taken for "% o".
NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*(?:\d+)?(?:\.\d+)?([diouxXeEfFgGcrsa])")
POSITIONAL_PLACEHOLDER = re.compile(r"%(?!\()(\d*(?:\.\d+)?[sdif])")


def po_path(locale: str, root: Path = TRANSLATIONS) -> Path:
    return root / locale / "LC_MESSAGES" / "messages.po"


def mo_path(locale: str, root: Path = TRANSLATIONS) -> Path:
    return root / locale / "LC_MESSAGES" / "messages.mo"


def load_po(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=path.parents[1].name if path.suffix == ".po" else None)


def load_mo(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_mo(f)


def _describe(msgid) -> str:
    if isinstance(msgid, (tuple, list)):
        return " / ".join(repr(part) for part in msgid)
    return repr(msgid)


def _context(message) -> str | None:
    ctx = message.context
    return ctx.decode("utf-8") if isinstance(ctx, bytes) else ctx


def _normalise(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


# --- extraction -------------------------------------------------------------------------

def extract_messages(root: Path = ROOT, cfg: Path = BABEL_CFG) -> dict:
    """Return {(context, msgid): {"message": str|tuple, "where": [file:line, ...]}} from the sources."""
    with cfg.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(cfg))
    found: dict = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS
    ):
        singular = message[0] if isinstance(message, tuple) else message
        entry = found.setdefault((context, singular), {"message": message, "where": []})
        entry["where"].append(f"{filename}:{lineno}")
    return found


@functools.lru_cache(maxsize=1)
def current_messages() -> dict:
    return extract_messages()


# --- checks (plain functions so the tests below can also run them on broken copies) --------

def untranslated(extracted: dict, catalog: Catalog) -> list[str]:
    """One line per extracted msgid that the catalog does not translate usably."""
    problems = []
    for (context, _singular), entry in sorted(extracted.items(), key=lambda item: (item[0][0] or "", item[0][1])):
        message = entry["message"]
        found = catalog.get(message, context=context)
        if found is None:
            reason = "missing"
        elif found.fuzzy:
            reason = "fuzzy"
        elif isinstance(message, tuple) != found.pluralizable:
            reason = "plural form changed"
        elif found.pluralizable and (
            len(found.string) != catalog.num_plurals or not all(found.string)
        ):
            reason = "untranslated plural form"
        elif not found.string:
            reason = "empty msgstr"
        else:
            continue
        ctx = f" (context {context!r})" if context else ""
        where = ", ".join(entry["where"][:3]) + (" ..." if len(entry["where"]) > 3 else "")
        problems.append(f"  [{reason}] {_describe(message)}{ctx}  <- {where}")
    return problems


def absent_from_template(extracted: dict, template: Catalog) -> list[str]:
    return [
        f"  {_describe(entry['message'])}  <- {entry['where'][0]}"
        for (context, singular), entry in sorted(extracted.items(), key=lambda item: (item[0][0] or "", item[0][1]))
        if template.get(singular, context=context) is None
    ]


def compiled_entries(catalog: Catalog) -> dict:
    """What `pybabel compile` puts into the .mo: translated, non-fuzzy entries (header excluded)."""
    return {
        (_context(m), _normalise(m.id)): _normalise(m.string)
        for m in catalog
        if m.id and m.string and not m.fuzzy
    }


def mo_differences(po: Catalog, mo: Catalog) -> list[str]:
    po_map, mo_map = compiled_entries(po), compiled_entries(mo)
    lines = []
    for key in sorted(po_map.keys() - mo_map.keys(), key=repr):
        lines.append(f"  not in .mo: {_describe(key[1])}")
    for key in sorted(mo_map.keys() - po_map.keys(), key=repr):
        lines.append(f"  only in .mo (stale): {_describe(key[1])}")
    for key in sorted(po_map.keys() & mo_map.keys(), key=repr):
        if po_map[key] != mo_map[key]:
            lines.append(f"  differs: {_describe(key[1])}: .po {po_map[key]!r} vs .mo {mo_map[key]!r}")
    if po.plural_forms != mo.plural_forms:
        lines.append(f"  Plural-Forms: .po {po.plural_forms!r} vs .mo {mo.plural_forms!r}")
    return lines


def placeholders(text: str) -> tuple[frozenset, tuple]:
    """(set of (name, conversion) for %(name)x, sequence of positional %x)."""
    text = text.replace("%%", "")  # an escaped percent sign is not a placeholder
    named = frozenset(NAMED_PLACEHOLDER.findall(text))
    positional = tuple(m[-1] for m in POSITIONAL_PLACEHOLDER.findall(text))
    return named, positional


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    lines = []
    for m in catalog:
        if not m.id or not m.string or m.fuzzy:
            continue
        ids = m.id if isinstance(m.id, (tuple, list)) else (m.id,)
        strings = m.string if isinstance(m.string, (tuple, list)) else (m.string,)
        if len(ids) == 1:
            expected = placeholders(ids[0])
            for s in strings:
                if s and placeholders(s) != expected:
                    lines.append(f"  {m.id!r} -> {s!r}: expected {_fmt(expected)}, got {_fmt(placeholders(s))}")
        else:
            # Plural: every form must contain what the plural msgid contains (that is the
            # form Chinese uses) and nothing the msgids do not provide.
            wanted_named, wanted_pos = placeholders(ids[-1])
            allowed = frozenset().union(*(placeholders(i)[0] for i in ids))
            for s in strings:
                if not s:
                    continue
                named, pos = placeholders(s)
                if not (wanted_named <= named <= allowed) or pos != wanted_pos:
                    lines.append(f"  {_describe(m.id)} -> {s!r}: expected {_fmt((wanted_named, wanted_pos))}, "
                                 f"got {_fmt((named, pos))}")
    return lines


def _fmt(found: tuple) -> str:
    named, positional = found
    parts = sorted(f"%({n}){c}" for n, c in named) + [f"%{c}" for c in positional]
    return ", ".join(parts) or "no placeholders"


# --- the tests -----------------------------------------------------------------------------

def test_extraction_finds_strings_in_python_and_every_template_dir():
    where = {loc.rsplit(":", 1)[0] for entry in current_messages().values() for loc in entry["where"]}
    assert any(w.startswith("gridpatrol/templates/") for w in where), "shared templates not extracted"
    assert any(re.match(r"gridpatrol/\w+/templates/", w) for w in where), "blueprint templates not extracted"
    assert any(w.endswith(".py") for w in where), "Python modules not extracted"


def test_mapping_covers_every_file_with_marked_strings():
    """A file that marks strings but yields none is outside babel.cfg (or uses an unknown keyword)."""
    marker_py = re.compile(r"\b(?:_|_l|gettext|lazy_gettext|ngettext|lazy_ngettext|pgettext)\(\s*[rRuU]?[\"']")
    marker_tpl = re.compile(r"\b(?:_|gettext|ngettext|pgettext)\(\s*[\"']|\{%-?\s*(?:trans|pluralize)\b")
    extracted_files = {loc.rsplit(":", 1)[0] for e in current_messages().values() for loc in e["where"]}
    overlooked = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or TRANSLATIONS in path.parents:
            continue
        if path.suffix == ".py":
            marker = marker_py
        elif path.suffix in {".html", ".jinja", ".jinja2", ".j2", ".txt", ".xml"}:
            marker = marker_tpl
        else:
            continue
        rel = path.relative_to(ROOT).as_posix()
        if marker.search(path.read_text(encoding="utf-8")) and rel not in extracted_files:
            overlooked.append(f"  {rel}")
    if overlooked:
        pytest.fail(
            "These files contain translatable strings that extraction does not pick up. Add a pattern "
            "for them to gridpatrol/translations/babel.cfg (and a -k keyword to the extract command and "
            "to KEYWORDS in this test if they use a new marker):\n" + "\n".join(overlooked),
            pytrace=False,
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_every_msgid_is_translated(locale):
    path = po_path(locale)
    assert path.exists(), f"{path.relative_to(ROOT)} is missing.\n\n{FIX_COMMANDS}"
    problems = untranslated(current_messages(), load_po(path))
    if problems:
        pytest.fail(
            f"{len(problems)} source string(s) lack a usable '{locale}' translation in "
            f"{path.relative_to(ROOT)}:\n" + "\n".join(problems) + "\n\n" + FIX_COMMANDS,
            pytrace=False,
        )


def test_template_is_up_to_date():
    missing = absent_from_template(current_messages(), load_po(POT))
    if missing:
        pytest.fail(
            f"{len(missing)} source string(s) are not in gridpatrol/translations/messages.pot:\n"
            + "\n".join(missing) + "\n\n" + FIX_COMMANDS,
            pytrace=False,
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_committed_mo_matches_po(locale):
    assert mo_path(locale).exists(), f"{mo_path(locale).relative_to(ROOT)} is missing.\n\n{FIX_COMMANDS}"
    differences = mo_differences(load_po(po_path(locale)), load_mo(mo_path(locale)))
    if differences:
        pytest.fail(
            f"gridpatrol/translations/{locale}/LC_MESSAGES/messages.mo does not match messages.po "
            "(the .mo is committed so that a fresh checkout needs no compile step):\n"
            + "\n".join(differences)
            + "\n\nRun: .venv/bin/pybabel compile -d gridpatrol/translations --statistics",
            pytrace=False,
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale):
    mismatches = placeholder_mismatches(load_po(po_path(locale)))
    if mismatches:
        pytest.fail(
            "These translations do not keep the %(name)s placeholders of their msgid (a missing, extra or "
            "retyped placeholder raises KeyError/TypeError or shows the wrong value at runtime):\n"
            + "\n".join(mismatches)
            + f"\n\nCorrect them in gridpatrol/translations/{locale}/LC_MESSAGES/messages.po, then run "
            ".venv/bin/pybabel compile -d gridpatrol/translations --statistics",
            pytrace=False,
        )


def test_chinese_catalog_loads_where_flask_babel_looks():
    """Flask-Babel reads <package>/translations/<locale>/LC_MESSAGES/messages.mo; the locale is `zh`."""
    translations = Translations.load(str(TRANSLATIONS), ["zh"])
    assert isinstance(translations, Translations), "no zh/LC_MESSAGES/messages.mo under gridpatrol/translations"
    assert translations.gettext("Log in") == "登录"
    assert translations.gettext("GridPatrol") == "网格巡查"
    assert translations.gettext("Log out") == "退出登录"


# --- the checks above do catch problems ---------------------------------------------------------

def _copy_catalog(tmp_path: Path) -> Path:
    target = po_path("zh", tmp_path / "translations")
    target.parent.mkdir(parents=True)
    shutil.copy(po_path("zh"), target)
    return target


def _save(catalog: Catalog, path: Path) -> None:
    buf = io.BytesIO()
    write_po(buf, catalog)
    path.write_bytes(buf.getvalue())


def test_checks_catch_missing_fuzzy_and_empty_translations(tmp_path):
    path = _copy_catalog(tmp_path)
    catalog = load_po(path)
    catalog.delete("Log in")
    catalog.get("Log out").flags.add("fuzzy")
    catalog.get("Audit log").string = ""
    _save(catalog, path)

    problems = "\n".join(untranslated(current_messages(), load_po(path)))
    assert "[missing] 'Log in'" in problems
    assert "[fuzzy] 'Log out'" in problems
    assert "[empty msgstr] 'Audit log'" in problems
    assert "'GridPatrol'" not in problems

    extracted = {(None, "A brand new string"): {"message": "A brand new string", "where": ["x.py:1"]},
                 (None, "%(n)d patrol"): {"message": ("%(n)d patrol", "%(n)d patrols"), "where": ["y.py:2"]}}
    problems = "\n".join(untranslated(extracted, load_po(path)))
    assert "[missing] 'A brand new string'" in problems
    assert "[missing] '%(n)d patrol' / '%(n)d patrols'" in problems
    assert absent_from_template(extracted, load_po(POT))


def test_checks_catch_stale_mo(tmp_path):
    path = _copy_catalog(tmp_path)
    catalog = load_po(path)
    with mo_path("zh", tmp_path / "translations").open("wb") as f:
        write_mo(f, catalog)
    assert mo_differences(catalog, load_mo(mo_path("zh", tmp_path / "translations"))) == []

    catalog.get("Log in").string = "登入"
    catalog.add("Only in the po", "仅在 po 中")
    differences = "\n".join(mo_differences(catalog, load_mo(mo_path("zh", tmp_path / "translations"))))
    assert "differs: 'Log in'" in differences
    assert "not in .mo: 'Only in the po'" in differences


def test_checks_catch_placeholder_mismatches():
    catalog = Catalog(locale="zh")
    catalog.add("User %(name)s saved.", "用户已保存。")  # dropped
    catalog.add("Welcome, %(name)s", "欢迎，%(user)s")  # renamed
    catalog.add("%(n)d entries", "共 %(n)s 条")  # retyped
    catalog.add("Fine %(a)s and %(b)d", "%(b)d 与 %(a)s 均可")  # reordered: fine
    catalog.add("100% sure", "百分之百确定")  # a literal percent sign is not a placeholder
    catalog.add(("%(n)d point", "%(n)d points"), ("%(n)d 分",))
    catalog.add(("One grid", "%(n)d grids"), ("个网格",))  # plural form lost %(n)d
    mismatches = "\n".join(placeholder_mismatches(catalog))
    assert "User %(name)s saved." in mismatches
    assert "Welcome, %(name)s" in mismatches
    assert "%(n)d entries" in mismatches
    assert "Fine %(a)s" not in mismatches
    assert "100% sure" not in mismatches
    assert "%(n)d point" not in mismatches
    assert "'One grid'" in mismatches
