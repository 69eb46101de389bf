"""The colorization sub-net: Zhang et al. 2017's user-guided U-Net ("siggraph17") with a width knob.

Input: L, sparse ab hints and their mask; output: ab (tanh head) and, from the conv8 features, logits
over the 529 quantised ab bins (the classification side branch). At ``width=1.0`` the state-dict keys
and shapes equal the published siggraph17 generator's, so those weights load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.color import normalize_ab, normalize_l, unnormalize_ab
from core.hints import push_pull_fill
from core.models.precision import reduced_precision

NUM_AB_CLASSES = 529
USER_INPUTS = 7  # L, hint ab, hint mask, user ab, user claim

# (name, input channels, output channels per conv, dilation): the ten-block layout at width 1.0.
_ENCODER_BLOCKS = (
    ("model1", 4, (64, 64), 1),
    ("model2", 64, (128, 128), 1),
    ("model3", 128, (256, 256, 256), 1),
    ("model4", 256, (512, 512, 512), 1),
    ("model5", 512, (512, 512, 512), 2),
    ("model6", 512, (512, 512, 512), 2),
    ("model7", 512, (512, 512, 512), 1),
)


def _block(in_ch: int, widths: tuple[int, ...], dilation: int = 1, init_relu: bool = False) -> nn.Sequential:
    """conv-ReLU repeated, then BatchNorm: the layer order (and so the key indices) of siggraph17."""
    layers: list[nn.Module] = [nn.ReLU(True)] if init_relu else []
    for out_ch in widths:
        layers += [nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation), nn.ReLU(True)]
        in_ch = out_ch
    layers.append(nn.BatchNorm2d(in_ch))
    return nn.Sequential(*layers)


class ColorNet(nn.Module):
    """L + hints -> ab. ``width`` scales every layer's channels (1.0 = siggraph17).

    ``global_dim`` > 0 adds a fusion layer (Iizuka et al. 2016) that projects a global image
    descriptor (e.g. the encoder's pooled ImageNet features) into the bottleneck.

    ``spatial_dims`` (channels of feature maps at strides 8, 16 and 32, e.g. the frozen encoder's
    maps of the grey photo) adds spatial fusion: each map is projected, resized to the bottleneck's
    grid and summed there, so the net knows *what* is where, not only what the photo is about
    (the mid-level features of Iizuka et al. 2016). Its last layer starts at zero.

    ``hint_fill`` spreads the sparse hints over the image (push-pull) before the network reads them:
    the ab input is then a dense first guess and the mask still marks the true hints. Narrow,
    CPU-trained nets learn to refine a dense guess along the L edges far faster than to propagate
    isolated points across the whole image. It changes no weight shape; siggraph17's published
    weights expect ``hint_fill=False``.

    ``fill_residual`` (with ``hint_fill``) makes the head predict a correction added to the filled
    hints, so an untrained head already reproduces the interpolated hints (and grey without hints).

    ``user_hints`` adds three input channels for the user's own hints, apart from the hints the
    pipeline samples from the references, so the net can tell the user's intent from its own guesses
    (trained to obey a user's colour inside its region, even one that contradicts the photo, and to
    leave the rest alone). They arrive already spread over the regions they claim
    (core.user_edit.user_hint_planes): the colour, and the claim in [0, 1]. The head's base stays
    the filled sampled hints. (Making the claimed colour the base under the claim was tried: where a
    claim spilled past its region the net learnt to add the filled hints back, and then doubled
    the colours of dense reference hints.)
    """

    inference_dtype: tuple[str, torch.dtype] | None = None  # core.models.precision: set for inference

    def __init__(
        self,
        width: float = 1.0,
        global_dim: int = 0,
        hint_fill: bool = False,
        fill_residual: bool = False,
        classes: int = NUM_AB_CLASSES,
        spatial_dims: tuple[int, ...] | list[int] = (),
        user_hints: bool = False,
    ):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if spatial_dims and global_dim <= 0:
            raise ValueError("spatial fusion reads the maps of the global-fusion pass: give global_dim too")
        self.width = width
        self.global_dim = global_dim
        self.spatial_dims = tuple(int(d) for d in spatial_dims)
        self.hint_fill = hint_fill
        self.fill_residual = fill_residual and hint_fill
        self.user_hints = bool(user_hints)

        def ch(n: int) -> int:
            return max(8, int(round(n * width)))

        c64, c128, c256, c512 = ch(64), ch(128), ch(256), ch(512)
        scaled = {64: c64, 128: c128, 256: c256, 512: c512, 4: USER_INPUTS if user_hints else 4}
        for name, in_ch, widths, dilation in _ENCODER_BLOCKS:
            setattr(self, name, _block(scaled[in_ch], tuple(scaled[w] for w in widths), dilation))
        self.model8up = nn.Sequential(nn.ConvTranspose2d(c512, c256, 4, stride=2, padding=1))
        self.model3short8 = nn.Sequential(nn.Conv2d(c256, c256, 3, padding=1))
        self.model8 = _block(c256, (c256, c256), init_relu=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(c256, c128, 4, stride=2, padding=1))
        self.model2short9 = nn.Sequential(nn.Conv2d(c128, c128, 3, padding=1))
        self.model9 = _block(c128, (c128,), init_relu=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(c128, c128, 4, stride=2, padding=1))
        self.model1short10 = nn.Sequential(nn.Conv2d(c64, c128, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c128, c128, 3, padding=1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(c256, classes, 1))
        self.model_out = nn.Sequential(nn.Conv2d(c128, 2, 1), nn.Tanh())
        if global_dim > 0:
            self.global_fusion = nn.Sequential(nn.Linear(global_dim, c512), nn.ReLU(True), nn.Linear(c512, c512))
        if self.spatial_dims:
            self.spatial_fusion = nn.ModuleList(nn.Conv2d(d, c512, 1) for d in self.spatial_dims)
            self.spatial_mix = nn.Sequential(nn.ReLU(True), nn.Conv2d(c512, c512, 3, padding=1))

    @reduced_precision
    def forward(
        self,
        L: torch.Tensor,
        hint_ab: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
        global_features: torch.Tensor | None = None,
        with_logits: bool = False,
        spatial_features: tuple[torch.Tensor, ...] | None = None,
        user_ab: torch.Tensor | None = None,
        user_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """L (N, 1, H, W) in [0, 100]; hint ab (N, 2, H, W) in Lab units; mask (N, 1, H, W) -> ab.

        With ``with_logits`` it returns (ab, logits over the 529 ab bins at 1/4 resolution).
        ``spatial_features``: the maps a net with ``spatial_dims`` fuses, one per entry.
        ``user_ab``/``user_mask``: for a net with ``user_hints``, the user's hints as
        core.user_edit.user_hint_planes gives them: their colour spread over their claims (N, 2, H, W)
        and the claim (N, 1, H, W) in [0, 1] (none given: no user hints); a net without them refuses
        user hints.
        """
        if L.dim() != 4 or L.shape[1] != 1:
            raise ValueError(f"L must be shaped (N, 1, H, W), got {tuple(L.shape)}")
        n, _, h, w = L.shape
        if hint_ab is None:
            hint_ab = L.new_zeros(n, 2, h, w)
        if hint_mask is None:
            hint_mask = L.new_zeros(n, 1, h, w)
        elif self.hint_fill:
            hint_ab = push_pull_fill(hint_ab, hint_mask)
        base = hint_ab
        planes = [normalize_l(L), normalize_ab(hint_ab), hint_mask]
        if self.user_hints:
            if user_mask is None or not bool(user_mask.any()):
                planes += [L.new_zeros(n, 3, h, w)]
            else:
                planes += [normalize_ab(user_ab * user_mask), user_mask]
        elif user_mask is not None and bool(user_mask.any()):
            raise ValueError("this ColorNet has no user-hint input: pass the user's hints as hints")
        x = torch.cat(planes, dim=1)
        # The U-Net halves the size three times: pad to a multiple of 8, crop at the end.
        pad_h, pad_w = (-h) % 8, (-w) % 8
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        if self.model1[0].weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)  # much faster convolutions on CPU

        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        conv4 = self.model4(conv3[:, :, ::2, ::2])
        conv5 = self.model5(conv4)
        if self.global_dim > 0:
            if global_features is None:
                raise ValueError("this ColorNet fuses global features: pass global_features")
            conv5 = conv5 + self.global_fusion(global_features)[:, :, None, None]
        if self.spatial_dims:
            conv5 = conv5 + self._spatial(spatial_features, conv5)
        conv6 = self.model6(conv5)
        conv7 = self.model7(conv6)
        conv8 = self.model8(self.model8up(conv7) + self.model3short8(conv3))
        conv9 = self.model9(self.model9up(conv8) + self.model2short9(conv2))
        conv10 = self.model10(self.model10up(conv9) + self.model1short10(conv1))
        ab = unnormalize_ab(self.model_out(conv10))[:, :, :h, :w]
        if self.fill_residual:
            ab = ab + base
        if with_logits:
            return ab, self.model_class(conv8)
        return ab

    def fusion_inputs(self, pooled: torch.Tensor, maps: tuple[torch.Tensor, ...]) -> dict[str, object]:
        """The keyword arguments this net's fusion reads, from one encoder pass's pooled descriptor
        and stride-8/16/32 maps (``EfficientNetLite0Encoder.semantics``): {} without fusion."""
        if self.global_dim <= 0:
            return {}
        inputs: dict[str, object] = {"global_features": pooled}
        if self.spatial_dims:
            inputs["spatial_features"] = tuple(maps)
        return inputs

    def _spatial(self, maps: tuple[torch.Tensor, ...] | None, like: torch.Tensor) -> torch.Tensor:
        """The spatial maps projected and summed on the bottleneck's grid (``like``)."""
        if maps is None or len(maps) != len(self.spatial_dims):
            raise ValueError(f"this ColorNet fuses {len(self.spatial_dims)} spatial feature maps: pass spatial_features")
        size = like.shape[2:]
        total = like.new_zeros(())
        for project, features in zip(self.spatial_fusion, maps):
            projected = project(features.to(like.dtype))
            if projected.shape[2:] != size:
                projected = F.interpolate(projected, size=size, mode="bilinear", align_corners=False)
            total = total + projected
        return self.spatial_mix(total)

    def model_args(self) -> dict:
        args = {
            "width": self.width,
            "global_dim": self.global_dim,
            "hint_fill": self.hint_fill,
            "fill_residual": self.fill_residual,
        }
        if self.spatial_dims:
            args["spatial_dims"] = list(self.spatial_dims)
        if self.user_hints:
            args["user_hints"] = True
        return args
