"""Before and after one hint, on a real photo, without and with a reference: the README's figure.

    python benchmarks/hint_figure.py                                   # the bundled demo, a purple sleeve
    python benchmarks/hint_figure.py --photo P --reference R --hint 240,760,#7a3fa0 --out fig.png

Rows: automatic colours, then with the reference at full strength, its palette laid over the whole
photo (content matching off: the bundled reference shows other things, so with matching on it would
lend nothing, and its hints sampled everywhere are what used to drown a click). Columns: no hint; the hint as
the paper feeds it (one more input of the colorization sub-net, ``--hints-everywhere``); the hint
as Heirloom lays it (core.user_edit). The hint is marked with a ring. Each panel also reports the
share of the photo the hint moved by more than 6 ab units, printed to stdout.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from core.api import Colorizer, ColorizerConfig, Edit, Reference, load_models  # noqa: E402
from core.cli import parse_hint  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
PANEL_SIDE = 360  # long side of each panel, pixels
MOVED = 6.0  # ab units: what counts as a pixel the hint changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=DEMO / "demo_photo.jpg")
    parser.add_argument("--reference", type=Path, default=DEMO / "demo_reference.jpg")
    parser.add_argument("--hint", type=parse_hint, default=parse_hint("240,760,#7a3fa0,6"), metavar="X,Y,#RRGGBB[,R]")
    parser.add_argument("--out", type=Path, default=Path("docs/hint_before_after.png"))
    args = parser.parse_args(argv)

    heirloom = ColorizerConfig.from_options()
    models = load_models(heirloom)
    colorizers = {"heirloom": Colorizer(heirloom, models), "paper": Colorizer(replace(heirloom, user_edit=False), models)}
    rows = []
    for label, references in (("automatic", ()), ("reference palette", (Reference(str(args.reference)),))):
        edit = Edit(str(args.photo), references=references, match_content=not references)
        before = colorizers["heirloom"].preview(edit)
        panels = [(f"{label}: no hint", colorizers["heirloom"].render(edit, max_side=PANEL_SIDE))]
        for name in ("paper", "heirloom"):
            after = colorizers[name].preview(edit.with_hint(args.hint))
            moved = float((np.linalg.norm(after.ab - before.ab, axis=0) > MOVED).mean())
            print(f"{label:15s} {name:9s} the hint moved {moved:6.1%} of the photo")
            title = f"{'hint into the sub-net' if name == 'paper' else 'Heirloom'}: {moved:.0%} moved"
            panels.append((title, colorizers[name].render(edit.with_hint(args.hint), max_side=PANEL_SIDE)))
        rows.append(panels)
    sheet = _sheet(rows, args.hint, before.original_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


def _sheet(rows: list[list[tuple[str, np.ndarray]]], hint, original_size: tuple[int, int]) -> Image.Image:
    h, w = rows[0][0][1].shape[:2]
    caption = 28
    sheet = Image.new("RGB", (w * len(rows[0]), (h + caption) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    scale = w / original_size[0]
    for r, panels in enumerate(rows):
        for c, (title, rgb) in enumerate(panels):
            x0, y0 = c * w, r * (h + caption)
            sheet.paste(Image.fromarray(rgb), (x0, y0 + caption))
            draw.text((x0 + 6, y0 + 8), title, fill="black")
            if c:
                cx, cy = x0 + hint.x * scale, y0 + caption + hint.y * scale
                for radius, colour in ((7, "white"), (8, "black")):
                    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=colour, width=2)
    return sheet


if __name__ == "__main__":
    raise SystemExit(main())
