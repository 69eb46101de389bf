"""Fuzzing the edit (session) reader: whatever a .heirloom.json holds, read_edit returns a valid Edit
or raises EditError (one sentence), never another exception, and it writes nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fuzz_support import dumps, fuzz_settings, json_values, mutated, snapshot
from hypothesis import given
from hypothesis import strategies as st

from core.edit import AB_LIMIT, MAX_HINT_RADIUS, Edit, EditError, Hint, Reference, read_edit

VALID = Edit(
    photo="/photos/grandma.jpg",
    references=(Reference("/photos/dress.jpg", 0.5), Reference("dress-2.png")),
    blend=0.8,
    match_content=False,
    hints=(Hint(10, 20, (30.0, -40.0), 3.0), Hint(5.5, 6.5, (0.0, 0.0), 0.0)),
    working_size=384,
).to_dict()
FIELDS = sorted(VALID)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-edit")


def read(folder: Path, data: bytes) -> Edit | None:
    """read_edit on ``data``: the Edit, or None after EditError; asserts that nothing was written."""
    path = folder / "session.heirloom.json"
    path.write_bytes(data)
    before = snapshot(folder)
    try:
        edit = read_edit(path)
    except EditError as error:
        assert str(error) and "\n" not in str(error)
        edit = None
    assert snapshot(folder) == before
    if edit is not None:
        assert_usable(edit)
    return edit


def assert_usable(edit: Edit) -> None:
    assert 0.0 <= edit.blend <= 1.0 and isinstance(edit.match_content, bool)
    for reference in edit.references:
        assert 0.0 < reference.weight and math.isfinite(reference.weight)
    for hint in edit.hints:
        assert math.isfinite(hint.x) and math.isfinite(hint.y)
        assert 0.0 <= hint.radius <= MAX_HINT_RADIUS and all(abs(v) <= AB_LIMIT for v in hint.ab)
    assert Edit.from_json(edit.to_json()) == edit  # what was read can be saved and read again


def test_the_valid_edit_reads_back(folder):
    assert read(folder, dumps(VALID).encode()) is not None


@fuzz_settings(250)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=4))
def test_any_json_value_in_any_field(folder, changes):
    read(folder, dumps({**VALID, **changes}).encode())


@fuzz_settings(250)
@given(hints=st.lists(st.dictionaries(st.sampled_from(["x", "y", "ab", "radius", "id"]), json_values, max_size=5), max_size=4))
def test_any_hint_entries(folder, hints):
    read(folder, dumps({**VALID, "hints": hints}).encode())


@fuzz_settings(250)
@given(references=st.lists(st.dictionaries(st.sampled_from(["path", "weight"]), json_values, max_size=2), max_size=4))
def test_any_reference_entries(folder, references):
    read(folder, dumps({**VALID, "references": references}).encode())


@fuzz_settings(300)
@given(data=mutated(dumps(VALID).encode(), header=200))
def test_mutated_bytes(folder, data):
    read(folder, data)


@fuzz_settings(100)
@given(text=st.text(max_size=200))
def test_any_text(text):
    try:
        assert_usable(Edit.from_json(text))
    except EditError:
        pass


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("field", ["hints", "references", "photo", "blend"])
def test_deep_nesting_anywhere(folder, field, depth):
    text = dumps({**VALID, field: 0}).replace(f'"{field}": 0', f'"{field}": ' + "[" * depth + "]" * depth)
    assert read(folder, text.encode()) is None
