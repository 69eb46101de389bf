"""Open the real window on a historical photo, wait for the colorized preview, save a screenshot.

    xvfb-run -a -s "-screen 0 1600x1000x24 -noreset" python -m desktop.screenshot --out docs/screenshot.png

Uses the trained weights when they are installed; otherwise it says so and falls back to untrained
networks, so the window can still be photographed (the colours are then meaningless). Settings and
autosave go to a temporary folder; the user's own are not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HISTORICAL = ROOT.parent / "shared" / "datasets" / "historical" / "public_domain"
DEFAULT_PHOTO = HISTORICAL / "keller_chaplin_1919.jpg"
DEFAULT_BROWSE = ROOT.parent / "shared" / "datasets" / "train" / "clothing_small"  # CC0 colour photos


def trained_weights_available() -> bool:
    from core.api import ColorizerConfig, WeightsError, list_weights

    config = ColorizerConfig()
    try:
        records = {record.name: record for record in list_weights()}
    except WeightsError:
        return False
    return all(name in records and records[name].file.is_file() for name in (config.colornet, config.decoder_name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=str(DEFAULT_PHOTO if DEFAULT_PHOTO.is_file() else ROOT / "resources/demo/demo_photo.jpg"))
    parser.add_argument("--reference", action="append", default=None, help="colour reference (repeatable); default: the demo reference")
    parser.add_argument("--browse", default=str(DEFAULT_BROWSE) if DEFAULT_BROWSE.is_dir() else "", help="folder shown in the reference browser")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--size", default="1440x900", help="window size, WxH")
    parser.add_argument("--hints", type=int, default=2, help="colour hints to place (shows the markers and the picker)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the preview")
    args = parser.parse_args(argv)
    references = args.reference if args.reference is not None else [str(ROOT / "resources/demo/demo_reference.jpg")]

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("Heirloom")
    QCoreApplication.setApplicationName("Heirloom")
    app = QApplication.instance() or QApplication(sys.argv[:1])

    from desktop.main_window import MainWindow
    from desktop.resources import app_icon
    from desktop.settings import AppSettings

    trained = trained_weights_available()
    print(f"weights: {'trained' if trained else 'NOT FOUND - using untrained (random) networks; colours are meaningless'}")
    temp = Path(tempfile.mkdtemp(prefix="heirloom-shot-"))
    settings = AppSettings(QSettings(str(temp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings.engine_options(allow_random_weights=not trained), settings=settings, autosave_dir=temp)
    app.setWindowIcon(app_icon())
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()

    def wait_until(condition, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            app.processEvents()
            if condition():
                return True
            time.sleep(0.02)
        return False

    if args.browse:
        window.reference_panel.set_folder(args.browse)
    window.open_photo(args.photo)
    if not wait_until(lambda: window.has_photo, args.timeout):
        print(f"error: the photo did not open: {window.dialogs.last_error}", file=sys.stderr)
        return 1
    window.add_references(references)
    wait_until(lambda: len(window.edit.references) == len(references) or window.dialogs.last_error, 60)
    if not wait_until(lambda: window.preview_is_current or window.dialogs.last_error, args.timeout):
        print("error: no preview arrived in time", file=sys.stderr)
        return 1
    if window.dialogs.last_error:
        print(f"error: {window.dialogs.last_error}", file=sys.stderr)
        return 1
    W, H = window.canvas.image_size
    spots = [(0.42, 0.33), (0.62, 0.55), (0.3, 0.7)][: max(0, args.hints)]
    palette = window.last_preview.palette
    for i, (fx, fy) in enumerate(spots):
        window.canvas.hint_added.emit(float(int(W * fx)), float(int(H * fy)))
        if palette:
            window.colour_panel.pick_rgb(palette[i % len(palette)])
    wait_until(lambda: window.preview_is_current and window.reference_panel.thumbnails_pending == 0, args.timeout)
    wait_until(lambda: False, 0.3)  # let the last paint settle

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    seconds = window.status.time_label.text()
    print(f"saved {out} ({width}x{height}) of {Path(args.photo).name}; device {window.status.device_label.text()}; last preview {seconds}")
    window.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
