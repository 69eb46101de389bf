"""Contact sheets of real photos before and after: exemplar pairs and historical photographs.

    python benchmarks/contact_sheets.py ../shared/datasets/pairs --out docs/pairs_sheet.jpg
    python benchmarks/contact_sheets.py ../shared/datasets/historical/public_domain --out docs/historical_sheet.jpg

A folder holding ``inN`` / ``refN`` files (in sub-folders too) is read as exemplar pairs; each row is
the grey photo, the reference, the paper's pipeline as published (palette everywhere, strict
matching off) and Heirloom's default. Any other folder is read as grey photos; each row is the photo
and Heirloom's automatic colours. Nothing is scored: these are for looking at.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from core.api import Colorizer, ColorizerConfig, Edit, Reference, load_models, load_photo  # noqa: E402
from core.imageio import is_supported_image  # noqa: E402

ROW_HEIGHT = 150  # pixels of each panel
CAPTION = 18


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(grey photo, reference) for every ``inN`` with a ``refN`` beside it, in name order."""
    pairs = []
    for photo in sorted(folder.rglob("*"), key=lambda p: (str(p.parent), _number(p))):
        match = re.fullmatch(r"in(\d+)", photo.stem, re.IGNORECASE)
        if match and is_supported_image(photo):
            refs = [p for p in photo.parent.iterdir() if p.stem.lower() == f"ref{match.group(1)}" and is_supported_image(p)]
            if refs:
                pairs.append((photo, refs[0]))
    return pairs


def _number(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else -1


def _panel(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2))
    width = max(1, round(image.width * ROW_HEIGHT / image.height))
    return image.resize((width, ROW_HEIGHT), Image.Resampling.LANCZOS)


def _original(path: Path) -> np.ndarray:
    pixels = load_photo(path).pixels
    if pixels.dtype != np.uint8:
        pixels = (pixels / 257).round().astype(np.uint8)
    return pixels


def sheet(rows: list[list[tuple[str, Image.Image]]], titles: list[str]) -> Image.Image:
    """One row per photo; the columns as wide as their widest panel."""
    columns = len(titles)
    widths = [max(row[c][1].width for row in rows) for c in range(columns)]
    out = Image.new("RGB", (sum(widths) + 4 * columns, CAPTION + len(rows) * (ROW_HEIGHT + CAPTION)), "white")
    draw = ImageDraw.Draw(out)
    x = 0
    for c, title in enumerate(titles):
        draw.text((x + 2, 3), title, fill="black")
        for r, row in enumerate(rows):
            y = CAPTION + r * (ROW_HEIGHT + CAPTION)
            draw.text((x + 2, y + 3), row[c][0], fill="dimgray")
            out.paste(row[c][1], (x, y + CAPTION))
        x += widths[c] + 4
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--render-side", type=int, default=480, help="long side the results are rendered at")
    args = parser.parse_args(argv)

    config = ColorizerConfig.from_options()
    models = load_models(config)
    heirloom = Colorizer(config, models)
    pairs = find_pairs(args.folder)
    if pairs:
        paper = Colorizer(replace(config, correspondence="match", user_edit=False, content_aware=False), models)
        titles = ["grey photo", "reference", "paper (palette everywhere)", "Heirloom"]
        rows = []
        for photo, reference in pairs:
            edit = Edit(str(photo), references=(Reference(str(reference)),))
            name = f"{photo.parent.name}/{photo.stem}"
            rows.append([
                (name, _panel(_original(photo))),
                (reference.stem, _panel(_original(reference))),
                ("", _panel(paper.render(replace(edit, match_content=False), max_side=args.render_side))),
                (f"matched {heirloom.preview(edit).coverage:.0%}", _panel(heirloom.render(edit, max_side=args.render_side))),
            ])
            print(f"{name}: done", flush=True)
    else:
        photos = sorted(p for p in args.folder.iterdir() if is_supported_image(p))
        titles = ["photo", "Heirloom, automatic"]
        rows = [[(p.stem[:40], _panel(_original(p))), ("", _panel(heirloom.render(Edit(str(p)), max_side=args.render_side)))] for p in photos]
    if not rows:
        print(f"{args.folder}: no photos found", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet(rows, titles).save(args.out, quality=88, optimize=True)  # quality: for a .jpg
    print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
