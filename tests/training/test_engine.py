"""The training loop: exact resume, clean stops, checkpoints, the CLI, and the colornet task's options."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from core.models import ColorNet, EfficientNetLite0Encoder, TransferDecoder
from core.weights import load_weights, save_weights
from training import cli
from core.correspondence import HINT_CONFIDENCE
from training import colornet_task
from training.colornet_task import ColorNetConfig, ColorNetTask
from training.engine import Progress, Trainer, lr_lambda, step_rng

CHECKPOINT_KEYS = {
    "task", "model_args", "config", "model", "optimizer", "scheduler", "step", "epoch", "position", "history", "torch_rng",
}


def _train(config, **kwargs):
    return Trainer(ColorNetTask(config), config, **kwargs).run()


def _weights(result) -> dict[str, torch.Tensor]:
    return torch.load(result.checkpoint, map_location="cpu", weights_only=True)["model"]


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def _stop_after(steps: int):
    seen = []

    def progress(p: Progress) -> None:
        if p.losses:
            seen.append(p.step)

    return progress, (lambda: len(seen) >= steps)


def test_resume_continues_exactly(small_config):
    # Two epochs' worth of steps, a validation and a checkpoint half-way, the class loss on.
    options = dict(steps=6, class_weight=0.5, val_every=3, checkpoint_every=2)
    straight = _train(small_config(ColorNetConfig, "straight", **options))

    progress, should_stop = _stop_after(3)
    first = _train(small_config(ColorNetConfig, "halves", **options), progress=progress, should_stop=should_stop)
    assert first.stopped_early and first.steps_done == 3
    second = _train(small_config(ColorNetConfig, "halves", resume=True, **options))
    assert second.steps_done == 6 and not second.stopped_early
    _assert_identical(_weights(straight), _weights(second))
    saved = [torch.load(r.checkpoint, weights_only=True) for r in (straight, second)]
    _assert_identical(saved[0]["optimizer"]["state"][0], saved[1]["optimizer"]["state"][0])
    assert saved[0]["history"] == saved[1]["history"] and saved[0]["position"] == saved[1]["position"]


def test_checkpoint_holds_what_a_rebuild_needs(small_config):
    result = _train(small_config(ColorNetConfig, steps=2))
    state = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    assert set(state) == CHECKPOINT_KEYS
    assert state["task"] == "colornet" and state["step"] == 2
    assert state["model_args"] == {"width": 0.125, "global_dim": 0, "hint_fill": True, "fill_residual": True}
    assert state["config"]["crop"] == 32
    model = ColorNet(**state["model_args"])
    model.load_state_dict(state["model"])
    exported = load_weights(result.weights, kind="colornet")
    _assert_identical(exported["state_dict"], state["model"])
    assert not list(result.checkpoint.parent.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_should_stop_saves_a_checkpoint_and_weights(small_config):
    progress, should_stop = _stop_after(2)
    result = _train(small_config(ColorNetConfig, steps=50), progress=progress, should_stop=should_stop)
    assert result.stopped_early and result.steps_done == 2
    assert torch.load(result.checkpoint, weights_only=True)["step"] == 2
    assert result.weights is not None and load_weights(result.weights)["metadata"]["steps"] == 2


def test_keyboard_interrupt_from_progress_saves_and_returns(small_config):
    def progress(p: Progress) -> None:
        if p.step == 2 and p.losses:
            raise KeyboardInterrupt

    result = _train(small_config(ColorNetConfig, steps=50), progress=progress)
    assert result.stopped_early and result.steps_done == 2
    assert torch.load(result.checkpoint, weights_only=True)["step"] == 2
    assert result.weights.is_file()


def test_interrupt_during_an_update_keeps_the_last_consistent_checkpoint(small_config, monkeypatch):
    original = torch.optim.AdamW.step
    calls = []

    def step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # half-way through the third update
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    result = _train(small_config(ColorNetConfig, steps=10, checkpoint_every=1))
    assert result.stopped_early and result.weights is None
    assert torch.load(result.checkpoint, weights_only=True)["step"] == 2


def test_progress_reports_the_scan_then_steps_with_eta(small_config):
    seen: list[Progress] = []
    _train(small_config(ColorNetConfig, steps=3, val_every=3), progress=seen.append)
    messages = [p.message for p in seen if not p.losses]
    assert any("photos usable" in m for m in messages)
    steps = [p for p in seen if p.losses]
    assert [p.step for p in steps] == [1, 2, 3]
    assert all(p.total == 3 and p.eta >= 0 and "loss" in p.losses and "huber" in p.losses for p in steps)
    assert steps[-1].eta == 0 and set(steps[-1].validation) == {"psnr_auto", "psnr_hints"}


def test_warmup_then_cosine_schedule():
    factor = lr_lambda(warmup=4, total=14)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.02 + 0.98 * 0.5)
    assert factor(14) == pytest.approx(0.02) and factor(100) == pytest.approx(0.02)


def test_step_rng_is_a_function_of_seed_step_and_stream():
    a = step_rng(0, 5, 11).random(3)
    np.testing.assert_array_equal(a, np.random.default_rng([0, 5, 11]).random(3))
    assert not np.array_equal(a, step_rng(0, 6, 11).random(3))


# -- colornet task options ------------------------------------------------------------------------


def test_class_rebalanced_and_focal_losses_run(small_config):
    config = small_config(ColorNetConfig, steps=1, class_weight=1.0, focal_gamma=2.0, rebalance_mix=0.5)
    task = ColorNetTask(config)
    seen: list[Progress] = []
    Trainer(task, config, progress=seen.append).run()
    assert task.class_weights is not None and task.class_weights.shape == (529,)
    assert torch.isfinite(task.class_weights).all()
    assert "ce" in [p for p in seen if p.losses][-1].losses


@pytest.mark.parametrize("native", [True, False])
def test_cpu_training_autocasts_to_bfloat16_only_where_the_cpu_computes_it(small_config, monkeypatch, native):
    import training.engine as engine

    monkeypatch.setattr(engine, "native_bfloat16", lambda device: native)
    casts: list[tuple[bool, torch.dtype]] = []
    forward = ColorNet.forward

    def recording(self, *args, **kwargs):
        casts.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(ColorNet, "forward", recording)
    seen: list[Progress] = []
    auto = Trainer(ColorNetTask(config := small_config(ColorNetConfig, "auto", steps=2)), config, progress=seen.append)
    auto.run()
    assert (auto.amp, auto.amp_dtype) == (native, torch.bfloat16) and not auto.scaler.is_enabled()
    assert casts and casts[0] == (native, torch.bfloat16)  # the training step's forward pass
    assert all(np.isfinite(list(p.losses.values())).all() for p in seen if p.losses)
    casts.clear()
    exact = Trainer(ColorNetTask(config := small_config(ColorNetConfig, "exact", steps=1, precision="float32")), config)
    exact.run()
    assert not exact.amp and casts and not casts[0][0]
    with pytest.raises(ValueError, match="precision"):
        Trainer(ColorNetTask(config := small_config(ColorNetConfig, "half", steps=1, precision="half")), config).run()


def test_global_fusion_feeds_the_encoder_descriptor(small_config):
    config = small_config(ColorNetConfig, steps=1, global_fusion=True)
    task = ColorNetTask(config)
    result = Trainer(task, config).run()
    data = load_weights(result.weights, kind="colornet")
    assert data["model_args"] == {"width": 0.125, "global_dim": EfficientNetLite0Encoder.global_dim, "hint_fill": True, "fill_residual": True}
    model = ColorNet(**data["model_args"])
    model.load_state_dict(data["state_dict"])
    L = torch.rand(1, 1, 32, 32) * 100
    semantics = task.semantics(model, L)
    assert list(semantics) == ["global_features"]
    features = semantics["global_features"]
    assert features.shape == (1, 1280) and not features.requires_grad
    assert model(L, global_features=features).shape == (1, 2, 32, 32)


def test_spatial_fusion_feeds_the_encoder_maps_at_three_strides(small_config):
    config = small_config(ColorNetConfig, steps=1, spatial_fusion=True)
    task = ColorNetTask(config)
    result = Trainer(task, config).run()
    data = load_weights(result.weights, kind="colornet")
    assert data["model_args"]["spatial_dims"] == [40, 112, 320] and data["model_args"]["global_dim"] == 1280
    model = ColorNet(**data["model_args"])
    model.load_state_dict(data["state_dict"])
    L = torch.rand(1, 1, 64, 64) * 100
    semantics = task.semantics(model, L)
    maps = semantics["spatial_features"]
    assert [tuple(m.shape[1:]) for m in maps] == [(40, 8, 8), (112, 4, 4), (320, 2, 2)]
    assert model(L, **semantics).shape == (1, 2, 64, 64)


def test_spatial_fusion_added_to_shipped_weights_starts_from_the_same_output(small_config, tmp_path):
    torch.manual_seed(0)
    fused_only = ColorNet(width=0.125, global_dim=1280, hint_fill=True, fill_residual=True).eval()
    path = save_weights(tmp_path / "global.pt", "colornet", fused_only.model_args(), fused_only.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, init_from=str(path), spatial_fusion=True))
    spatial = task.build_model().eval()
    assert spatial.spatial_dims == (40, 112, 320)
    L = torch.rand(2, 1, 48, 48) * 100
    pooled = torch.randn(2, 1280)
    maps = tuple(torch.randn(2, c, 48 // s, 48 // s) for c, s in ((40, 8), (112, 16), (320, 32)))
    with torch.no_grad():
        torch.testing.assert_close(spatial(L, global_features=pooled, spatial_features=maps), fused_only(L, global_features=pooled))


def test_global_fusion_added_to_plain_weights_starts_from_the_same_output(small_config, tmp_path):
    torch.manual_seed(0)
    plain = ColorNet(width=0.125).eval()
    path = save_weights(tmp_path / "plain.pt", "colornet", plain.model_args(), plain.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, init_from=str(path), global_fusion=True))
    fused = task.build_model().eval()
    L = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        torch.testing.assert_close(fused(L, global_features=torch.randn(2, 1280)), plain(L))


def test_user_hint_inputs_added_to_shipped_weights_start_from_the_same_output(small_config, tmp_path):
    torch.manual_seed(0)
    shipped = ColorNet(width=0.125, hint_fill=True, fill_residual=True).eval()
    path = save_weights(tmp_path / "shipped.pt", "colornet", shipped.model_args(), shipped.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, init_from=str(path), user_hints=True))
    grown = task.build_model().eval()
    assert grown.user_hints and task.model_args()["user_hints"] is True
    L = torch.rand(2, 1, 32, 32) * 100
    hints, mask = torch.zeros(2, 2, 32, 32), torch.zeros(2, 1, 32, 32)
    hints[:, :, 5, 7], mask[:, :, 5, 7] = -20.0, 1.0
    with torch.no_grad():
        torch.testing.assert_close(grown(L, hints, mask, user_ab=hints, user_mask=mask), shipped(L, hints, mask))


def _randomised_statistics(net: ColorNet) -> ColorNet:
    """Batch-norm statistics and affine terms away from their defaults, as a trained net has them."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    return net


def test_a_wider_net_grows_from_narrower_weights_and_starts_from_the_same_output(small_config, tmp_path):
    torch.manual_seed(0)
    narrow = _randomised_statistics(ColorNet(width=0.125, global_dim=1280, hint_fill=True, fill_residual=True, spatial_dims=(40, 112, 320))).eval()
    path = save_weights(tmp_path / "narrow.pt", "colornet", narrow.model_args(), narrow.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, init_from=str(path), width=0.25, user_hints=True))
    wide = task.build_model().eval()
    assert wide.width == 0.25 and task.config.width == 0.25 and wide.user_hints
    assert wide.model4[0].weight.shape == (128, 64, 3, 3) and wide.model8up[0].weight.shape == (128, 64, 4, 4)
    # The new units are live (fresh weights into them), only their weights into the old outputs are zero.
    assert wide.model4[0].weight[64:].abs().sum() > 0
    assert not wide.model4[0].weight[:64, 32:].any() and not wide.model8up[0].weight[64:, :32].any()
    L = torch.rand(2, 1, 48, 48) * 100
    hints, mask = torch.zeros(2, 2, 48, 48), torch.zeros(2, 1, 48, 48)
    hints[:, :, 5, 7], mask[:, :, 5, 7] = -20.0, 1.0
    fusion = {"global_features": torch.randn(2, 1280), "spatial_features": tuple(torch.randn(2, c, 48 // s, 48 // s) for c, s in ((40, 8), (112, 16), (320, 32)))}
    with torch.no_grad():
        ab, logits = wide(L, hints, mask, with_logits=True, **fusion)
        ab_narrow, logits_narrow = narrow(L, hints, mask, with_logits=True, **fusion)
    torch.testing.assert_close(ab, ab_narrow)
    torch.testing.assert_close(logits, logits_narrow)
    # It trains: after two steps the new units feed the output.
    config = small_config(ColorNetConfig, steps=2, init_from=str(path), width=0.25)
    trained = load_weights(Trainer(ColorNetTask(config), config).run().weights, kind="colornet")
    assert trained["model_args"]["width"] == 0.25
    assert trained["state_dict"]["model_out.0.weight"][:, 16:].abs().sum() > 0


def test_a_narrower_width_than_the_start_keeps_the_start_s_width(small_config, tmp_path):
    net = ColorNet(width=0.25)
    path = save_weights(tmp_path / "wide.pt", "colornet", net.model_args(), net.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, init_from=str(path), width=0.125))
    assert task.build_model().width == 0.25


def test_a_user_hint_run_trains_and_saves_the_user_inputs(small_config, tmp_path):
    config = small_config(ColorNetConfig, steps=2, user_hints=True, user_share=1.0, recolour_share=0.5)
    task = ColorNetTask(config)
    result = Trainer(task, config).run()
    data = load_weights(result.weights, kind="colornet")
    assert data["model_args"]["user_hints"] is True
    assert data["state_dict"]["model1.0.weight"].shape[1] == 7
    assert "psnr_user" in result.validation


def test_hints_from_a_transfer_net(small_config, tmp_path):
    torch.manual_seed(0)
    decoder = TransferDecoder(EfficientNetLite0Encoder.taps)
    args = {"encoder": "efficientnet_lite0", "min_channels": 32}
    record = save_weights(tmp_path / "decoder.pt", "decoder", args, decoder.state_dict())
    config = small_config(
        ColorNetConfig, steps=1, transfer_hints=1.0, transfer_decoder=str(record.file), transfer_hint_density=0.05
    )
    task = ColorNetTask(config)
    trainer = Trainer(task, config)
    result = trainer.run()
    assert result.steps_done == 1 and task._transfer is not None
    batch = trainer.sampler.batch(0, 0)
    empty = torch.zeros(2, 2, 32, 32), torch.zeros(2, 1, 32, 32)
    hint_ab, mask = task._with_transfer_hints(batch, *empty, np.random.default_rng(0))
    assert 0 < mask.mean() < 0.5 and hint_ab.abs().sum() > 0


def test_warp_hints_are_another_views_colours_at_the_warps_confidence(small_config, monkeypatch):
    config = small_config(ColorNetConfig, steps=1, crop=48, warp_hints=1.0, global_fusion=True)
    task = ColorNetTask(config)
    trainer = Trainer(task, config)
    result = trainer.run()
    assert result.steps_done == 1 and "psnr_warp" in result.validation
    batch = trainer.sampler.batch(0, 0)
    n = len(batch.indices)
    sparse = torch.zeros(n, 2, 48, 48), torch.zeros(n, 1, 48, 48)
    sparse[0][:, :, 3, 3], sparse[1][:, :, 3, 3] = 9.0, 1.0
    hint_ab, mask = task._with_warp_hints(batch, np.array([1]), *sparse, np.random.default_rng(0))
    assert torch.equal(hint_ab[0], sparse[0][0]) and torch.equal(mask[0], sparse[1][0])  # not chosen: untouched
    warped = mask[1, 0] > 0
    assert warped.float().mean() > 0.3  # dense where the warp is confident, nothing elsewhere
    assert bool((hint_ab[1][:, ~warped] == 0).all()) and bool((mask[1] <= 1).all())
    # Another photo of the batch as the reference: its warp is confident in fewer places, and where
    # it is, lands farther from the crop's colours (part of the way from the automatic ones, 0 here).
    monkeypatch.setattr(colornet_task, "OTHER_PHOTO_SHARE", 1.0)
    other_ab, other_mask = task._with_warp_hints(batch, np.array([1]), *sparse, np.random.default_rng(0), lambda rows: torch.zeros(len(rows), 2, 48, 48))
    truth = batch.ab[1]

    def error(ab, where):
        return float((ab - truth).norm(dim=0)[where].mean())

    assert float(other_mask[1].sum()) < float(mask[1].sum())
    if bool((other_mask[1] > 0).any()):
        assert error(hint_ab[1], warped) < error(other_ab[1], other_mask[1, 0] > 0)
    assert task._with_warp_hints(batch, np.array([], dtype=int), *sparse, np.random.default_rng(0))[1] is sparse[1]


def test_warp_hints_replace_only_hinted_samples_and_weigh_as_automatic_ones(small_config, monkeypatch):
    config = small_config(ColorNetConfig, steps=1, crop=48, warp_hints=1.0, global_fusion=True, no_hint_share=1.0)
    task = ColorNetTask(config)
    trainer = Trainer(task, config)
    trainer.run()
    seen = []
    real = task._with_warp_hints
    monkeypatch.setattr(task, "_with_warp_hints", lambda batch, chosen, *rest: seen.append(chosen) or real(batch, chosen, *rest))
    batch = trainer.sampler.batch(0, 0)
    task.loss(trainer.base_model, batch, step=3)
    assert len(seen[-1]) == 0  # automatic samples stay automatic
    task.sim = colornet_task.HintSimulation(no_hint_share=0.0)
    weights = []
    monkeypatch.setattr(colornet_task, "weighted_huber", lambda pred, gt, weight, lam: weights.append(weight) or (pred - gt).abs().mean())
    task.loss(trainer.base_model, batch, step=3)
    assert len(seen[-1]) == len(batch.indices) and float(weights[-1].abs().sum()) == 0.0


# -- the command line -----------------------------------------------------------------------------


def _cli_args(photos, out, *extra):
    return ["colornet", "--photos", str(photos), "--out", str(out), "--batch-size", "2", "--crop", "32",
            "--cache-size", "48", "--warmup", "2", "--val-count", "4", "--threads", "1", "--device", "cpu", *extra]


def test_cli_trains_and_prints_the_scan_report(photo_library, tmp_path, capsys):
    assert cli.main(_cli_args(photo_library, tmp_path / "run", "--steps", "2")) == 0
    out = capsys.readouterr().out
    assert "photos usable" in out and "finished at step 2" in out
    assert (tmp_path / "run" / "weights.pt").is_file()


def test_cli_refuses_an_unknown_precision_before_reading_photos(photo_library, tmp_path, capsys):
    assert cli.main(_cli_args(photo_library, tmp_path / "run", "--steps", "2", "--precision", "half")) == 2
    assert "--precision must be one of auto, float32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert cli.main(["finetune", "--photos", str(photo_library), "--precision", "half"]) == 2


def test_cli_resume_restores_the_saved_config_exactly(photo_library, small_config, tmp_path, capsys):
    options = dict(steps=4, batch_size=2, crop=32, cache_size=48, warmup=2, val_count=4, val_every=1000, checkpoint_every=1000)
    straight = _train(small_config(ColorNetConfig, "straight", **options))
    progress, should_stop = _stop_after(2)
    _train(small_config(ColorNetConfig, "cli", **options), progress=progress, should_stop=should_stop)
    # Only --out and --resume: crop, batch size, cache size... come from the checkpoint.
    assert cli.main(["colornet", "--out", str(tmp_path / "cli"), "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().out
    state = torch.load(tmp_path / "cli" / "last.pt", weights_only=True)
    assert state["step"] == 4 and state["config"]["crop"] == 32 and state["config"]["resume"]
    _assert_identical(_weights(straight), state["model"])


def test_cli_resume_without_a_checkpoint_says_so(tmp_path, capsys):
    assert cli.main(["colornet", "--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "no checkpoint to resume" in capsys.readouterr().err


def test_cli_requires_photos(tmp_path, capsys):
    assert cli.main(["colornet", "--out", str(tmp_path / "x")]) == 2
    assert "--photos is required" in capsys.readouterr().err


def test_cli_keeps_the_colornet_options():
    argv = ["colornet", "--photos", "p", "--width", "0.5", "--class-weight", "1", "--focal-gamma", "2", "--global-fusion"]
    args = cli.build_parser().parse_args(argv)
    config = cli._config_from(args, ColorNetConfig)
    assert (config.width, config.class_weight, config.focal_gamma, config.global_fusion) == (0.5, 1.0, 2.0, True)
    assert config.steps == ColorNetConfig.steps and config.limit is None
    json.dumps(config.__dict__)  # the config stays plain data (it goes into checkpoints)


def test_repeat_oversamples_a_folder_in_the_training_slice_only(small_config):
    plain = Trainer(ColorNetTask(config := small_config(ColorNetConfig, "plain", steps=1)), config)
    plain.run()
    weighted = Trainer(ColorNetTask(config := small_config(ColorNetConfig, "weighted", steps=1, repeat="ast=3")), config)
    weighted.run()
    files = plain.cache.files
    in_ast = [i for i in plain.sampler.indices.tolist() if files[i].parent.name == "ast"]
    assert in_ast, "the test library should hold training photos of the 'ast' folder"
    assert len(weighted.sampler.indices) == len(plain.sampler.indices) + 2 * len(in_ast)
    assert set(weighted.sampler.indices.tolist()) == set(plain.sampler.indices.tolist())
    with pytest.raises(ValueError, match="repeats"):
        Trainer(ColorNetTask(config := small_config(ColorNetConfig, "bad", steps=1, repeat="ast")), config).run()


def test_cli_names_the_skipped_files(photo_library, tmp_path, capsys):
    library = tmp_path / "library"
    shutil.copytree(photo_library, library)
    (library / "ast" / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    Image.new("L", (80, 80), 128).convert("RGB").save(library / "grey.png")
    assert cli.main(_cli_args(library, tmp_path / "run", "--steps", "1")) == 0
    out = capsys.readouterr().out
    assert f"skipped {library / 'ast' / 'broken.jpg'}: unreadable" in out
    assert f"skipped {library / 'grey.png'}: near-grayscale" in out


def test_cli_ctrl_c_saves_the_checkpoint_says_where_and_exits_130(photo_library, tmp_path, monkeypatch, capsys):
    def interrupted(progress: Progress) -> None:
        if progress.losses:
            raise KeyboardInterrupt  # as Ctrl-C does, from inside the progress report

    monkeypatch.setattr(cli, "print_progress", interrupted)
    run = tmp_path / "run"
    assert cli.main(_cli_args(photo_library, run, "--steps", "5")) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 1" in err and str(run / "last.pt") in err and "--resume" in err
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 1


@pytest.mark.parametrize(
    "option, value, problem",
    [
        ("--batch-size", "0", "--batch-size must be at least 1"),
        ("--steps", "-3", "--steps must be at least 1"),
        ("--lr", "nan", "--lr must be a finite number"),
        ("--lr", "0", "--lr must be above 0"),
        ("--crop", "4", "--crop must be at least 16"),
        ("--cache-size", "20", "--cache-size (20) must be at least --crop (32)"),
        ("--no-hint-share", "2", "share from 0 to 1"),
    ],
)
def test_cli_nonsense_numbers_are_usage_errors(photo_library, tmp_path, capsys, option, value, problem):
    args = _cli_args(photo_library, tmp_path / "run", "--steps", "1")
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert problem in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_finetune_batch_size_zero_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["finetune", "--photos", str(tmp_path), "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_an_anchor_teaches_the_samples_without_user_hints_its_own_output(small_config, tmp_path):
    torch.manual_seed(0)
    anchor = ColorNet(width=0.125, hint_fill=True, fill_residual=True, user_hints=True).eval()
    path = save_weights(tmp_path / "anchor.pt", "colornet", anchor.model_args(), anchor.state_dict()).file
    task = ColorNetTask(small_config(ColorNetConfig, anchor=str(path), user_hints=True))
    L = torch.rand(3, 1, 32, 32) * 100
    hints, mask = torch.zeros(3, 2, 32, 32), torch.zeros(3, 1, 32, 32)
    hints[1, :, 5, 7], mask[1, :, 5, 7] = -20.0, 1.0  # sampled hints on the second sample
    user_mask = torch.zeros(3, 1, 32, 32)
    user_mask[2, :, 10:14, 10:14] = 1.0  # the user's hints on the third
    truth = torch.randn(3, 2, 32, 32) * 20
    target = task._anchored(truth, L, hints, mask, {}, user_mask)
    with torch.no_grad():
        torch.testing.assert_close(target[:2], anchor(L[:2], hints[:2], mask[:2]))
    torch.testing.assert_close(target[2], truth[2])  # the user's samples keep the truth
    assert not torch.equal(target[:2], truth[:2])
    config = small_config(ColorNetConfig, "anchored", steps=2, user_hints=True, anchor=str(path))
    assert Trainer(ColorNetTask(config), config).run().steps_done == 2
