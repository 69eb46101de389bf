"""The recolour evaluation (training.recolour) and the geodesic baseline it is judged against."""

from __future__ import annotations

import numpy as np
import pytest

from training.baselines import GeodesicMethod, NearestHintMethod, PatchHint
from training.recolour import (
    changed_towards,
    evaluate_recolour,
    interior_point,
    recolour_scores,
    recolour_task,
    score_recolour,
)


class _Photo:
    def __init__(self, name: str, lab: np.ndarray):
        self.name, self.lab = name, lab
        self.rgb = np.zeros((*lab.shape[1:], 3), dtype=np.float32)


def _disc_photo(size: int = 96) -> np.ndarray:
    """Lab (3, S, S): a greenish background and a red disc, a little darker, in the middle."""
    y, x = np.mgrid[0:size, 0:size]
    disc = (y - size / 2) ** 2 + (x - size / 2) ** 2 < (size / 4) ** 2
    lab = np.zeros((3, size, size))
    lab[0] = np.where(disc, 45.0, 60.0)
    lab[1] = np.where(disc, 50.0, -30.0)
    lab[2] = np.where(disc, 30.0, 20.0)
    return lab


def test_changed_counts_only_moves_towards_the_hint_colour():
    before = np.zeros((2, 1, 3), dtype=np.float32)
    after = np.array([[[10.0, -10.0, 3.0]], [[0.0, 0.0, 0.0]]], dtype=np.float32)
    changed = changed_towards(before, after, (30.0, 0.0))
    assert changed.tolist() == [[True, False, False]]  # away from it, or too little, does not count
    with pytest.raises(ValueError):
        changed_towards(before, after[:1], (1.0, 1.0))


def test_scores_of_a_known_change():
    region = np.zeros((4, 5), dtype=bool)
    region[:2] = True  # 10 pixels
    changed = np.zeros_like(region)
    changed[0] = True  # 5 inside
    changed[3, :1] = True  # 1 outside of 10
    s = score_recolour(changed, region)
    assert s["recall"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(5 / 6)
    assert s["f1"] == pytest.approx(2 * 0.5 * (5 / 6) / (0.5 + 5 / 6))
    assert s["outside"] == pytest.approx(0.1)
    assert score_recolour(np.zeros_like(region), region)["precision"] == 0.0


def test_the_task_picks_the_disc_and_a_distant_colour_deterministically():
    lab = _disc_photo()
    task = recolour_task("disc.png", lab)
    assert task is not None and task == task  # eq=False: identity
    again = recolour_task("disc.png", lab)
    assert (task.hint.y, task.hint.x, task.hint.ab) == (again.hint.y, again.hint.x, again.hint.ab)
    assert task.region[48, 48] and not task.region[2, 2]
    assert (task.hint.y, task.hint.x) == pytest.approx((48, 48), abs=2)
    assert np.hypot(task.hint.ab[0] - 50, task.hint.ab[1] - 30) >= 35
    assert recolour_task("flat.png", np.zeros((3, 64, 64))) is None


def test_interior_point_is_the_farthest_from_the_border():
    region = np.zeros((20, 30), dtype=bool)
    region[2:12, 5:25] = True
    assert interior_point(region) in {(6, y) for y in range(9, 21)} | {(7, y) for y in range(9, 21)}


def test_fill_changes_everything_and_geodesic_stops_at_the_disc():
    lab = _disc_photo()
    task = recolour_task("disc.png", lab)
    L = lab[0].astype(np.float32)
    fill = recolour_scores(NearestHintMethod(), L, task)
    assert fill["recall"] == 1.0 and fill["outside"] == 1.0
    geodesic = recolour_scores(GeodesicMethod(sigma=16, edge=20), L, task)
    assert geodesic["f1"] > 0.9 and geodesic["outside"] < 0.05


def test_geodesic_without_hints_is_grey_and_keeps_a_hint_colour():
    L = np.full((16, 16), 50.0, dtype=np.float32)
    method = GeodesicMethod()
    assert not method.predict(L, None, ()).any()
    ab = method.predict(L, None, (PatchHint(y=8, x=8, ab=(20.0, -10.0)),))
    assert ab.shape == (2, 16, 16)
    np.testing.assert_allclose(ab[:, 8, 8], np.array([20.0, -10.0]) / 1.05, rtol=1e-4)


def test_evaluate_recolour_reports_both_modes():
    photos = [_Photo("a.png", _disc_photo()), _Photo("b.png", np.zeros((3, 96, 96)))]
    report = evaluate_recolour(photos, [NearestHintMethod()])
    assert report["photos"] == ["a.png"]
    assert set(report["results"]) == {"recolour", "recolour_ref", "recolour_related"}
    assert report["results"]["recolour"]["nearest"]["recall"] == 1.0


def test_evaluate_adds_recolour_rows_on_request():
    from training import evaluate as ev

    lab = _disc_photo(64)
    from core.color import lab_to_rgb
    import torch

    rgb = lab_to_rgb(torch.from_numpy(lab.astype(np.float32))).permute(1, 2, 0).numpy()
    photos = [ev.EvalPhoto("disc.png", rgb, ev._lab_of(rgb)), ev.EvalPhoto("b.png", rgb * 0 + 0.5, ev._lab_of(rgb * 0 + 0.5))]
    plain = ev.evaluate_photos(photos, [NearestHintMethod()])
    assert "recolour" not in plain["results"]
    result = ev.evaluate_photos(photos, [NearestHintMethod()], with_recolour=True)
    assert result["recolour_photos"] == ["disc.png"]
    assert result["results"]["recolour"]["nearest"]["recall"] == 1.0
    markdown = ev.format_markdown(result)
    assert "| recolour | " in markdown and "F1 / recall / precision" in markdown
