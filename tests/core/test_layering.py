"""core/ stays Qt-free and independent of the app and the training code (see pyproject's
import-linter contract "core is Qt-free and independent")."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = ("PySide6", "desktop", "training")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):  # nested and conditional imports count too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


CORE_FILES = sorted(CORE.rglob("*.py"))


def test_core_files_were_found():
    names = {p.relative_to(CORE).as_posix() for p in CORE_FILES}
    assert {"api.py", "cli.py", "color.py", "models/colornet.py"} <= names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_imports_nothing_forbidden(path):
    bad = [
        f"line {line}: {module}"
        for line, module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert not bad, f"{path.name} imports {bad}"


def test_the_ast_check_notices_forbidden_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from PySide6.QtGui import QImage\nimport training.engine\n")
    assert sorted(imported_modules(sample)) == [(2, "PySide6.QtGui"), (3, "training.engine")]


def test_importing_the_api_and_cli_loads_no_qt():
    code = (
        "import sys, core.api, core.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'desktop', 'training'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=CORE.parent, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
