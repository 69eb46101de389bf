"""The desktop's own layering: only the worker (and the headless self-test) call core.api, and the
edit-session model stays Qt-free."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
MAY_CALL_CORE_API = {"worker.py", "selftest.py"}
QT_FREE = {"model.py", "selftest.py"}  # app.py imports Qt lazily, checked in test_app.py


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(DESKTOP.glob("*.py")), ids=lambda p: p.name)
def test_only_the_worker_calls_the_core_api(path):
    if path.name not in MAY_CALL_CORE_API:
        assert "core.api" not in imports(path)


@pytest.mark.parametrize("name", sorted(QT_FREE))
def test_qt_free_modules(name):
    assert not any(m.startswith("PySide6") for m in imports(DESKTOP / name))
