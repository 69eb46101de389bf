"""The ``heirloom`` command: dispatch, version, self-test; Qt loads only for the window."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from desktop import app

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    assert app.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"Heirloom {app.version()}"
    assert app.version()[0].isdigit()


def test_colorize_is_handed_to_the_cli(monkeypatch):
    seen = []
    fake = types.ModuleType("core.cli")
    fake.main = lambda argv: seen.append(list(argv)) or 3
    monkeypatch.setitem(sys.modules, "core.cli", fake)
    assert app.main(["colorize", "grandma.jpg", "-r", "dress.jpg"]) == 3
    assert seen == [["colorize", "grandma.jpg", "-r", "dress.jpg"]]


def test_colorize_without_the_cli_module(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "core.cli", None)
    assert app.main(["colorize", "x.jpg"]) == 2
    assert "not available" in capsys.readouterr().err


def test_version_and_dispatch_never_import_qt():
    code = (
        "import sys; from desktop.app import main, build_parser; "
        "main(['--version']); build_parser().parse_args(['photo.jpg', '-r', 'a.jpg', '--demo']); "
        "import core.edit, desktop.selftest; "
        "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"format": "heirloom-session/1", "photo": "a.jpg", "working_size": 1e400}', "working size"),
        ('{"format": "heirloom-edit/2", "photo": "a.jpg", "references": [{"path": "r.jpg", "weight": NaN}]}', "NaN"),
        ("[" * 100_000, "nested too deeply"),
        ('{"format": "heirloom-edit/2"}', "names no photo"),
    ],
)
def test_a_bad_edit_file_is_one_line_and_exit_1(tmp_path, capsys, content, says):
    path = tmp_path / "bad.heirloom.json"
    path.write_text(content)
    assert app.main(["--session", str(path)]) == 1  # before any window (no Qt, no abort)
    err = capsys.readouterr().err
    assert err.startswith("heirloom: ") and err.count("\n") == 1 and says in err


def test_random_weights_only_on_request(monkeypatch):
    monkeypatch.delenv(app.RANDOM_WEIGHTS_ENV, raising=False)
    assert not app.random_weights_allowed()
    assert app.random_weights_allowed(True)
    monkeypatch.setenv(app.RANDOM_WEIGHTS_ENV, "1")
    assert app.random_weights_allowed()


@pytest.fixture
def resources_without_weights(tmp_path, monkeypatch):
    """A resources folder with the demo files but no trained weights (whatever the checkout holds)."""
    folder = tmp_path / "resources"
    shutil.copytree(ROOT / "resources" / "demo", folder / "demo")
    (folder / "weights").mkdir()
    monkeypatch.setenv("HEIRLOOM_RESOURCES", str(folder))
    return folder


def test_self_test_fails_clearly_without_weights(resources_without_weights, capsys):
    assert app.main(["--self-test"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("FAILED: ") and "weights" in err


def test_self_test_colorizes_the_demo_photo(resources_without_weights, capsys):
    """With untrained networks (development mode) the pipeline still runs end to end offscreen."""
    assert app.main(["--self-test", "--random-weights"]) == 0
    out = capsys.readouterr().out
    assert "photo      demo_photo.jpg 918x1170" in out
    assert "UNTRAINED" in out and "result     918x1170 colour" in out and "OK" in out


def test_self_test_reports_missing_demo_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEIRLOOM_RESOURCES", str(tmp_path))
    assert app.main(["--self-test", "--random-weights"]) == 1
    assert "reinstall" in capsys.readouterr().err.lower()


def test_pyproject_declares_the_gui_entry_point():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["gui-scripts"]["heirloom"] == "desktop.app:main"
