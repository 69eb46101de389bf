"""The Qt-free edit session: edits, JSON round trip, lookups and picker colour helpers."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.color import ab_gamut_mask
from core.hints import Hint
from desktop.model import (
    EditSession,
    ReferenceEntry,
    SessionError,
    ab_plane_rgba,
    lab_to_rgb8,
    plane_value_at,
    read_session,
    rgb8_to_ab,
    snap_to_gamut,
)


def _session() -> EditSession:
    return EditSession(
        "/photos/grandma.jpg",
        (ReferenceEntry("/refs/dress.jpg", 1.0), ReferenceEntry("/refs/garden.jpg", 0.5)),
        0.7,
        (Hint(10, 20, (30.0, -12.5), 3.0), Hint(5, 6, (0.0, 40.0))),
        384,
    )


def test_json_round_trip_is_exact():
    session = _session()
    assert EditSession.from_json(session.to_json()) == session


def test_content_matching_choice_is_saved_and_defaults_to_on():
    session = replace(_session(), match_content=False)
    assert EditSession.from_json(session.to_json()) == session
    older = _session().to_dict()
    del older["match_content"]  # a session saved before the option existed
    assert EditSession.from_dict(older).match_content is True


def test_session_file_is_small_and_readable(tmp_path):
    path = tmp_path / "grandma.heirloom.json"
    path.write_text(_session().to_json())
    data = json.loads(path.read_text())
    assert data["format"] == "heirloom-session/1"
    assert data["blend"] == 0.7 and data["working_size"] == 384
    assert len(path.read_bytes()) < 2000
    assert read_session(path) == _session()


def test_relative_paths_resolve_against_the_session_folder(tmp_path):
    data = _session().to_dict()
    data["photo"] = "grandma.jpg"
    data["references"] = [{"path": "refs/dress.jpg", "weight": 1.0}]
    path = tmp_path / "s.heirloom.json"
    path.write_text(json.dumps(data))
    session = read_session(path)
    assert session.photo_path == str(tmp_path / "grandma.jpg")
    assert session.references[0].path == str(tmp_path / "refs" / "dress.jpg")


@pytest.mark.parametrize("text", ["not json", "{}", '{"format": "other"}', '{"format": "heirloom-session/1", "blend": 3}'])
def test_bad_session_files_raise_one_clear_error(tmp_path, text):
    path = tmp_path / "bad.heirloom.json"
    path.write_text(text)
    with pytest.raises(SessionError, match="bad.heirloom.json"):
        read_session(path)


def test_missing_session_file(tmp_path):
    with pytest.raises(SessionError, match="cannot be read"):
        read_session(tmp_path / "nope.heirloom.json")


def test_edits_return_new_sessions():
    session = EditSession("/p.jpg")
    assert session.automatic
    pinned = session.with_reference("/r.jpg")
    assert not pinned.automatic and session.automatic
    assert pinned.with_reference("/r.jpg") is pinned  # pinning twice changes nothing
    assert pinned.without_reference("/r.jpg").references == ()
    hinted = session.with_hint(Hint(1, 2, (3, 4))).with_hint(Hint(5, 6, (7, 8)))
    assert hinted.with_hint_at(0, Hint(9, 9, (0, 0))).hints[0].x == 9
    assert hinted.without_hint(0).hints == (Hint(5, 6, (7, 8)),)
    with pytest.raises(ValueError):
        EditSession(blend=1.5)


def test_plane_lookup_maps_photo_pixels_to_working_pixels():
    plane = np.arange(12, dtype=np.float32).reshape(3, 4)  # working 4 x 3 for a 400 x 300 photo
    assert plane_value_at(plane, (400, 300), 0, 0) == 0
    assert plane_value_at(plane, (400, 300), 399, 299) == 11
    assert plane_value_at(plane, (400, 300), 150, 120) == plane[1, 1]
    stacked = np.stack([plane, -plane])
    assert tuple(plane_value_at(stacked, (400, 300), 399, 0)) == (3, -3)


def test_colour_helpers():
    assert lab_to_rgb8(50, (0, 0)) == (119, 119, 119)
    a, b = rgb8_to_ab((200, 30, 30))
    assert a > 40 and b > 20
    far = (120.0, 120.0)
    snapped = snap_to_gamut(30, far)
    assert np.hypot(*snapped) < np.hypot(*far)
    assert snap_to_gamut(50, (5.0, 5.0)) == pytest.approx((5.0, 5.0))


def test_gamut_plane_is_transparent_outside_the_gamut():
    rgba = ab_plane_rgba(50, 32)
    assert rgba.shape == (32, 32, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., 3] == 255, ab_gamut_mask(50, 32))
    assert (rgba[..., 3] == 0).any() and (rgba[..., 3] == 255).any()
