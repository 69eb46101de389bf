"""Where the automatic colours lose to the truth, and whether a cheap fix could win it back.

    python benchmarks/auto_headroom.py ../shared/datasets/dev
    python benchmarks/auto_headroom.py ../shared/datasets/dev --colornet runs/colornet/weights.pt --json headroom.json

The app's automatic colours (``core.api.Colorizer`` through heirloom-eval's ``HeirloomMethod``, on
heirloom-eval's 256 x 256 crops, so the ``auto`` PSNR equals heirloom-eval's) are compared with the
truth three ways:

- against grey: mean PSNR of both, and the share of photos whose colours score below grey (a
  confident wrong colour costs more than none);
- against the best *one* correction per photo, chosen knowing the truth: the single ab shift added
  everywhere (the photo-wide cast), and the single chroma gain. Their PSNR is what the same colours
  would score with each photo's overall cast put right: how much of the loss is one photo-wide
  error, and how much lies in the colours of single things;
- against itself at a few global chroma gains: PSNR and colourfulness (Hasler-Suesstrunk, as a
  share of the truth's, as heirloom-eval reports it), so whether more colour costs PSNR here.

Last it lists the photos that lose most against grey. Nothing here is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from training.evaluate import HeirloomMethod, heirloom_factory, load_eval_photos, rebuild_rgb  # noqa: E402
from training.metrics import colorfulness, psnr  # noqa: E402

GAINS = (0.8, 0.9, 1.0, 1.05, 1.1)  # 1.0: the automatic colours themselves
WORST = 8


def best_shift(ab: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The one ab offset (2, 1, 1) that brings ``ab`` closest to ``truth`` (least squares in ab)."""
    return (truth - ab).reshape(2, -1).mean(1)[:, None, None]


def best_gain(ab: np.ndarray, truth: np.ndarray) -> float:
    """The one chroma factor that brings ``ab`` closest to ``truth`` (least squares in ab)."""
    energy = float((ab * ab).sum())
    return float((ab * truth).sum()) / energy if energy > 1e-6 else 1.0


def measure(photo_dir: str | Path, limit: int | None = None, colornet: str | None = None) -> dict:
    """The report as a dict: mean scores over the photos and the photos that lose most to grey."""
    photos = load_eval_photos(photo_dir, limit)
    if not photos:
        raise SystemExit(f"no photos in {photo_dir}")
    method = HeirloomMethod(heirloom_factory(colornet=colornet))
    rows = []
    for photo in photos:
        L, truth = photo.lab[0], photo.lab[1:]
        ab = np.asarray(method.predict(L, None, ()), dtype=np.float32)

        def psnr_of(colours: np.ndarray) -> float:
            return psnr(rebuild_rgb(L, colours), photo.rgb)

        row = {
            "name": photo.name,
            "grey": psnr_of(np.zeros_like(ab)),
            "best_shift": psnr_of(ab + best_shift(ab, truth)),
            "best_gain": psnr_of(ab * best_gain(ab, truth)),
            "truth_colourfulness": colorfulness(photo.rgb),
        }
        for gain in GAINS:  # as heirloom-eval scores them: PSNR and colourfulness of the rebuilt RGB
            rgb = rebuild_rgb(L, ab * gain)
            row[f"gain_{gain}"] = (psnr(rgb, photo.rgb), colorfulness(rgb))
        row["auto"] = row["gain_1.0"][0]
        rows.append(row)
    truth_colour = float(np.mean([r["truth_colourfulness"] for r in rows]))
    by_gain = {
        str(gain): {
            "psnr": float(np.mean([r[f"gain_{gain}"][0] for r in rows])),
            "colourfulness_share": float(np.mean([r[f"gain_{gain}"][1] for r in rows])) / max(truth_colour, 1e-9),
        }
        for gain in GAINS
    }
    worst = sorted(rows, key=lambda r: r["auto"] - r["grey"])[:WORST]
    return {
        "photos": len(rows),
        "auto": float(np.mean([r["auto"] for r in rows])),
        "grey": float(np.mean([r["grey"] for r in rows])),
        "below_grey": float(np.mean([r["auto"] < r["grey"] for r in rows])),
        "best_shift": float(np.mean([r["best_shift"] for r in rows])),
        "best_gain": float(np.mean([r["best_gain"] for r in rows])),
        "by_gain": by_gain,
        "worst": [{"name": r["name"], "auto_minus_grey": r["auto"] - r["grey"]} for r in worst],
    }


def format_report(report: dict) -> str:
    lines = [
        f"automatic colours on {report['photos']} photos (PSNR dB)",
        f"automatic                          {report['auto']:7.2f}",
        f"grey                               {report['grey']:7.2f}",
        f"photos below grey                  {100 * report['below_grey']:6.1f} %",
        f"with each photo's best ab shift    {report['best_shift']:7.2f}",
        f"with each photo's best chroma gain {report['best_gain']:7.2f}",
        "",
        "global gain   PSNR   colourfulness / truth",
    ]
    for gain, row in report["by_gain"].items():
        lines.append(f"{float(gain):11.2f} {row['psnr']:6.2f} {row['colourfulness_share']:9.2f}")
    lines += ["", "most below grey (dB)"]
    lines += [f"{r['name']:24s} {r['auto_minus_grey']:+6.2f}" for r in report["worst"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", help="a folder of colour photos (e.g. ../shared/datasets/dev)")
    parser.add_argument("--limit", type=int, default=None, help="score the first N photos only")
    parser.add_argument("--colornet", default=None, help="registered weights or a weights file (default: the bundled net)")
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report = measure(args.photos, args.limit, args.colornet)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
