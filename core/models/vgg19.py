"""VGG19 up to relu4_1, the paper's encoder, with max-pooling replaced by average pooling.

The layer list is data; module indices equal torchvision's ``vgg19().features`` so that its published
ImageNet weights file (``vgg19-dcbb9e9d.pth``) loads directly.
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.encoder import Encoder, Tap

# torchvision's configuration "E", cut after conv4_1. "P" = pooling (average here, max there).
_LAYERS = (64, 64, "P", 128, 128, "P", 256, 256, 256, 256, "P", 512)
_TAP_NAMES = {1: "relu1_1", 6: "relu2_1", 11: "relu3_1", 20: "relu4_1"}


def _build(layers) -> nn.Sequential:
    modules: list[nn.Module] = []
    in_ch = 3
    for item in layers:
        if item == "P":
            modules.append(nn.AvgPool2d(2, 2))
        else:
            modules += [nn.Conv2d(in_ch, item, 3, padding=1), nn.ReLU(inplace=False)]
            in_ch = item
    return nn.Sequential(*modules)


class VGG19Encoder(Encoder):
    name = "vgg19"
    taps = (
        Tap("relu1_1", 64, 1),
        Tap("relu2_1", 128, 2),
        Tap("relu3_1", 256, 4),
        Tap("relu4_1", 512, 8),
    )

    def __init__(self) -> None:
        super().__init__()
        self.features = _build(_LAYERS)

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in _TAP_NAMES:
                out[_TAP_NAMES[index]] = x
        return out

    def load_torchvision_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Take the ``features.N.*`` entries this encoder uses from a torchvision vgg19 state dict."""
        own = self.state_dict()
        picked = {k: v for k, v in state_dict.items() if k in own}
        missing = sorted(set(own) - set(picked))
        if missing:
            raise ValueError(f"the VGG19 weights file lacks {', '.join(missing[:4])}: is it torchvision's vgg19?")
        for key, value in picked.items():
            if tuple(value.shape) != tuple(own[key].shape):
                raise ValueError(f"VGG19 weight {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
        self.load_state_dict(picked)
