"""benchmarks/gpu_session.py: the prepared GPU session's slice maker, and a dry run of the whole
session on the CPU (timing probe, a run sized to the budget, the summary it writes)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from core.weights import load_weights

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def session():
    spec = importlib.util.spec_from_file_location("gpu_session", ROOT / "benchmarks" / "gpu_session.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_session"] = module
    spec.loader.exec_module(module)
    return module


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
