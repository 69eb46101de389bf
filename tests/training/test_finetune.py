"""Fine-tuning the shipped colornet into a personal model the app can select."""

from __future__ import annotations

import pytest
import torch

from core.api import ColorizerConfig, load_models
from core.models import ColorNet, EfficientNetLite0Encoder
from core.weights import bundled_weights_dir, list_weights, load_weights, save_weights, user_weights_dir
from training import cli
from training.engine import TrainingCancelled
from training.finetune import FinetuneConfig, check_name, default_name, run_finetune

SMALL = FinetuneConfig(batch_size=2, crop=32, cache_size=48, threads=1)


@pytest.fixture
def shipped_colornet(weights_home):
    torch.manual_seed(0)
    model = ColorNet(width=0.125)
    path = bundled_weights_dir() / "colornet.pt"
    return save_weights(path, "colornet", model.model_args(), model.state_dict(), register_as="colornet")


def test_finetune_registers_a_personal_model_the_app_loads(photo_library, shipped_colornet):
    seen = []
    record = run_finetune(str(photo_library), "Family 1950s", steps=2, progress=seen.append, device="cpu", config=SMALL)
    assert record.name == "Family 1950s" and record.kind == "colornet"
    assert record.file.parent == user_weights_dir() and record.file.name == "colornet-family-1950s.pt"
    listed = {r.name: r for r in list_weights(kind="colornet")}
    assert set(listed) == {"colornet", "Family 1950s"}
    meta = listed["Family 1950s"].metadata
    assert meta["base"] == "colornet" and meta["base_sha256"] == shipped_colornet.sha256
    assert meta["steps"] == 2 and meta["photos"] > 10 and meta["stopped_early"] is False
    assert meta["date"][:2] == "20" and set(meta["validation"]) == set(meta["validation_base"]) == {"psnr_auto", "psnr_hints"}
    assert [p.step for p in seen if p.losses] == [1, 2]
    # The app selects it by name or by path.
    for choice in ("Family 1950s", str(record.file)):
        models = load_models(ColorizerConfig(colornet=choice, allow_random_weights=True, device="cpu"))
        assert models.metadata["colornet"]["base"] == "colornet"
    weights = load_weights(record)["state_dict"]
    base = load_weights(shipped_colornet)["state_dict"]
    assert any(not torch.equal(weights[k], base[k]) for k in weights)  # it did train
    # The temporary working folder (cache, checkpoint) is gone.
    assert not [p for p in user_weights_dir().parent.iterdir() if p.name.startswith("finetune-")]


def test_should_stop_still_saves_the_model(photo_library, shipped_colornet, tmp_path):
    steps = []
    record = run_finetune(
        str(photo_library), "stopped", steps=50, progress=lambda p: steps.append(p.step) if p.losses else None,
        should_stop=lambda: len(steps) >= 1, device="cpu", out_dir=tmp_path / "work", config=SMALL,
    )
    assert record.metadata["stopped_early"] is True and record.metadata["steps"] == 1
    assert record.file.is_file() and (tmp_path / "work" / "last.pt").is_file()  # a given out_dir is kept


def test_stopping_before_any_step_saves_nothing(photo_library, shipped_colornet):
    with pytest.raises(TrainingCancelled):
        run_finetune(str(photo_library), "never", steps=5, should_stop=lambda: True, device="cpu", config=SMALL)
    assert [r.name for r in list_weights()] == ["colornet"]


def test_names_of_bundled_models_are_refused(shipped_colornet):
    with pytest.raises(ValueError, match="bundled model"):
        check_name("colornet")
    with pytest.raises(ValueError, match="name"):
        check_name("  ")
    assert default_name("/photos/Smith family/") == "personal-Smith family"


def test_missing_shipped_weights_is_a_clear_error(photo_library, weights_home):
    from core.weights import WeightsError

    with pytest.raises(WeightsError, match="No weights named 'colornet'"):
        run_finetune(str(photo_library), "x", steps=1, device="cpu", config=SMALL)


def test_cli_finetune(photo_library, shipped_colornet, capsys):
    argv = ["finetune", "--photos", str(photo_library), "--name", "cli model", "--steps", "1", "--batch-size", "2",
            "--crop", "32", "--cache-size", "48", "--threads", "1", "--device", "cpu"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "personal model 'cli model'" in out and "before" in out
    assert "cli model" in {r.name for r in list_weights()}


def test_a_base_with_global_fusion_is_fine_tuned_with_it(photo_library, weights_home):
    # The shipped colornet fuses the EfficientNet-Lite0 descriptor; a personal model keeps that.
    torch.manual_seed(0)
    model = ColorNet(width=0.125, global_dim=EfficientNetLite0Encoder.global_dim, hint_fill=True, fill_residual=True)
    path = bundled_weights_dir() / "colornet.pt"
    save_weights(path, "colornet", model.model_args(), model.state_dict(), register_as="colornet")
    record = run_finetune(str(photo_library), "fused", steps=1, device="cpu", config=SMALL)
    assert load_weights(record)["model_args"] == model.model_args()
    models = load_models(ColorizerConfig(colornet="fused", allow_random_weights=True, device="cpu"))
    assert models.global_encoder is not None
