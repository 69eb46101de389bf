"""The weights registry: save, register, find, verify and load safely."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch

from core.api import ColorizerConfig, load_models
from core.models import ColorNet, TransferDecoder
from core.models.efficientnet_lite0 import EfficientNetLite0Encoder
from core.weights import (
    FORMAT,
    WeightsError,
    WeightsRecord,
    bundled_weights_dir,
    find_weights,
    list_weights,
    load_weights,
    register,
    save_weights,
    sha256_of,
    user_weights_dir,
    vgg19_weights_path,
)


def small_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"layer.weight": torch.randn(3, 4, generator=generator), "layer.bias": torch.zeros(3)}


def test_save_register_find_load_round_trip(tmp_path):
    folder = tmp_path / "weights"
    state = small_state()
    record = save_weights(folder / "mine.pt", "colornet", {"width": 0.5}, state, {"description": "Family"}, register_as="family")
    assert record.name == "family" and record.sha256 == sha256_of(folder / "mine.pt")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["family"]["file"] == "mine.pt" and manifest["family"]["kind"] == "colornet"
    found = find_weights("family", [folder])
    assert found == record and found.description == "Family"
    data = load_weights(found, kind="colornet")
    assert data["format"] == FORMAT and data["model_args"] == {"width": 0.5}
    assert data["metadata"]["description"] == "Family"
    assert data["state_dict"].keys() == state.keys()
    assert all(torch.equal(data["state_dict"][k], v) for k, v in state.items())
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_registering_twice_keeps_both_entries(tmp_path):
    folder = tmp_path / "w"
    save_weights(folder / "a.pt", "colornet", {}, small_state(), register_as="a")
    save_weights(folder / "b.pt", "decoder", {}, small_state(), register_as="b")
    assert {r.name for r in list_weights([folder])} == {"a", "b"}
    assert [r.name for r in list_weights([folder], kind="decoder")] == ["b"]


def test_a_user_entry_shadows_a_bundled_one(tmp_path):
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    save_weights(bundled / "c.pt", "colornet", {"width": 1.0}, small_state(), register_as="colornet")
    save_weights(user / "c.pt", "colornet", {"width": 0.25}, small_state(), register_as="colornet")
    assert find_weights("colornet", [bundled, user]).file == user / "c.pt"


def test_default_folders_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HEIRLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEIRLOOM_RESOURCES", str(tmp_path / "res"))
    assert user_weights_dir() == tmp_path / "home" / "weights"
    assert bundled_weights_dir() == tmp_path / "res" / "weights"
    save_weights(user_weights_dir() / "x.pt", "colornet", {}, small_state(), register_as="personal")
    assert find_weights("personal").file == tmp_path / "home" / "weights" / "x.pt"


def test_checksum_mismatch_names_the_file(tmp_path):
    record = save_weights(tmp_path / "w" / "net.pt", "colornet", {}, small_state(), register_as="net")
    with open(record.file, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(WeightsError, match="checksum") as error:
        load_weights(find_weights("net", [tmp_path / "w"]))
    assert str(record.file) in str(error.value)
    load_weights(record, verify=False)  # the data itself is still readable


def test_missing_file_names_it(tmp_path):
    record = save_weights(tmp_path / "w" / "gone.pt", "colornet", {}, small_state(), register_as="gone")
    record.file.unlink()
    with pytest.raises(WeightsError, match="missing") as error:
        load_weights(record)
    assert "gone.pt" in str(error.value)
    with pytest.raises(WeightsError, match="nowhere.pt"):
        load_weights(tmp_path / "nowhere.pt")


def test_unknown_name_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="'nothing'"):
        find_weights("nothing", [tmp_path])


def test_a_damaged_manifest_is_reported(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match="manifest.json"):
        list_weights([tmp_path])


def test_non_heirloom_files_are_refused(tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save({"layer.weight": torch.zeros(2)}, plain)
    with pytest.raises(WeightsError, match="not a Heirloom weights file"):
        load_weights(plain)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="cannot be read"):
        load_weights(text)


def test_wrong_kind_is_refused(tmp_path):
    save_weights(tmp_path / "d.pt", "decoder", {}, small_state())
    with pytest.raises(WeightsError, match="'colornet' weights are needed"):
        load_weights(tmp_path / "d.pt", kind="colornet")


class _Payload:
    """An object whose unpickling would create a file: loading it must never run that."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_loading_never_unpickles_objects(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "kind": "colornet", "state_dict": {}, "payload": _Payload(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(WeightsError):
        load_weights(evil)
    assert not marker.exists()


def test_register_writes_a_readable_manifest(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({}, path)
    register(WeightsRecord("x", path, sha256_of(path), "colornet", {"steps": 10}))
    assert find_weights("x", [tmp_path]).metadata == {"steps": 10}


def test_load_models_uses_registered_weights(tmp_path, monkeypatch):
    torch.manual_seed(1)
    colornet = ColorNet(width=0.25)
    decoder = TransferDecoder(EfficientNetLite0Encoder.taps)
    user = user_weights_dir()
    save_weights(user / "c.pt", "colornet", colornet.model_args(), colornet.state_dict(), {"steps": 5}, register_as="colornet")
    save_weights(
        user / "d.pt", "decoder", {"encoder": "efficientnet_lite0"}, decoder.state_dict(), register_as="decoder-efficientnet_lite0"
    )
    models = load_models(ColorizerConfig(device="cpu"))
    assert models.colornet.width == 0.25
    assert models.metadata["colornet"] == {"steps": 5}
    assert torch.equal(models.colornet.model_out[0].weight, colornet.model_out[0].weight)
    assert torch.equal(models.transfer.decoder.head[-1].weight, decoder.head[-1].weight)
    # The same file given by path works too.
    assert load_models(ColorizerConfig(device="cpu", colornet=str(user / "c.pt"))).colornet.width == 0.25


def test_load_models_reports_missing_weights():
    with pytest.raises(WeightsError, match="No weights named 'colornet'"):
        load_models(ColorizerConfig(device="cpu"))
    models = load_models(ColorizerConfig(device="cpu", allow_random_weights=True))
    assert models.metadata["colornet"] == {"random": True} and models.metadata["decoder"] == {"random": True}


def test_decoder_for_another_encoder_is_refused():
    torch.manual_seed(2)
    user = user_weights_dir()
    colornet = ColorNet(width=0.125)
    save_weights(user / "c.pt", "colornet", colornet.model_args(), colornet.state_dict(), register_as="colornet")
    decoder = TransferDecoder(EfficientNetLite0Encoder.taps)
    save_weights(user / "d.pt", "decoder", {"encoder": "vgg19"}, decoder.state_dict(), register_as="decoder-efficientnet_lite0")
    with pytest.raises(WeightsError, match="another encoder"):
        load_models(ColorizerConfig(device="cpu"))


def _register_tiny_colornet() -> None:
    colornet = ColorNet(width=0.125)
    save_weights(user_weights_dir() / "c.pt", "colornet", colornet.model_args(), colornet.state_dict(), register_as="colornet")


def test_vgg19_without_its_weights_file_says_where_to_put_it():
    _register_tiny_colornet()
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth") as error:
        load_models(ColorizerConfig(device="cpu", encoder="vgg19"))
    assert str(vgg19_weights_path()) in str(error.value)


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_a_wrong_vgg19_file_is_a_weights_error(content):
    _register_tiny_colornet()
    path = vgg19_weights_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        torch.save({"features.0.weight": torch.zeros(1)}, path)  # some other network's weights
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match="VGG19 weights file"):
        load_models(ColorizerConfig(device="cpu", encoder="vgg19", allow_random_weights=True))


# -- damaged manifests and weights that do not fit: one sentence naming the file ------------------


@pytest.mark.parametrize(
    "manifest, problem",
    [
        ('{"mine": {"sha256": "00"}}', "'file'"),
        ('{"mine": "colornet.pt"}', "not an object"),
        ('{"mine": {"file": ["a"]}}', "'file'"),
        ('{"mine": {"file": "../../etc/passwd"}}', "'file'"),
        ('{"mine": {"file": "a.pt", "metadata": 3}}', "'metadata'"),
        ('{"mine": {"file": "a.pt", "kind": 7}}', "'kind'"),
        ('["mine"]', "not a list of weights"),
        ("[" * 100_000, "unreadable"),
    ],
)
def test_a_broken_manifest_entry_is_a_weights_error_naming_the_file(tmp_path, manifest, problem):
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(WeightsError, match=problem) as caught:
        list_weights([tmp_path])
    assert str(tmp_path / "manifest.json") in str(caught.value)


def test_weights_with_unreadable_model_args_or_tensors_are_refused(tmp_path):
    for name, payload in {
        "args.pt": {"format": FORMAT, "kind": "colornet", "model_args": [1], "state_dict": {}},
        "state.pt": {"format": FORMAT, "kind": "colornet", "model_args": {}, "state_dict": {"w": 3}},
    }.items():
        torch.save(payload, tmp_path / name)
        with pytest.raises(WeightsError, match=name):
            load_weights(tmp_path / name, kind="colornet")


@pytest.mark.parametrize(
    "model_args, problem",
    [({"width": 0.25}, "does not fit"), ({"width": 0.125, "sparkle": True}, "cannot build"), ({"width": "wide"}, "cannot build")],
)
def test_build_model_names_the_file_that_does_not_fit(tmp_path, model_args, problem):
    from core.weights import build_model

    record = save_weights(tmp_path / "mine.pt", "colornet", model_args, ColorNet(width=0.125).state_dict())
    data = load_weights(record.file, kind="colornet")
    with pytest.raises(WeightsError, match=problem) as caught:
        build_model(ColorNet, data, record.file)
    assert str(record.file) in str(caught.value) and "\n" not in str(caught.value)
