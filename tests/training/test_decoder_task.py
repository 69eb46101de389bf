"""Training task of the transfer decoder: samples, loss, validation, export and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.api import ColorizerConfig, load_models
from core.color import rgb_to_lab
from core.weights import WeightsError, load_weights
from training import cli
from training.api import run_training
from training.data import CropSampler, PhotoCache
from training.decoder_task import DecoderConfig, DecoderTask, parse_level_weights
from training.engine import Trainer


@pytest.fixture
def ready_task(small_config):
    """A decoder task with its photo cache, a model and one fixed batch."""
    config = small_config(DecoderConfig, batch_size=2, min_channels=16)
    task = DecoderTask(config)
    cache = PhotoCache.build(config.photos, f"{config.out}/cache", size=config.cache_size)
    task.prepare(cache)
    torch.manual_seed(0)
    model = task.build_model()
    sampler = CropSampler(cache, np.arange(len(cache)), config.batch_size, config.crop, seed=0)
    return task, model, sampler


def test_samples_target_reference_and_truth(ready_task):
    task, _, sampler = ready_task
    batch = sampler.batch(0, 0)
    target, reference, truth = task._sample(batch, np.random.default_rng(0), torch.device("cpu"))
    assert target.shape == reference.shape == truth.shape == (2, 3, 32, 32)
    target_lab = rgb_to_lab(target)
    # Same lightness as the truth, weaker (and, by default, hue-rotated) colour; the reference is
    # another view of the same photo.
    assert (target_lab[:, :1] - batch.L).abs().max() < 0.5
    assert target_lab[:, 1:].abs().mean() < batch.ab.abs().mean()
    assert not torch.equal(reference, truth)
    again, _, _ = task._sample(batch, np.random.default_rng(0), torch.device("cpu"))
    assert torch.equal(again, target)  # a seeded generator gives the same sample
    task.config.target = "gray"
    grey, _, _ = task._sample(batch, np.random.default_rng(0), torch.device("cpu"))
    assert rgb_to_lab(grey)[:, 1:].abs().max() < 0.5


@pytest.mark.parametrize("target, turn", [("desaturate", 0.0), ("jitter", np.pi / 2)])
def test_desaturated_targets_keep_the_hue_and_jittered_ones_turn_it(ready_task, target, turn):
    task, _, sampler = ready_task
    task.config.target = target
    batch = sampler.batch(0, 0)
    count = len(batch.indices)
    saturation = torch.full((count,), 0.3, dtype=torch.float64)
    hue = torch.full((count,), turn, dtype=torch.float64)
    ab = rgb_to_lab(task.target_input(batch.L, batch.ab, saturation, hue))[:, 1:]
    a, b = batch.ab[:, 0] * 0.3, batch.ab[:, 1] * 0.3
    expected = torch.stack((a, b) if target == "desaturate" else (-b, a), dim=1)
    assert (ab - expected).abs().mean() < 1.0  # through an sRGB round trip


def test_only_the_decoder_trains(ready_task):
    task, model, _ = ready_task
    trainable = {id(p) for p in task.trainable(model)}
    assert trainable == {id(p) for p in model.transfer.decoder.parameters()}
    assert not any(p.requires_grad for p in model.transfer.encoder.parameters())


def test_a_few_steps_reduce_the_loss_on_one_batch(ready_task):
    task, model, sampler = ready_task
    batch = sampler.batch(0, 0)
    optimizer = torch.optim.Adam(task.trainable(model), lr=2e-3)
    losses = []
    for _ in range(6):
        loss, parts = task.loss(model, batch, step=0)  # same step: same target and reference each time
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert set(parts) == {"mse", "perceptual"}
    assert losses[-1] < 0.8 * losses[0]
    encoder_grads = [p.grad for p in model.transfer.encoder.parameters()]
    assert all(g is None for g in encoder_grads)


def test_optional_ab_term(ready_task):
    task, model, sampler = ready_task
    task.config.ab_weight = 1.0
    loss, parts = task.loss(model, sampler.batch(0, 0), step=0)
    assert "ab" in parts and torch.isfinite(loss)


def test_validation_scores_transfer_against_grey(ready_task):
    task, model, sampler = ready_task
    with torch.no_grad():
        scores = task.validate(model.eval(), sampler)
    assert set(scores) == {"psnr_transfer", "psnr_gray"}
    assert all(np.isfinite(v) and 5 < v < 100 for v in scores.values())


def test_trained_decoder_loads_in_the_app(small_config, weights_home):
    config = small_config(DecoderConfig, steps=2, min_channels=16, val_every=2)
    result = run_training("decoder", config)
    assert result.steps_done == 2 and set(result.validation) == {"psnr_transfer", "psnr_gray"}
    data = load_weights(result.weights, kind="decoder")
    assert data["model_args"] == {"encoder": "efficientnet_lite0", "min_channels": 16}
    assert all(key.startswith(("entry.", "stages.", "head.")) for key in data["state_dict"])
    models = load_models(ColorizerConfig(decoder=str(result.weights), allow_random_weights=True, device="cpu"))
    for key, value in data["state_dict"].items():
        assert torch.equal(models.transfer.decoder.state_dict()[key], value)
    checkpoint = torch.load(result.checkpoint, weights_only=True)
    assert checkpoint["task"] == "decoder" and checkpoint["model_args"] == data["model_args"]


def test_decoder_resume_is_exact(small_config):
    options = dict(steps=4, min_channels=16)
    straight = Trainer(DecoderTask(c := small_config(DecoderConfig, "a", **options)), c).run()
    steps: list[int] = []
    Trainer(
        DecoderTask(c := small_config(DecoderConfig, "b", **options)),
        c,
        progress=lambda p: steps.append(p.step) if p.losses else None,
        should_stop=lambda: len(steps) >= 2,
    ).run()
    resumed = Trainer(DecoderTask(c := small_config(DecoderConfig, "b", resume=True, **options)), c).run()
    a = torch.load(straight.checkpoint, weights_only=True)["model"]
    b = torch.load(resumed.checkpoint, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_vgg19_without_its_weights_file_says_what_to_do(small_config, weights_home):
    task = DecoderTask(small_config(DecoderConfig, encoder="vgg19"))
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth.*--vgg-weights"):
        task.build_model()


def test_vgg19_decoder_with_a_weights_file(small_config, tmp_path):
    from core.models import VGG19Encoder

    torch.manual_seed(0)
    fake = {f"features.{k}": v for k, v in VGG19Encoder().features.state_dict().items()}
    torch.save(fake, tmp_path / "vgg19.pth")
    task = DecoderTask(small_config(DecoderConfig, encoder="vgg19", vgg_weights=str(tmp_path / "vgg19.pth"), min_channels=8))
    model = task.build_model()
    assert task.model_args() == {"encoder": "vgg19", "min_channels": 8}
    assert [t.name for t in model.transfer.decoder.taps] == ["relu4_1", "relu3_1", "relu2_1", "relu1_1"]


def test_config_errors():
    with pytest.raises(ValueError, match="unknown encoder"):
        DecoderConfig(encoder="resnet")
    with pytest.raises(ValueError, match="--colornet"):
        DecoderConfig(target="colornet")
    assert DecoderConfig(colornet="colornet.pt").target == "colornet"
    with pytest.raises(ValueError, match="level weights"):
        parse_level_weights("1,x")
    assert parse_level_weights("1, 0.5,0,2") == [1.0, 0.5, 0.0, 2.0]


def test_precolorized_target_uses_the_colornet(small_config, tmp_path):
    from core.models import ColorNet
    from core.weights import save_weights

    torch.manual_seed(1)
    colornet = ColorNet(width=0.125)
    path = save_weights(tmp_path / "c.pt", "colornet", colornet.model_args(), colornet.state_dict()).file
    config = small_config(DecoderConfig, colornet=str(path), min_channels=16)
    task = DecoderTask(config)
    cache = PhotoCache.build(config.photos, tmp_path / "cache", size=48)
    task.prepare(cache)
    batch = CropSampler(cache, np.arange(4), 2, 32).batch(0, 0)
    target = task.target_input(batch.L, batch.ab, None)
    with torch.no_grad():
        expected = rgb_to_lab(target)[:, 1:]
        predicted = colornet.eval()(batch.L)
    assert (expected - predicted).abs().mean() < 2.0


def test_cli_decoder_command(photo_library, tmp_path, capsys):
    argv = ["decoder", "--photos", str(photo_library), "--out", str(tmp_path / "dec"), "--steps", "1", "--batch-size", "2",
            "--crop", "32", "--cache-size", "48", "--val-count", "4", "--min-channels", "16", "--threads", "1", "--device", "cpu"]
    assert cli.main(argv) == 0
    assert "finished at step 1" in capsys.readouterr().out
    assert load_weights(tmp_path / "dec" / "weights.pt", kind="decoder")["model_args"]["min_channels"] == 16
    assert cli.main(["decoder", "--photos", "x", "--encoder", "resnet"]) == 1
    assert "unknown encoder" in capsys.readouterr().err
