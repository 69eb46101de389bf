"""The user's edit as data: changes, stable hint ids, validation of every field, the JSON file."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import pytest

from core.edit import DEFAULT_REACH, EDIT_FORMAT, Edit, EditError, Hint, Reference, read_edit, write_edit


def _edit() -> Edit:
    return Edit(
        "/photos/grandma.jpg",
        (Reference("/refs/dress.jpg", 1.0), Reference("/refs/garden.jpg", 0.5)),
        0.7,
        True,
        (Hint(10, 20, (30.0, -12.5), 3.0), Hint(5, 6, (0.0, 40.0))),
        384,
    )


def test_new_hints_are_numbered_and_ids_are_never_reused():
    edit = _edit()
    assert [h.id for h in edit.hints] == [1, 2]
    assert edit.next_hint_id == 3
    removed = edit.without_hint(2)
    added = removed.with_hint(Hint(1, 1, (5, 5)))
    assert [h.id for h in added.hints] == [1, 3]  # 2 was used once: never again
    stroke = added.with_hints([Hint(2, 2, (1, 1)), Hint(3, 3, (1, 1))])
    assert [h.id for h in stroke.hints] == [1, 3, 4, 5]


def test_hints_are_found_and_changed_by_id():
    edit = _edit()
    moved = edit.replacing_hint(edit.hint(2).moved(50, 60))
    assert moved.hint(2).x == 50 and moved.hint(1) == edit.hint(1)
    assert moved.without_hint(1).hints == (moved.hint(2),)
    assert moved.has_hint(2) and not moved.has_hint(7)
    with pytest.raises(KeyError):
        edit.without_hint(7)
    with pytest.raises(KeyError):
        edit.replacing_hint(Hint(0, 0, (0, 0), id=9))
    with pytest.raises(EditError, match="share one id"):
        Edit(hints=(Hint(0, 0, (0, 0), id=4), Hint(1, 1, (0, 0), id=4)))


def test_references_are_pinned_once():
    edit = Edit("/p.jpg")
    assert edit.automatic
    pinned = edit.with_reference("/r.jpg")
    assert not pinned.automatic and pinned.reference_paths == ("/r.jpg",)
    assert pinned.with_reference("/r.jpg") is pinned
    assert pinned.without_reference("/r.jpg").references == ()
    with pytest.raises(EditError, match="twice"):
        Edit(references=(Reference("/r.jpg"), Reference("/r.jpg")))


def test_json_round_trip_is_exact_and_keeps_the_id_counter(tmp_path):
    edit = _edit().without_hint(2)
    path = write_edit(tmp_path / "grandma.heirloom.json", edit)
    data = json.loads(path.read_text())
    assert data["format"] == EDIT_FORMAT and data["next_hint_id"] == 3
    loaded = read_edit(path)
    assert loaded == edit
    assert loaded.with_hint(Hint(0, 0, (0, 0))).hints[-1].id == 3


def test_version_1_session_files_still_open(tmp_path):
    old = {
        "format": "heirloom-session/1",
        "photo": "grandma.jpg",
        "references": [{"path": "refs/dress.jpg", "weight": 1.0}],
        "blend": 0.5,
        "hints": [{"x": 1, "y": 2, "ab": [3, 4], "radius": 2.0}, {"x": 5, "y": 6, "ab": [7, 8]}],
        "working_size": 256,
    }
    path = tmp_path / "old.heirloom.json"
    path.write_text(json.dumps(old))
    edit = read_edit(path)
    assert edit.photo == str(tmp_path / "grandma.jpg")
    assert edit.references[0].path == str(tmp_path / "refs" / "dress.jpg")
    assert [h.id for h in edit.hints] == [1, 2]
    assert all(h.reach == DEFAULT_REACH for h in edit.hints)  # files before reach get the default
    assert edit.match_content is True and edit.model == "colornet"


def test_a_hints_reach_is_saved_and_clamped(tmp_path):
    edit = _edit().with_hint(Hint(3, 4, (10, -10), reach=0.9))
    loaded = read_edit(write_edit(tmp_path / "reach.heirloom.json", edit))
    assert loaded.hints[-1].reach == 0.9 and loaded == edit
    assert Hint(0, 0, (0, 0)).reaching(2.0).reach == 1.0 and Hint(0, 0, (0, 0)).reaching(-1).reach == 0.0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"blend": 1.5}, "strength"),
        ({"blend": "0.5"}, "number"),
        ({"blend": True}, "number"),
        ({"working_size": 1e400}, "working size"),
        ({"working_size": 256.5}, "whole number"),
        ({"working_size": 10**400}, "too large"),
        ({"match_content": "false"}, "true or false"),
        ({"references": [{"path": "r.jpg", "weight": 0}]}, "above 0"),
        ({"references": [{"path": "r.jpg", "weight": -1}]}, "weight"),
        ({"references": [{"weight": 1}]}, "path"),
        ({"references": {"path": "r.jpg"}}, "list"),
        ({"hints": [{"x": 1, "y": 1, "ab": [1e300, 0]}]}, "colour"),
        ({"hints": [{"x": 1, "y": 1, "ab": [1, 0], "radius": 1e308}]}, "radius"),
        ({"hints": [{"x": 1, "y": 1, "ab": [1, 0], "reach": 1.5}]}, "reach"),
        ({"hints": [{"x": 1, "y": 1, "ab": [1, 0], "reach": "far"}]}, "reach"),
        ({"hints": [{"x": 1, "y": 1, "ab": [1]}]}, "two numbers"),
        ({"hints": [{"x": 1, "ab": [1, 1]}]}, "lacks y"),
        ({"hints": ["x"]}, "object"),
        ({"photo": ""}, "photo"),
        ({"model": 5}, "model"),
    ],
)
def test_every_field_is_checked(change, message):
    data = {**_edit().to_dict(), **change}
    with pytest.raises(EditError, match=message):
        Edit.from_dict(data)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"format": "other"}',
        '{"format": "heirloom-edit/2", "blend": NaN}',
        '{"format": "heirloom-edit/2", "blend": Infinity}',
        "[" * 100_000 + "]" * 100_000,
        '{"format": "heirloom-edit/2", "hints": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ],
)
def test_bad_files_give_one_error_naming_the_file(tmp_path, text):
    path = tmp_path / "bad.heirloom.json"
    path.write_text(text)
    with pytest.raises(EditError, match="bad.heirloom.json"):
        read_edit(path)


def test_missing_file(tmp_path):
    with pytest.raises(EditError, match="cannot be read"):
        read_edit(tmp_path / "nope.heirloom.json")


def test_a_replaced_field_is_checked_too():
    with pytest.raises(EditError):
        replace(_edit(), blend=float("nan"))
    with pytest.raises(EditError):
        _edit().with_hint(Hint(0, 0, (0, 0), radius=float("inf")))


def test_edit_needs_no_torch():
    code = "import sys, core.edit; print('torch' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
