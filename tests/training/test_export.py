import json

import pytest
import torch

from core.api import ColorizerConfig, load_models
from core.weights import find_weights, load_weights
from training.colornet_task import ColorNetConfig, ColorNetTask
from training.decoder_task import DecoderConfig, DecoderTask
from training.engine import Trainer
from training.export import export_run, main


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
