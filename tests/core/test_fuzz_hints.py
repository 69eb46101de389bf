"""Fuzzing the command line's hints: whatever ``--hint`` or ``--hints-file`` holds, the reader returns
usable hints or raises the CLI's usage error (one line), never another exception, and it writes
nothing."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
from fuzz_support import dumps, fuzz_settings, json_values, mutated, snapshot
from hypothesis import given
from hypothesis import strategies as st

from core.cli import UsageError, parse_hint, read_hints_file
from core.edit import AB_LIMIT, MAX_HINT_RADIUS, Hint

VALID = {"hints": [{"x": 10, "y": 20, "color": "#aa3322", "radius": 3}, {"x": 1.5, "y": 2, "ab": [10, -20]}]}
KEYS = ["x", "y", "color", "ab", "radius", "id"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-hints")


def assert_usable(hints: list[Hint]) -> None:
    for hint in hints:
        assert isinstance(hint, Hint) and math.isfinite(hint.x) and math.isfinite(hint.y)
        assert 0.0 <= hint.radius <= MAX_HINT_RADIUS and all(abs(v) <= AB_LIMIT for v in hint.ab)


def read(folder: Path, data: bytes) -> list[Hint] | None:
    path = folder / "hints.json"
    path.write_bytes(data)
    before = snapshot(folder)
    try:
        hints = read_hints_file(path)
    except UsageError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        hints = None
    assert snapshot(folder) == before
    if hints is not None:
        assert_usable(hints)
    return hints


def test_the_valid_file_reads(folder):
    assert len(read(folder, dumps(VALID).encode())) == 2


@fuzz_settings(300)
@given(entries=st.lists(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6), max_size=4))
def test_any_hint_entries(folder, entries):
    read(folder, dumps({"hints": entries}).encode())


@fuzz_settings(150)
@given(value=json_values)
def test_any_json_document(folder, value):
    read(folder, dumps(value).encode())


@fuzz_settings(200)
@given(data=mutated(dumps(VALID).encode(), header=120))
def test_mutated_bytes(folder, data):
    read(folder, data)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting(folder, depth):
    assert read(folder, ('{"hints": [' + "[" * depth + "]" * depth + "]}").encode()) is None


_NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "1e400", "-0", "0x10", "", " ", "1_000"]),
    st.text(max_size=6),
)
_COLOUR_TEXT = st.sampled_from(["#3a5fcd", "ff0000", "#ff00", "#gggggg", "", "blue"]) | st.text(max_size=8)


@fuzz_settings(300)
@given(parts=st.lists(_NUMBER_TEXT, min_size=2, max_size=2), colour=_COLOUR_TEXT, radius=st.none() | _NUMBER_TEXT)
def test_any_command_line_hint(parts, colour, radius):
    text = ",".join([*parts, colour, *([] if radius is None else [radius])])
    try:
        hint = parse_hint(text)
    except argparse.ArgumentTypeError as error:
        assert "X,Y,#RRGGBB" in str(error) and "\n" not in str(error)
    else:
        assert_usable([hint])


@fuzz_settings(100)
@given(text=st.text(max_size=40))
def test_any_command_line_text(text):
    try:
        assert_usable([parse_hint(text)])
    except argparse.ArgumentTypeError:
        pass
