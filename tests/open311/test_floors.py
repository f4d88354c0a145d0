"""Open311 is a consumer on the top floor: no other package of the app imports it (only the app factory does)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gridpatrol"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_package_imports_open311():
    importers = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                       if path.parent.name != "open311" and path != PACKAGE / "__init__.py"
                       and any(name == "gridpatrol.open311" or name.startswith("gridpatrol.open311.")
                               for name in _imports(path)))
    assert importers == []
    assert "gridpatrol.open311" in _imports(PACKAGE / "__init__.py")  # the factory registers it
