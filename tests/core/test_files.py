"""core.files: whole files or nothing, and exclusive creation that never replaces a file."""

from __future__ import annotations

import os

import pytest

from core import files
from core.files import atomic_output, atomic_write


def listing(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_atomic_write_replaces_the_whole_file(tmp_path):
    target = tmp_path / "edit.json"
    atomic_write(target, b'{"version": 1}')
    atomic_write(target, '{"version": 2}')
    assert target.read_bytes() == b'{"version": 2}'
    assert listing(tmp_path) == ["edit.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "edit.json"
    target.write_bytes(b"old")

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["edit.json"]


def test_an_error_while_writing_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "out.bin") as stream:
            stream.write(b"half")
            raise RuntimeError("stopped")
    assert listing(tmp_path) == []


def test_exclusive_refuses_an_existing_name_before_and_after_writing(tmp_path):
    target = tmp_path / "result.png"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new", exclusive=True)
    assert target.read_bytes() == b"mine"
    later = tmp_path / "later.png"
    with pytest.raises(FileExistsError):
        with atomic_output(later, exclusive=True) as stream:
            stream.write(b"new")
            later.write_bytes(b"another program's")  # the name is taken while we write
    assert later.read_bytes() == b"another program's"
    assert listing(tmp_path) == ["later.png", "result.png"]
    atomic_write(tmp_path / "fresh.png", b"ok", exclusive=True)
    assert (tmp_path / "fresh.png").read_bytes() == b"ok"


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "x", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o644
