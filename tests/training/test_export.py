import json

import pytest
import torch

from core.api import ColorizerConfig, load_models
from core.weights import find_weights, load_weights, save_weights
from training.colornet_task import ColorNetConfig, ColorNetTask
from training.decoder_task import DecoderConfig, DecoderTask
from training.engine import Trainer
from training import export
from training.export import average_weights, export_run, main


def _run(small_config, steps=2):
    config = small_config(ColorNetConfig, steps=steps)
    return Trainer(ColorNetTask(config), config).run()


def test_export_registers_a_run_the_app_can_load(small_config, tmp_path):
    result = _run(small_config)
    out = tmp_path / "weights" / "mine.pt"
    record = export_run(result.checkpoint.parent, out, name="mine", metadata={"note": "test"})
    assert find_weights("mine", [out.parent]).sha256 == record.sha256
    data = load_weights(record)
    assert data["metadata"]["note"] == "test" and data["metadata"]["steps"] == 2
    models = load_models(ColorizerConfig(colornet=str(out), allow_random_weights=True))
    assert models.colornet.model_args() == data["model_args"]


def test_export_from_the_checkpoint_of_a_running_colornet(small_config, tmp_path):
    result = _run(small_config)
    out = tmp_path / "ck.pt"
    assert main([str(result.checkpoint.parent), str(out), "--checkpoint"]) == 0
    state = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    data = load_weights(out, kind="colornet")
    assert data["model_args"] == state["model_args"]
    for key, value in state["model"].items():
        assert torch.equal(data["state_dict"][key], value)


def test_export_takes_metadata_from_a_json_file(small_config, tmp_path):
    result = _run(small_config)
    extra = tmp_path / "eval.json"
    extra.write_text(json.dumps({"dev_psnr_auto": 23.9}))
    out = tmp_path / "m.pt"
    assert main([str(result.checkpoint.parent), str(out), "--metadata", str(extra)]) == 0
    assert load_weights(out)["metadata"]["dev_psnr_auto"] == 23.9


def test_export_takes_a_decoder_from_its_checkpoint_without_the_frozen_encoder(small_config, tmp_path):
    config = small_config(DecoderConfig, steps=2, batch_size=2, min_channels=16)
    result = Trainer(DecoderTask(config), config).run()
    record = export_run(result.checkpoint.parent, tmp_path / "dec.pt", from_checkpoint=True)
    exported, finished = load_weights(record), load_weights(result.weights)
    assert exported["kind"] == "decoder" and exported["model_args"] == finished["model_args"]
    assert exported["state_dict"].keys() == finished["state_dict"].keys()
    for key, value in finished["state_dict"].items():
        assert torch.equal(exported["state_dict"][key], value), key


def test_export_refuses_a_checkpoint_of_an_unknown_task(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"task": "mystery", "model_args": {}, "model": {}}, run / "last.pt")
    with pytest.raises(ValueError, match="mystery"):
        export_run(run, tmp_path / "x.pt")


def test_average_weights_lies_between_the_nets_and_grows_new_inputs():
    start = {"conv.weight": torch.ones(4, 2, 3, 3), "bn.num_batches_tracked": torch.tensor(5)}
    tuned = {"conv.weight": torch.full((4, 3, 3, 3), 3.0), "bn.num_batches_tracked": torch.tensor(9)}
    mixed = average_weights(tuned, start, 0.25)
    assert torch.allclose(mixed["conv.weight"][:, :2], torch.full((4, 2, 3, 3), 1.5))
    assert torch.allclose(mixed["conv.weight"][:, 2:], torch.full((4, 1, 3, 3), 0.75))  # a new input: zero in the start
    assert int(mixed["bn.num_batches_tracked"]) == 9
    assert torch.equal(average_weights(tuned, start, 1.0)["conv.weight"], tuned["conv.weight"])
    for bad in (dict(share=1.5), dict(start={"other.weight": torch.ones(1)})):
        with pytest.raises(ValueError):
            average_weights(tuned, bad.get("start", start), bad.get("share", 0.5))
    with pytest.raises(ValueError, match="cannot grow"):
        average_weights({"w": torch.ones(4, 3)}, {"w": torch.ones(5, 2)}, 0.5)


def test_export_averages_a_run_with_its_start(small_config, tmp_path):
    config = small_config(ColorNetConfig, steps=2)
    result = Trainer(ColorNetTask(config), config).run()
    tuned = load_weights(result.weights)["state_dict"]
    start = {k: torch.zeros_like(v) for k, v in tuned.items()}
    save_weights(tmp_path / "start.pt", "colornet", load_weights(result.weights)["model_args"], start)
    out = tmp_path / "soup.pt"
    assert export.main([str(tmp_path / "run"), str(out), "--average", str(tmp_path / "start.pt"), "--share", "0.5"]) == 0
    data = load_weights(out)
    key = next(k for k, v in tuned.items() if v.is_floating_point() and v.abs().sum() > 0)
    assert torch.allclose(data["state_dict"][key], tuned[key] / 2)
    assert data["metadata"]["average"] == {"start": "start.pt", "share": 0.5}


def test_a_grown_run_averages_with_its_narrower_start(small_config, tmp_path):
    # The start, grown the same way, computes what it did: at share 0 the average is the start's net.
    from core.models import ColorNet
    from core.networks import load_colornet

    torch.manual_seed(1)
    narrow = ColorNet(width=0.125, hint_fill=True, fill_residual=True).eval()
    for module in narrow.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    start = save_weights(tmp_path / "narrow.pt", "colornet", narrow.model_args(), narrow.state_dict()).file
    config = small_config(ColorNetConfig, steps=2, init_from=str(start), width=0.25)
    run = Trainer(ColorNetTask(config), config).run().weights.parent
    L = torch.rand(1, 1, 32, 32) * 100
    hints, mask = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32)
    hints[:, :, 9, 4], mask[:, :, 9, 4] = 30.0, 1.0
    outputs = {}
    for share in (0.0, 0.5):
        export_run(run, tmp_path / f"soup{share}.pt", average=start, share=share)
        net, _ = load_colornet(str(tmp_path / f"soup{share}.pt"))
        assert net.width == 0.25
        with torch.no_grad():
            outputs[share] = net.eval()(L, hints, mask)
    with torch.no_grad():
        torch.testing.assert_close(outputs[0.0], narrow(L, hints, mask))
    assert not torch.allclose(outputs[0.5], outputs[0.0])
