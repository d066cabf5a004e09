"""STYLE R1: the engine, the Graph client and the emulator never import Odoo."""

import ast
from itertools import chain
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURE_PACKAGES = ("engine", "graph", "emulator")


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
    return names


def test_pure_packages_do_not_import_odoo():
    files = list(chain.from_iterable((ROOT / pkg).rglob("*.py") for pkg in PURE_PACKAGES if (ROOT / pkg).is_dir()))
    assert files, "no pure package found"
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if any(name.split(".")[0] == "odoo" for name in imported_modules(path))
    ]
    assert offenders == []


def test_pure_packages_use_relative_imports_between_themselves():
    # absolute imports of our own packages would break when loaded as odoo.addons.outlook_calendar_sync.*
    files = list(chain.from_iterable((ROOT / pkg).rglob("*.py") for pkg in PURE_PACKAGES if (ROOT / pkg).is_dir()))
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if any(name.split(".")[0] in PURE_PACKAGES for name in imported_modules(path))
    ]
    assert offenders == []
