"""The ``heirloom`` command.

    heirloom                          open the app (the demo photo on a first run)
    heirloom PHOTO [--reference R]... open the app on a photo, with colour references
    heirloom --demo                   open the bundled demo photo and reference
    heirloom colorize ...             the command-line colorizer (no window)
    heirloom --self-test              check the installation without opening a window
    heirloom --version

Qt is imported only on the path that opens a window.
"""

from __future__ import annotations

import argparse
import os
import sys

FALLBACK_VERSION = "0.1.0"
RANDOM_WEIGHTS_ENV = "HEIRLOOM_ALLOW_RANDOM_WEIGHTS"


def version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version as package_version

        return package_version("heirloom")
    except (ImportError, PackageNotFoundError):
        return FALLBACK_VERSION


def random_weights_allowed(flag: bool = False) -> bool:
    """Untrained networks stand in for missing weights only when a developer asks for it."""
    return flag or os.environ.get(RANDOM_WEIGHTS_ENV, "") not in ("", "0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heirloom",
        description="Bring colour back to old black-and-white family photos. "
        "Run 'heirloom colorize --help' for the command-line colorizer.",
    )
    parser.add_argument("photo", nargs="?", help="a photo to open")
    parser.add_argument("--reference", "-r", action="append", default=[], metavar="PHOTO", help="a colour reference photo (repeatable)")
    parser.add_argument("--edit", "--session", dest="edit", metavar="FILE", help="open a saved edit (.heirloom.json)")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo photo and reference")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where to run the model (remembered)")
    parser.add_argument("--self-test", action="store_true", help="check the installation without opening a window, then exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help=f"development only: use untrained networks when weights are missing (or set {RANDOM_WEIGHTS_ENV}=1)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "colorize":
        try:
            from core.cli import main as cli_main
        except ImportError as error:
            print(f"heirloom: the command-line colorizer is not available ({error}).", file=sys.stderr)
            return 2
        return int(cli_main(argv) or 0)  # core.cli parses the whole command, 'colorize' included
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"Heirloom {version()}")
        return 0
    if args.self_test:
        from desktop.selftest import run_self_test

        return run_self_test(random_weights_allowed(args.random_weights))
    return run_gui(args)


def finetune_trainer(photos_dir, name, steps, progress=None, should_stop=None):
    """The app's "Train on my photos": :func:`training.finetune.run_finetune`, imported when first
    used (the window and its worker never import the training code themselves)."""
    try:
        from training.finetune import run_finetune
    except ImportError as error:
        raise ValueError(
            f"Training is not available in this installation ({error}); install Heirloom with its "
            "training module to fine-tune on your photos."
        ) from error
    return run_finetune(photos_dir, name, steps, progress=progress, should_stop=should_stop)


def read_edit_argument(path: str):
    """The edit named by ``--edit``, or None after printing one line saying why it cannot be used."""
    from core.edit import EditError, read_edit

    try:
        edit = read_edit(path)
    except EditError as error:
        print(f"heirloom: {error}", file=sys.stderr)
        return None
    if edit.photo is None:
        print(f"heirloom: the edit '{path}' names no photo.", file=sys.stderr)
        return None
    return edit


def run_gui(args: argparse.Namespace) -> int:
    edit = read_edit_argument(args.edit) if args.edit else None
    if args.edit and edit is None:
        return 1
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("Heirloom")
    QCoreApplication.setApplicationName("Heirloom")
    QGuiApplication.setDesktopFileName("heirloom")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationDisplayName("Heirloom")

    from desktop.main_window import MainWindow
    from desktop.resources import app_icon
    from desktop.settings import AppSettings

    app.setWindowIcon(app_icon())
    settings = AppSettings()
    if args.device:
        settings.set_device(args.device)
    options = settings.engine_options(allow_random_weights=random_weights_allowed(args.random_weights))
    window = MainWindow(options, settings=settings, trainer=finetune_trainer)
    _install_excepthook(window)
    window.show()

    if edit is not None:
        window.open_edit(args.edit, edit)
    elif args.photo:
        window.open_photo(args.photo, references=args.reference)
    elif not window.offer_recovery() and (args.demo or settings.first_run):
        window.open_demo()
    if args.reference and not args.photo:
        window.add_references(args.reference)
    settings.mark_first_run_done()
    return app.exec()


def _install_excepthook(window) -> None:
    """A bug in a slot shows one message and is logged; the app and the user's edit survive."""
    import traceback

    previous = sys.excepthook

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        try:
            window.dialogs.error(
                f"Something unexpected went wrong ({kind.__name__}: {value}). "
                "Your edit is kept; save it if you can, and please report the problem."
            )
        except Exception:  # noqa: BLE001 - never fail inside the hook
            previous(kind, value, tb)

    sys.excepthook = hook


if __name__ == "__main__":
    sys.exit(main())
