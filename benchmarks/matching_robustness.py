"""How much content matching relies on the reference lining up with the photo.

heirloom-eval's ``ref_related`` mode crops the target and the reference 64 px apart, a multiple of
the 8-px grid the matcher describes photos on: its easiest case. This script scores the same photos
with the reference shifted off the grid and rescaled, with and without content matching, against
Reinhard's global transfer, and prints PSNR (dB) per variant. An unrelated reference (the next
photo) shows what matching costs when there is nothing to match.

    python benchmarks/matching_robustness.py ../shared/datasets/dev [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.api import Colorizer, ColorizerConfig, Edit, Reference  # noqa: E402
from training.baselines import ReinhardMethod  # noqa: E402
from training.evaluate import IMAGE_SIZE, RELATED_FRACTION, load_eval_photos, score  # noqa: E402


def variants(rgb: np.ndarray, unrelated: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (target RGB, reference RGB), both float in [0, 1]."""
    width = rgb.shape[1]
    part = round(width * RELATED_FRACTION)
    target = rgb[:, :part]
    out = {
        "shift 64 px (heirloom-eval)": (target, rgb[:, width - part :]),
        "shift 61 px (off the grid)": (target, rgb[:, width - part - 3 : width - 3]),
    }
    reference8 = Image.fromarray((rgb[:, width - part :] * 255 + 0.5).astype(np.uint8))
    for scale in (0.85, 1.2):
        size = (round(reference8.width * scale), round(reference8.height * scale))
        out[f"shift 64 px, reference scaled x{scale}"] = (target, np.asarray(reference8.resize(size, Image.BICUBIC)) / 255.0)
    out["unrelated (the next photo)"] = (rgb, unrelated)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo_dir")
    parser.add_argument("--limit", type=int)
    parser.add_argument(
        "--match-scales", default=",".join(str(s) for s in ColorizerConfig.match_scales), metavar="S,S,...",
        help="relative sizes of the reference that matching compares (default: the shipped setting)",
    )
    parser.add_argument(
        "--match-threshold", type=float, default=ColorizerConfig.match_threshold, metavar="T",
        help="similarity a match needs to pin a colour (default: the shipped setting)",
    )
    parser.add_argument("--decoder", default="", metavar="NAME|FILE", help="transfer decoder weights (default: the shipped one)")
    args = parser.parse_args(argv)
    photos = load_eval_photos(args.photo_dir, args.limit)
    scales = tuple(float(v) for v in args.match_scales.split(","))
    config = ColorizerConfig.from_options(
        working_size=IMAGE_SIZE, decoder=args.decoder or None, match_scales=scales, match_threshold=args.match_threshold,
        allow_random_weights=False,
    )
    matching = Colorizer(config)
    blend_map = Colorizer(replace(config, match_references=False), matching.models)  # no matched hints
    reinhard = ReinhardMethod()
    scores: dict[str, dict[str, list[float]]] = {}
    for index, photo in enumerate(photos, 1):
        print(f"\r[{index}/{len(photos)}]", end="", file=sys.stderr, flush=True)
        for name, (target, reference) in variants(photo.rgb, photos[index % len(photos)].rgb).items():
            L = photo.lab[0][:, : target.shape[1]]
            row = scores.setdefault(name, {"heirloom": [], "paper pipeline": [], "blend map": [], "reinhard": [], "coverage": []})
            for key, colorizer, match_content in (
                ("heirloom", matching, True), ("paper pipeline", matching, False), ("blend map", blend_map, True)
            ):
                edit = Edit(
                    colorizer.hold(L, "photo"), (Reference(colorizer.hold((reference * 255 + 0.5).astype(np.uint8), "reference")),),
                    match_content=match_content, working_size=IMAGE_SIZE, model=config.colornet,
                )
                preview = colorizer.preview(edit)
                row[key].append(score(L, preview.ab, target)["psnr"])
                if key == "heirloom":
                    row["coverage"].append(preview.coverage)
            row["reinhard"].append(score(L, reinhard.predict(L, reference, ()), target)["psnr"])
    print(file=sys.stderr)
    print(f"{len(photos)} photos, match scales {scales}, threshold {args.match_threshold}, PSNR dB (coverage: share of the photo with matched hints)")
    print(f"{'variant':40s} {'heirloom':>9s} {'paper':>9s} {'blendmap':>9s} {'reinhard':>9s} {'coverage':>9s}")
    for name, row in scores.items():
        means = {k: float(np.mean(v)) for k, v in row.items()}
        print(
            f"{name:40s} {means['heirloom']:9.2f} {means['paper pipeline']:9.2f} {means['blend map']:9.2f} "
            f"{means['reinhard']:9.2f} {means['coverage']:9.2f}"
        )
    print("paper: the published pipeline (no matching, one blend everywhere); blendmap: the blend scaled by")
    print("content similarity, no matched hints; heirloom: both (the default); reinhard: global Lab transfer.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
