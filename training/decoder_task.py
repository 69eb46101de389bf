"""Training task of the transfer sub-net's decoder (the encoder is a frozen ImageNet network).

The decoder has to learn to take colour from the AdaIN statistics of a reference, so each sample is
built from one photo twice:

    target     the crop with its colour removed, weakened or made wrong: grey (L only), desaturated
               by a random factor, hue-rotated by a random angle and desaturated (``jitter``,
               default), or pre-colorized by a trained colornet as the app does
    reference  another random crop (and flip) of the same photo: same colours, other content
    truth      the crop in its true colours

    output = decode(encode(target), AdaIN statistics of encode(reference), alpha = 1)
    loss   = 0.8 * MSE(output, truth) + 0.2 * perceptual
    perceptual = per encoder tap: MSE(features(output), features(truth))
                                  + style_weight * MSE(Gram(features(output)), Gram(features(reference)))
                 each term divided by the truth's (the reference Gram's) mean square unless
                 ``absolute_perceptual``; the level weights are averaged

Only the ab of the decoder's output is used downstream; ``ab_weight`` > 0 adds an MSE on normalised
ab for that reason (off by default: the loss above is the paper's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.color import lab_to_rgb, normalize_ab, rgb_to_lab
from core.models import TransferDecoder, TransferNet
from core.weights import save_weights
from training.colornet_task import psnr_from_ab
from training.data import Batch, CropSampler, PhotoCache, random_crops
from training.engine import TrainConfig, step_rng
from training.losses import decoder_loss, perceptual_loss
from training.pretrained import ENCODERS, build_encoder, load_colornet

TARGET_INPUTS = ("gray", "desaturate", "jitter", "colornet")


@dataclass
class DecoderConfig(TrainConfig):
    out: str = "runs/decoder"
    encoder: str = "efficientnet_lite0"  # efficientnet_lite0 (bundled) | vgg19 (needs --vgg-weights)
    vgg_weights: str = ""  # torchvision's vgg19-dcbb9e9d.pth; default: the user weights folder
    min_channels: int = 32  # narrowest decoder stage
    target: str = "jitter"  # target input: gray | desaturate | jitter | colornet
    max_saturation: float = 0.5  # desaturate / jitter: chroma kept is uniform in [0, max_saturation]
    colornet: str = ""  # colornet weights (name or file) that pre-colorize the target; implies --target colornet
    style_weight: float = 1.0  # Gram style term relative to the content term, per level
    level_weights: str = "1,1,1,1"  # perceptual weight of each encoder tap, shallow to deep
    absolute_perceptual: bool = False  # raw feature errors instead of errors relative to the features' energy
    ab_weight: float = 0.0  # > 0 adds MSE on the output's normalised ab

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{self.encoder}'; choose one of {', '.join(ENCODERS)}")
        if self.colornet:
            self.target = "colornet"
        if self.target not in TARGET_INPUTS:
            raise ValueError(f"unknown target input '{self.target}'; choose one of {', '.join(TARGET_INPUTS)}")
        if self.target == "colornet" and not self.colornet:
            raise ValueError("--target colornet needs the colornet weights: pass --colornet NAME_OR_FILE")
        if not 0.0 <= self.max_saturation <= 1.0:
            raise ValueError(f"max saturation must be in [0, 1], got {self.max_saturation}")
        parse_level_weights(self.level_weights)


def parse_level_weights(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"level weights must be comma-separated numbers, got '{text}'") from None
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"level weights must be non-negative and not all zero, got '{text}'")
    return weights


class DecoderTraining(nn.Module):
    """The transfer net and one training forward pass: only the decoder's part carries gradients."""

    def __init__(self, transfer: TransferNet) -> None:
        super().__init__()
        self.transfer = transfer

    def forward(
        self, target_rgb: torch.Tensor, reference_rgb: torch.Tensor, truth_rgb: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """-> (output RGB, its encoder features, the truth's, the reference's)."""
        net = self.transfer
        with torch.no_grad():
            target_feats = net.encode(target_rgb)
            reference_feats = net.encode(reference_rgb)
            stats = net.reference_stats(reference_feats)
            truth_feats = net.encode(truth_rgb)
        output = net.decode(target_feats, tuple(target_rgb.shape[2:]), stats, alpha=1.0)
        return output, net.encode(output), truth_feats, reference_feats


class DecoderTask:
    name = "decoder"
    unused_parameters = False  # every decoder parameter takes part in every step

    def __init__(self, config: DecoderConfig) -> None:
        self.config = config
        self.level_weights = parse_level_weights(config.level_weights)
        self.cache: PhotoCache | None = None
        self._colornet: nn.Module | None = None

    def model_args(self) -> dict:
        return {"encoder": self.config.encoder, "min_channels": self.config.min_channels}

    def build_model(self) -> nn.Module:
        encoder = build_encoder(self.config.encoder, self.config.vgg_weights)
        if len(self.level_weights) != len(encoder.taps):
            raise ValueError(f"{self.config.encoder} has {len(encoder.taps)} taps; give as many level weights")
        decoder = TransferDecoder(encoder.taps, min_channels=self.config.min_channels)
        return DecoderTraining(TransferNet(encoder, decoder))

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.transfer.decoder.parameters())

    def prepare(self, cache: PhotoCache) -> None:
        """References are other crops of the same cached photos."""
        self.cache = cache
        if self.config.target == "colornet" and self._colornet is None:
            self._colornet = load_colornet(self.config.colornet)

    # -- samples --------------------------------------------------------------------------------
    @torch.no_grad()
    def target_input(
        self, L: torch.Tensor, ab: torch.Tensor, saturation: torch.Tensor | None, hue: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The colourless, colour-weakened or wrongly coloured version of a crop that the decoder starts from.

        A pre-colorization at inference has plausible but often wrong colours; hue-rotated targets
        (``jitter``) teach the decoder to take colour from the reference's statistics instead of
        trusting the target's, which desaturated or pre-colorized training photos do not.
        """
        if self.config.target == "colornet":
            if next(self._colornet.parameters()).device != L.device:
                self._colornet.to(L.device)
            ab = self._colornet(L).float()
        elif saturation is None or self.config.target == "gray":
            ab = torch.zeros_like(ab)
        else:
            ab = ab * saturation.view(-1, 1, 1, 1).to(ab)
            if hue is not None and self.config.target == "jitter":
                cos, sin = torch.cos(hue).view(-1, 1, 1).to(ab), torch.sin(hue).view(-1, 1, 1).to(ab)
                ab = torch.stack((cos * ab[:, 0] - sin * ab[:, 1], sin * ab[:, 0] + cos * ab[:, 1]), dim=1)
        return lab_to_rgb(torch.cat((L, ab), dim=1))

    def _sample(self, batch: Batch, rng: np.random.Generator, device: torch.device):
        saturation = hue = None
        count = len(batch.indices)
        if self.config.target in ("desaturate", "jitter"):
            # validation draws from its own fixed generator, so it sees the same targets every time
            saturation = torch.from_numpy(rng.uniform(0.0, self.config.max_saturation, size=count))
            if self.config.target == "jitter":
                hue = torch.from_numpy(rng.uniform(-np.pi, np.pi, size=count))
        references = random_crops(self.cache, batch.indices, self.config.crop, rng)
        L, ab = batch.L.to(device), batch.ab.to(device)
        return self.target_input(L, ab, saturation, hue), references.to(device), batch.rgb.to(device)

    # -- the engine's hooks ----------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        device = next(model.parameters()).device
        target, reference, truth = self._sample(batch, step_rng(cfg.seed, step, 17), device)
        output, output_feats, truth_feats, reference_feats = model(target, reference, truth)
        output = output.float()
        output_feats = {k: v.float() for k, v in output_feats.items()}
        truth_feats = {k: v.float() for k, v in truth_feats.items()}
        reference_feats = {k: v.float() for k, v in reference_feats.items()}
        perceptual = perceptual_loss(
            output_feats, truth_feats, reference_feats, self.level_weights, cfg.style_weight, relative=not cfg.absolute_perceptual
        )
        reconstruction = F.mse_loss(output, truth)
        total = decoder_loss(output, truth, perceptual)
        parts = {"mse": float(reconstruction.detach()), "perceptual": float(perceptual.detach())}
        if cfg.ab_weight > 0:
            ab_error = F.mse_loss(normalize_ab(rgb_to_lab(output)[:, 1:]), normalize_ab(batch.ab.to(device)))
            parts["ab"] = float(ab_error.detach())
            total = total + cfg.ab_weight * ab_error
        return total, parts

    def validate(self, model: nn.Module, sampler: CropSampler) -> dict[str, float]:
        """PSNR of the truth vs (true L + ab of the transfer), the reference another crop of the same
        photo and the target grey (or pre-colorized); ``psnr_gray`` is the no-colour baseline."""
        net = model.transfer
        device = next(model.parameters()).device
        scores: dict[str, list[float]] = {"psnr_transfer": [], "psnr_gray": []}
        for position in range(min(sampler.batches_per_epoch, 8)):
            batch = sampler.batch(0, position)
            target, reference, truth = self._sample(batch, np.random.default_rng([position, 23]), device)
            L = batch.L.to(device)
            stats = net.reference_stats(net.encode(reference))
            output = net.decode(net.encode(target), tuple(L.shape[2:]), stats, alpha=1.0).float()
            ab = rgb_to_lab(output.clamp(0, 1))[:, 1:]
            scores["psnr_transfer"] += psnr_from_ab(L, ab, truth).tolist()
            scores["psnr_gray"] += psnr_from_ab(L, torch.zeros_like(ab), truth).tolist()
        return {k: float(np.mean(v)) for k, v in scores.items()}

    def export(self, model: nn.Module, path: Path, metadata: dict) -> Path:
        save_weights(path, "decoder", self.model_args(), model.transfer.decoder.state_dict(), metadata)
        return path
