"""Frozen networks a training task borrows: the ImageNet encoders, and trained sub-nets used to
prepare inputs (a colornet for pre-colorization, a transfer net for hints). None of them is trained
here, so none of them is part of a task's checkpoint. They are loaded by core.networks, as the app
loads them."""

from __future__ import annotations

from pathlib import Path

from core.config import ENCODERS
from core.models import ColorNet, Encoder, TransferDecoder, TransferNet
from core.networks import load_colornet as load_colornet_weights
from core.networks import load_encoder, weights_source
from core.weights import WeightsError, load_weights, vgg19_weights_path

__all__ = ["ENCODERS", "build_encoder", "load_colornet", "load_transfer_net"]


def build_encoder(name: str, vgg_weights: str | Path = "") -> Encoder:
    """A frozen ImageNet encoder with its weights; raises WeightsError with what to do if they are missing."""
    path = Path(vgg_weights) if vgg_weights else vgg19_weights_path()
    if name == "vgg19" and not path.is_file():
        raise WeightsError(
            f"The VGG19 encoder needs torchvision's ImageNet weights file, which is not at {path}. "
            "Download 'vgg19-dcbb9e9d.pth' (torchvision's VGG19 weights) and pass --vgg-weights PATH, "
            "or use --encoder efficientnet_lite0."
        )
    return load_encoder(name, vgg_weights=vgg_weights).freeze()


def load_colornet(name_or_path: str) -> ColorNet:
    """A trained colorization sub-net (registry name or weights file), frozen, in eval mode."""
    model, _ = load_colornet_weights(name_or_path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def load_transfer_net(decoder: str, vgg_weights: str | Path = "") -> TransferNet:
    """Encoder + trained decoder (registry name or weights file) as a frozen TransferNet."""
    data = load_weights(weights_source(decoder), kind="decoder")
    args = dict(data["model_args"])
    encoder = build_encoder(args.pop("encoder", "efficientnet_lite0"), vgg_weights)
    net = TransferDecoder(encoder.taps, **args)
    net.load_state_dict(data["state_dict"])
    transfer = TransferNet(encoder, net)
    for p in transfer.parameters():
        p.requires_grad_(False)
    return transfer.eval()
