"""Training task of the colorization sub-net (Zhang et al. 2017's user-guided U-Net)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.models import ColorNet
from core.weights import load_weights, save_weights
from core.color import lab_to_rgb, rgb_to_lab
from training.data import CropSampler, PhotoCache
from training.engine import TrainConfig
from training.hintsim import HintSimulation, simulate_hints
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
        self.class_weights: torch.Tensor | None = None

    def model_args(self) -> dict:
        return {"width": self.config.width, "global_dim": 0}

    def build_model(self) -> nn.Module:
        if self.config.init_from:
            data = load_weights(self.config.init_from, kind="colornet")
            model = ColorNet(**data["model_args"])
            model.load_state_dict(data["state_dict"])
            self.config.width = model.width
        else:
            model = ColorNet(width=self.config.width)
        return model.to(memory_format=torch.channels_last)

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def prepare(self, cache: PhotoCache) -> None:
        """Called once the photo cache exists: the class loss needs the library's ab prior."""
        if self.config.class_weight > 0 and self.config.rebalance_mix < 1.0:
            self.class_weights = self.class_rebalancing(cache.images)

    def class_rebalancing(self, images: np.ndarray) -> torch.Tensor:
        """Empirical ab prior of (a sample of) the library, turned into rebalancing weights."""
        picks = images[:: max(len(sampler_images) // 500, 1)][:500]
        rgb = torch.from_numpy(np.ascontiguousarray(picks[:, ::4, ::4])).permute(0, 3, 1, 2).float() / 255
        counts = torch.bincount(ab_to_class(rgb_to_lab(rgb)[:, 1:]).flatten(), minlength=529).float()
        return rebalancing_weights(counts / counts.sum(), self.config.rebalance_mix)

    def loss(self, model: nn.Module, batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        device = next(model.parameters()).device
        rng = np.random.default_rng([cfg.seed, step, 11])
        hint_ab, mask = simulate_hints(batch.ab, self.sim, rng)
        L, gt_ab = batch.L.to(device), batch.ab.to(device)
        hint_ab, mask = hint_ab.to(device), mask.to(device)
        with_logits = cfg.class_weight > 0
        if with_logits:
            pred, logits = model(L, hint_ab, mask, with_logits=True)
        else:
            pred = model(L, hint_ab, mask)
        reg = weighted_huber(pred.float(), gt_ab, mask, cfg.hint_lambda)
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
            auto = model(L)
            scores["psnr_auto"] += psnr_from_ab(L, auto, rgb).tolist()
            hint_ab, mask = simulate_hints(batch.ab, sim, np.random.default_rng([position, 5]))
            hinted = model(L, hint_ab.to(device), mask.to(device))
            scores["psnr_hints"] += psnr_from_ab(L, hinted, rgb).tolist()
        return {k: float(np.mean(v)) for k, v in scores.items()}

    def export(self, model: nn.Module, path: Path, metadata: dict) -> Path:
        save_weights(path, "colornet", self.model_args(), model.state_dict(), metadata)
        return path

