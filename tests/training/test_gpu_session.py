"""benchmarks/gpu_session.py: the prepared GPU session's slice maker, and a dry run of the whole
session on the CPU (timing probe, a run sized to the budget, the summary it writes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.weights import load_weights


@pytest.fixture(scope="module")
def session(load_benchmark):
    return load_benchmark("gpu_session")


def test_a_slice_keeps_folders_and_stays_under_its_size(session, photo_library, tmp_path):
    photos = sorted(p for p in photo_library.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in photos)
    budget_mb = total / 2 / 1e6
    copied = session.make_slice(photo_library, tmp_path / "slice", budget_mb)
    kept = sorted(p for p in (tmp_path / "slice").rglob("*") if p.is_file())
    assert len(kept) == copied and 0 < copied < len(photos)
    assert sum(p.stat().st_size for p in kept) <= budget_mb * 1e6
    assert {p.parent.name for p in kept} <= {p.parent.name for p in photos}  # the folder names the repeats read
    assert all((photo_library / p.relative_to(tmp_path / "slice")).read_bytes() == p.read_bytes() for p in kept)


def test_a_square_slice_stores_the_squares_the_trainer_caches(session, photo_library, tmp_path):
    from PIL import Image

    from training.data import load_square

    copied = session.make_slice(photo_library, tmp_path / "slice", 100.0, square=48, quality=95)
    kept = sorted(p for p in (tmp_path / "slice").rglob("*") if p.is_file())
    usable = [p for p in photo_library.rglob("*") if p.is_file() and not isinstance(load_square(p, 48), str)]
    assert copied == len(kept) == len(usable)  # all fit; unreadable files are left out
    for path in kept:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (48, 48)
        source = next(p for p in usable if p.relative_to(photo_library).with_suffix(".jpg") == path.relative_to(tmp_path / "slice"))
        assert abs(np.asarray(Image.open(path), dtype=float) - load_square(source, 48)).mean() < 6


def test_settings_are_converted_to_their_fields_types_and_checked(session):
    changed = session.overrides(["width=0.25", "init_from=", "cache_size=192", "user_hints=true", "warmup=5"])
    assert changed == {"width": 0.25, "init_from": "", "cache_size": 192, "user_hints": True, "warmup": 5}
    for bad in ("widht=0.25", "width", "user_hints=maybe", "crop=big", "warp_hints=2", "width=-1", "steps=5", "out=elsewhere"):
        with pytest.raises(ValueError):
            session.overrides([bad])


def test_a_dry_run_on_the_cpu_trains_the_shipped_configuration_within_its_budget(session, photo_library, tmp_path):
    out = tmp_path / "gpu"
    code = session.main(
        ["--photos", str(photo_library), "--device", "cpu", "--minutes", "0.6", "--batch-size", "2", "--probe-steps", "7",
         "--no-latency", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "session.json").read_text())
    assert summary["steps"] >= 1 and summary["seconds_per_step"] > 0
    assert summary["config"]["spatial_fusion"] and summary["config"]["init_from"].endswith("colornet.pt")
    weights = load_weights(Path(summary["weights"]), kind="colornet")
    assert weights["model_args"]["spatial_dims"] == [40, 112, 320]


def test_settings_reach_the_trained_configuration(session, photo_library, tmp_path):
    out = tmp_path / "gpu"
    code = session.main(
        ["--photos", str(photo_library), "--device", "cpu", "--minutes", "0.4", "--batch-size", "2", "--probe-steps", "7",
         "--no-latency", "--out", str(out), "--set", "width=0.0625", "--set", "init_from=", "--set", "cache_size=64", "--set", "crop=48"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "session.json").read_text())
    assert summary["config"]["init_from"] == "" and summary["config"]["cache_size"] == 64
    assert load_weights(Path(summary["weights"]), kind="colornet")["model_args"]["width"] == 0.0625
