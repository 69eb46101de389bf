"""Training task of the colorization sub-net (Zhang et al. 2017's user-guided U-Net).

Options beyond the paper's recipe:

- ``transfer_hints``: a share of the samples get their hints sampled, as the app samples them at
  inference, from a trained transfer net's output (grey target, the crop itself as reference)
  instead of from the ground truth, so the sub-net learns to use imperfect transferred colours.
- ``global_fusion``: Iizuka et al. 2016's global prior. The frozen EfficientNet-Lite0's pooled
  descriptor of the grey input is projected into the bottleneck (``ColorNet(global_dim=1280)``).
  A fusion layer the starting weights lack begins at zero, so fine-tuning starts from the same output.
- ``spatial_fusion``: the same frozen pass's feature maps at strides 8, 16 and 32 enter the
  bottleneck too (``ColorNet(spatial_dims=...)``), so the net sees what is where in the photo.
- ``warp_hints``: a share of the samples with hints get, instead, the dense hints the app's soft warp
  gives for a related reference (``core.correspondence``): another random view of the same photo
  warped onto the crop by the grey content descriptors, its colours as hints at the warp's
  confidence. Without them the net meets dense, fractional hints only in the app; two GPU-trained
  nets that never saw them followed a related reference's warp to 17 and 22 dB (grey: 22.7).
- ``user_hints``: the user's hints get input channels of their own (``ColorNet(user_hints=True)``),
  trained on simulated user hints that pin true colours or recolour a region with a colour of any
  hue (training.hintsim.simulate_user_hints), read as the pipeline gives them: spread over the
  regions they claim, with a random reach (training.hintsim.user_hint_inputs). From starting
  weights without them, the new inputs' weights begin at zero. With ``claim_regions`` the claims
  also fill the lightness's regions as the app's do (about 12 ms more per user sample at 160 px).
- ``anchor``: the samples without user hints (automatic, sampled or warped hints) learn a fixed
  net's output (the weights fine-tuned from, say) instead of the truth, so that a fine-tune of
  the user's hints keeps what that net does without them (knowledge distillation, Hinton et al.
  2015, used as in Li & Hoiem 2016's *Learning without Forgetting*).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.color import lab_to_rgb, rgb_to_lab
from core.config import HINT_PATCH, TRANSFER_HINT_DENSITY, ColorizerConfig
from core.correspondence import reference_cells, soft_warp, warp_hints
from core.matching import descriptors_from, grey_rgb
from core.models import ColorNet, EfficientNetLite0Encoder
from core.weights import DEFAULT_DECODER, load_weights, save_weights
from training.data import CropSampler, PhotoCache, random_crops
from training.engine import TrainConfig, step_rng
from training.export import grown, transposed_weights
from training.hintsim import HintSimulation, UserHintSimulation, hints_from_ab, simulate_hints, simulate_user_hints, user_hint_inputs
from training.losses import ab_to_class, classification_loss, rebalancing_weights, weighted_huber


@dataclass
class ColorNetConfig(TrainConfig):
    width: float = 0.125  # channel multiplier (1.0 = siggraph17)
    hint_lambda: float = 10.0  # weight 1 + lambda on hinted pixels
    class_weight: float = 0.0  # > 0 adds the ab-bin cross-entropy from the side branch
    focal_gamma: float = 0.0  # > 0 makes that cross-entropy focal
    rebalance_mix: float = 0.5  # Zhang 2016 prior smoothing for class rebalancing
    no_hint_share: float = 0.2
    init_from: str = ""  # weights file to start from (fine-tuning)
    hint_fill: bool = True  # the net reads push-pull-filled hints (see ColorNet); False = siggraph17 input
    fill_residual: bool = True  # the head predicts a correction to the filled hints (needs hint_fill)
    global_fusion: bool = False  # fuse the EfficientNet-Lite0 global descriptor of the grey input
    spatial_fusion: bool = False  # also fuse its stride-8/16/32 feature maps (needs global_fusion)
    transfer_hints: float = 0.0  # share of samples whose hints come from a transfer net's output
    transfer_decoder: str = DEFAULT_DECODER  # decoder weights (name or file) for those hints
    transfer_hint_density: float = TRANSFER_HINT_DENSITY  # share of pixels sampled as hints, as the app samples them
    warp_hints: float = 0.0  # share of samples whose hints are the soft warp of another view of the photo
    user_hints: bool = False  # the user's hints get their own input channels (see ColorNet)
    user_share: float = 0.5  # of the samples with hints: those with user hints (user_hints only)
    recolour_share: float = 0.5  # of those: the user recolours a region with a new colour
    claim_regions: bool = False  # simulated claims also fill the lightness's regions, as the app's do
    anchor: str = ""  # weights file: samples without user hints learn its output instead of the truth


MATCH_SCALES = ColorizerConfig.match_scales  # the sizes the app describes a reference at
OTHER_PHOTO_SHARE = 1 / 3  # of the warp samples: another photo of the batch is the reference


@torch.no_grad()
def _automatic(model: nn.Module, L: torch.Tensor, semantics: dict[str, object], rows: torch.Tensor) -> torch.Tensor:
    """The net's own automatic colours (no hints) for ``rows`` of the batch, in eval mode."""
    picked = {k: v[rows] if isinstance(v, torch.Tensor) else tuple(m[rows] for m in v) for k, v in semantics.items()}
    was_training = model.training
    model.eval()
    try:
        return model(L[rows], **picked)
    finally:
        model.train(was_training)


def psnr_from_ab(L: torch.Tensor, pred_ab: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of the RGB rebuilt from true L and predicted ab."""
    rgb = lab_to_rgb(torch.cat((L, pred_ab), dim=1))
    mse = ((rgb - gt_rgb) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(1.0 / mse)


class ColorNetTask:
    name = "colornet"

    def __init__(self, config: ColorNetConfig) -> None:
        self.config = config
        self.sim = HintSimulation(no_hint_share=config.no_hint_share)
        self.user_sim = UserHintSimulation(user_share=config.user_share, recolour_share=config.recolour_share)
        self.class_weights: torch.Tensor | None = None
        self._global_encoder: EfficientNetLite0Encoder | None = None
        self._transfer: nn.Module | None = None
        self.cache: PhotoCache | None = None
        self._anchor: nn.Module | None = None

    @property
    def unused_parameters(self) -> bool:
        """The class head (model_class) takes no part in the loss unless the class loss is on."""
        return self.config.class_weight <= 0

    @property
    def global_dim(self) -> int:
        return EfficientNetLite0Encoder.global_dim if self.config.global_fusion else 0

    @property
    def spatial_dims(self) -> tuple[int, ...]:
        return EfficientNetLite0Encoder.spatial_dims if self.config.spatial_fusion else ()

    def model_args(self) -> dict:
        args = {
            "width": self.config.width,
            "global_dim": self.global_dim,
            "hint_fill": self.config.hint_fill,
            "fill_residual": self.config.fill_residual and self.config.hint_fill,
        }
        if self.config.spatial_fusion:
            args["spatial_dims"] = list(self.spatial_dims)
        if self.config.user_hints:
            args["user_hints"] = True
        return args

    def build_model(self) -> nn.Module:
        if self.config.spatial_fusion:
            self.config.global_fusion = True  # both come from one pass of the same encoder
        if self.config.init_from:
            data = load_weights(self.config.init_from, kind="colornet")
            args = dict(data["model_args"])
            if args.get("global_dim", 0):
                self.config.global_fusion = True
            if args.get("spatial_dims"):
                self.config.spatial_fusion = self.config.global_fusion = True
            self.config.hint_fill = bool(args.get("hint_fill", False))
            became_residual = self.config.fill_residual and self.config.hint_fill and not args.get("fill_residual", False)
            args["fill_residual"] = self.config.fill_residual and self.config.hint_fill
            args["global_dim"] = self.global_dim
            args.pop("spatial_dims", None)
            if self.config.spatial_fusion:
                args["spatial_dims"] = list(self.spatial_dims)
            if args.get("user_hints"):
                self.config.user_hints = True
            args["user_hints"] = self.config.user_hints
            # A wider net than the start (--width above its width) grows from it: the start's weights
            # in the leading channels, fresh units beside them that feed nothing old at first.
            args["width"] = max(float(args.get("width", 1.0)), self.config.width)
            model = ColorNet(**args)
            own = model.state_dict()
            transposed = transposed_weights(model)
            state = {}
            for key, value in data["state_dict"].items():
                # New user-hint inputs and new units start with zero weights into the old outputs,
                # so the output starts unchanged.
                if key in own and value.shape != own[key].shape:
                    try:
                        value = grown(value, own[key], transposed=key in transposed)
                    except ValueError as error:
                        raise ValueError(f"{self.config.init_from}: {key}: {error}") from None
                state[key] = value
            missing, unexpected = model.load_state_dict(state, strict=False)
            new_parts = ("global_fusion.", "spatial_fusion.", "spatial_mix.")
            if unexpected or any(not key.startswith(new_parts) for key in missing):
                raise ValueError(f"{self.config.init_from} does not match ColorNet({args})")
            if any(key.startswith("global_fusion.") for key in missing):
                _zero_last_layer(model.global_fusion)
            if any(key.startswith("spatial_mix.") for key in missing):
                _zero_last_layer(model.spatial_mix)
            if became_residual:
                # Switching to a residual head: start it at zero so the output begins at the
                # filled hints (grey without hints) instead of adding the old prediction twice.
                torch.nn.init.zeros_(model.model_out[0].weight)
                torch.nn.init.zeros_(model.model_out[0].bias)
            self.config.width = model.width
        elif self.config.global_fusion:
            model = ColorNet(**self.model_args())
            _zero_last_layer(model.global_fusion)
            if self.config.spatial_fusion:
                _zero_last_layer(model.spatial_mix)
        else:
            model = ColorNet(**self.model_args())
        return model.to(memory_format=torch.channels_last)

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def prepare(self, cache: PhotoCache) -> None:
        """Called once the photo cache exists: the class loss needs the library's ab prior, the
        warp hints other views of the photos."""
        self.cache = cache
        if self.config.class_weight > 0 and self.config.rebalance_mix < 1.0:
            self.class_weights = self.class_rebalancing(cache.images)

    def class_rebalancing(self, images: np.ndarray) -> torch.Tensor:
        """Empirical ab prior of (a sample of) the library, turned into rebalancing weights."""
        picks = images[:: max(len(images) // 500, 1)][:500]
        rgb = torch.from_numpy(np.ascontiguousarray(picks[:, ::4, ::4])).permute(0, 3, 1, 2).float() / 255
        counts = torch.bincount(ab_to_class(rgb_to_lab(rgb)[:, 1:]).flatten(), minlength=529).float()
        return rebalancing_weights(counts / counts.sum(), self.config.rebalance_mix)

    def loss(self, model: nn.Module, batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        device = next(model.parameters()).device
        hint_ab, mask = simulate_hints(batch.ab, self.sim, step_rng(cfg.seed, step, 11))
        L, gt_ab = batch.L.to(device), batch.ab.to(device)
        if cfg.user_hints:
            user_rng = step_rng(cfg.seed, step, 17)
            target, hint_ab, mask, user_ab, user_mask = simulate_user_hints(batch.lab, hint_ab, mask, self.sim, self.user_sim, user_rng)
            gt_ab = target.to(device)
            colour, claim = user_hint_inputs(batch.L, user_ab, user_mask, user_rng, regions=cfg.claim_regions)
            extra_hints = {"user_ab": colour.to(device), "user_mask": claim.to(device)}
            pinned = user_mask.to(device)
        else:
            extra_hints = {}
        hint_ab, mask = hint_ab.to(device), mask.to(device)
        if cfg.transfer_hints > 0:
            hint_ab, mask = self._with_transfer_hints(batch, hint_ab, mask, step_rng(cfg.seed, step, 13))
        semantics = self.semantics(model, L)
        warped = np.zeros(0, dtype=int)
        if cfg.warp_hints > 0:  # among the samples with hints (the automatic share stays), not the user's
            drawn = step_rng(cfg.seed, step, 19).random(len(batch.indices)) < cfg.warp_hints
            hinted = mask.flatten(1).amax(1).cpu().numpy() > 0
            if extra_hints:
                hinted &= extra_hints["user_mask"].flatten(1).amax(1).cpu().numpy() == 0
            warped = np.flatnonzero(drawn & hinted)
            automatic = partial(_automatic, getattr(model, "module", model), L, semantics)
            hint_ab, mask = self._with_warp_hints(batch, warped, hint_ab, mask, step_rng(cfg.seed, step, 23), automatic)
        extra = {**semantics, **extra_hints}
        if cfg.anchor:
            gt_ab = self._anchored(gt_ab, L, hint_ab, mask, semantics, extra_hints.get("user_mask"))
        with_logits = cfg.class_weight > 0
        if with_logits:
            pred, logits = model(L, hint_ab, mask, with_logits=True, **extra)
        else:
            pred = model(L, hint_ab, mask, **extra)
        weighted = torch.maximum(mask, pinned) if extra_hints else mask
        if len(warped):  # dense warp hints are a guess, not a pinned colour: those samples weigh as the automatic ones
            weighted = weighted.clone()
            weighted[torch.from_numpy(warped).to(device)] = 0.0
        reg = weighted_huber(pred.float(), gt_ab, weighted, cfg.hint_lambda)
        parts = {"huber": float(reg.detach())}
        total = reg
        if with_logits:
            ce = classification_loss(logits.float(), gt_ab, self.class_weights, cfg.focal_gamma)
            parts["ce"] = float(ce.detach())
            total = total + cfg.class_weight * ce
        return total, parts

    def validate(self, model: nn.Module, sampler: CropSampler) -> dict[str, float]:
        device = next(model.parameters()).device
        scores: dict[str, list[float]] = {"psnr_auto": [], "psnr_hints": []}
        sim = HintSimulation(no_hint_share=0.0, dense_share=1.0)
        for position in range(min(sampler.batches_per_epoch, 8)):
            batch = sampler.batch(0, position)
            L, rgb = batch.L.to(device), batch.rgb.to(device)
            extra = self.semantics(model, L)
            auto = model(L, **extra)
            scores["psnr_auto"] += psnr_from_ab(L, auto, rgb).tolist()
            hint_ab, mask = simulate_hints(batch.ab, sim, np.random.default_rng([position, 5]))
            hinted = model(L, hint_ab.to(device), mask.to(device), **extra)
            scores["psnr_hints"] += psnr_from_ab(L, hinted, rgb).tolist()
            if self.config.warp_hints > 0 and self.cache is not None:  # another view's warp, as a related reference gives it
                everyone = np.arange(len(batch.indices))
                warp_ab, warp_mask = self._with_warp_hints(batch, everyone, hint_ab.to(device), mask.to(device), np.random.default_rng([position, 9]))
                warped = model(L, warp_ab.to(device), warp_mask.to(device), **extra)
                scores.setdefault("psnr_warp", []).extend(psnr_from_ab(L, warped, rgb).tolist())
            if getattr(model, "module", model).user_hints:  # the same hints, given as the user's
                colour, claim = user_hint_inputs(
                    batch.L, hint_ab, mask, np.random.default_rng([position, 7]), (0.5, 0.5), regions=self.config.claim_regions
                )
                pinned = model(L, user_ab=colour.to(device), user_mask=claim.to(device), **extra)
                scores.setdefault("psnr_user", []).extend(psnr_from_ab(L, pinned, rgb).tolist())
        return {k: float(np.mean(v)) for k, v in scores.items()}

    @torch.no_grad()
    def _anchored(
        self, target: torch.Tensor, L: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor, semantics: dict[str, object], user_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``target`` with the samples that have no user hints replaced by the anchor net's output."""
        free = torch.ones(len(L), dtype=torch.bool, device=L.device) if user_mask is None else user_mask.flatten(1).amax(1) == 0
        if not bool(free.any()):
            return target
        if self._anchor is None:
            from training.pretrained import load_colornet

            self._anchor = load_colornet(self.config.anchor)
        anchor = self._anchor.to(L.device)
        theirs = {k: v[free] if torch.is_tensor(v) else tuple(m[free] for m in v) for k, v in semantics.items()}
        target = target.clone()
        target[free] = anchor(L[free], hint_ab[free], mask[free], **theirs).float()
        return target

    @torch.no_grad()
    def semantics(self, model: nn.Module, L: torch.Tensor) -> dict[str, object]:
        """What the frozen EfficientNet-Lite0 makes of the grey image L, as ``model``'s keyword
        arguments (``ColorNet.fusion_inputs``): {} for a net without fusion."""
        net = getattr(model, "module", model)  # under DistributedDataParallel
        if net.global_dim <= 0:
            return {}
        grey = grey_rgb(L)
        _, pooled, maps = self._encoder(L.device).semantics(grey)
        return net.fusion_inputs(pooled.float(), tuple(m.float() for m in maps))

    def _encoder(self, device: torch.device) -> EfficientNetLite0Encoder:
        """The frozen EfficientNet-Lite0 (the fusion's and the app's correspondence encoder) on ``device``."""
        if self._global_encoder is None:
            from training.pretrained import build_encoder

            self._global_encoder = build_encoder("efficientnet_lite0")
        if self._global_encoder._mean.device != device:
            self._global_encoder.to(device)
        return self._global_encoder

    @torch.no_grad()
    def _with_warp_hints(
        self,
        batch,
        chosen: np.ndarray,
        hint_ab: torch.Tensor,
        mask: torch.Tensor,
        rng: np.random.Generator,
        automatic: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``chosen`` samples' hints replaced by the dense hints a reference gives in the app
        (core.pipeline.warped_hints at full blend, less the transfer's sampled hints). The reference
        is another random crop of the same photo (mirrored half the time, exposure within 15 %) or,
        for ``OTHER_PHOTO_SHARE`` of the samples when ``automatic`` is given, another photo of the
        batch. It is described at the app's matching scales and mirrored at its own size, warped onto
        the crop by the grey content descriptors (core.correspondence.soft_warp, in float32 as in the
        app), and its colours become hints at the warp's confidence, none where it is too low; for a
        reference that only resembles the crop they move ``Warp.strength`` of the way from the net's
        own automatic colours (``automatic(rows)``), as in the app. So the net learns how far to
        trust a warp from its real mistakes, instead of meeting dense fractional hints only in the app."""
        if len(chosen) == 0 or self.cache is None:
            return hint_ab, mask
        device = hint_ab.device
        count = len(chosen)
        indices = np.asarray(batch.indices)[chosen]
        others = rng.random(count) < (OTHER_PHOTO_SHARE if automatic is not None and len(batch.indices) > 1 else 0.0)
        for j in np.flatnonzero(others).tolist():  # another photo of the batch
            candidates = [k for k in range(len(batch.indices)) if batch.indices[k] != indices[j]]
            if candidates:
                indices[j] = batch.indices[candidates[int(rng.integers(len(candidates)))]]
        views = random_crops(self.cache, indices, self.config.crop, rng)
        exposure = torch.from_numpy(rng.uniform(0.85, 1.15, size=(count, 1, 1, 1))).float()
        views = (views * exposure).clamp(0, 1).to(device)
        L = batch.L[torch.from_numpy(chosen)].to(device)
        hint_ab, mask = hint_ab.clone(), mask.clone()
        with torch.autocast(device.type, enabled=False):
            encoder = self._encoder(device)
            target = descriptors_from(encoder, encoder(grey_rgb(L))).float()
            described = []  # per scale: (descriptors (count, C, h, w), ab (count, 2, H, W))
            for scale in MATCH_SCALES:
                size = max(round(self.config.crop * scale), 16)
                scaled = views if size == views.shape[-1] else F.interpolate(views, size=(size, size), mode="bilinear", align_corners=False, antialias=scale < 1)
                lab = rgb_to_lab(scaled.clamp(0, 1))
                grey = lab[:, :1]
                mirrored = scale == 1.0
                d = descriptors_from(encoder, encoder(grey_rgb(torch.cat((grey, grey.flip(-1))) if mirrored else grey))).float()
                described.append((d[:count], lab[:, 1:]))
                if mirrored:
                    described.append((d[count:], lab[:, 1:].flip(-1)))
            mixed = None
            for j, i in enumerate(chosen.tolist()):
                cells = reference_cells([(d[j : j + 1], ab[j]) for d, ab in described])
                warp = soft_warp(target[j : j + 1], cells)
                warped_ab, warped_mask = warp_hints(warp, tuple(L.shape[2:]))
                if warp.strength < 1.0 and automatic is not None:  # a reference that only resembles the crop
                    if mixed is None:
                        mixed = automatic(torch.from_numpy(chosen).to(device)).float()
                    warped_ab = warp.strength * warped_ab + (1 - warp.strength) * mixed[j] * (warped_mask > 0)
                hint_ab[i], mask[i] = warped_ab.to(hint_ab.dtype), warped_mask.to(mask.dtype)
        return hint_ab, mask

    @torch.no_grad()
    def _with_transfer_hints(
        self, batch, hint_ab: torch.Tensor, mask: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace the simulated hints of a random share of the samples by hints sampled from the
        transfer net's colours for them (grey target, the crop itself as the reference)."""
        chosen = np.flatnonzero(rng.random(len(batch.indices)) < self.config.transfer_hints)
        if len(chosen) == 0:
            return hint_ab, mask
        device = hint_ab.device
        if self._transfer is None:
            from training.pretrained import load_transfer_net

            self._transfer = load_transfer_net(self.config.transfer_decoder)
        transfer = self._transfer.to(device)
        index = torch.from_numpy(chosen).to(device)
        L, rgb = batch.L.to(device)[index], batch.rgb.to(device)[index]
        grey = grey_rgb(L)
        stats = transfer.reference_stats(transfer.encode(rgb))
        out = transfer.decode(transfer.encode(grey), tuple(L.shape[2:]), stats, alpha=1.0).float()
        ab = rgb_to_lab(out.clamp(0, 1))[:, 1:]
        sampled_ab, sampled_mask = hints_from_ab(ab.cpu(), L.cpu(), self.config.transfer_hint_density, HINT_PATCH, rng)
        hint_ab, mask = hint_ab.clone(), mask.clone()
        hint_ab[index], mask[index] = sampled_ab.to(device), sampled_mask.to(device)
        return hint_ab, mask

    def export(self, model: nn.Module, path: Path, metadata: dict) -> Path:
        save_weights(path, "colornet", self.model_args(), model.state_dict(), metadata)
        return path



def _zero_last_layer(block: nn.Sequential) -> None:
    """A new fusion branch that adds exactly zero until it has learnt something."""
    last = block[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
