"""benchmarks/auto_headroom.py: the best single correction per photo is found exactly, and the
report on real photos is consistent with heirloom-eval's scores of the same colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from training.baselines import GrayMethod
from training.evaluate import HeirloomMethod, evaluate


@pytest.fixture(scope="module")
def headroom(load_benchmark):
    return load_benchmark("auto_headroom")


def test_the_best_shift_and_gain_undo_a_cast_and_a_fade(headroom):
    truth = np.random.default_rng(0).normal(0, 20, (2, 8, 8)).astype(np.float32)
    cast = np.array([5.0, -7.0], np.float32)[:, None, None]
    assert np.allclose(headroom.best_shift(truth - cast, truth), cast, atol=1e-4)
    assert headroom.best_gain(truth * 0.5, truth) == pytest.approx(2.0, rel=1e-5)
    assert headroom.best_gain(np.zeros_like(truth), truth) == 1.0  # grey: nothing to scale


def test_the_report_agrees_with_heirloom_eval(headroom, tmp_path, capsys):
    for name in ("chelsea", "coffee"):
        Image.fromarray(getattr(skdata, name)()).save(tmp_path / f"{name}.png")
    report = headroom.measure(tmp_path)
    result = evaluate(tmp_path, [HeirloomMethod(headroom.heirloom_factory()), GrayMethod()])
    scored, truth_colour = result["results"]["auto"], result["ground_truth_colorfulness"]["auto"]
    assert report["photos"] == 2
    assert report["auto"] == pytest.approx(scored["heirloom"]["psnr"], abs=1e-6)
    assert report["grey"] == pytest.approx(scored["gray"]["psnr"], abs=1e-6)
    assert report["by_gain"]["1.0"]["psnr"] == pytest.approx(report["auto"], abs=1e-6)
    share = report["by_gain"]["1.0"]["colourfulness_share"]
    assert share == pytest.approx(scored["heirloom"]["colorfulness"] / truth_colour, rel=1e-6)
    assert report["by_gain"]["0.8"]["colourfulness_share"] < share < report["by_gain"]["1.1"]["colourfulness_share"]
    assert 0.0 <= report["below_grey"] <= 1.0 and len(report["worst"]) == 2
    assert headroom.main([str(tmp_path), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "with each photo's best ab shift" in out and (tmp_path / "r.json").is_file()
