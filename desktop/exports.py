"""Writing results: the full-resolution export of the open edit, and batch colorizing a folder.

Both run as worker jobs with a progress dialog. Export never replaces the original photo; a batch
never writes over a photo or a reference, keeps existing results unless asked to replace them, and
its report names every result that had to take another name (see :mod:`core.output`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject

from desktop.dialogs import Dialogs
from desktop.document import EditDocument
from desktop.jobs import JobTracker
from desktop.settings import AppSettings
from desktop.status_bar import StatusBar
from desktop.worker import Batch, BatchDone, Export, ExportDone, OpenedPhoto


class Exports(QObject):
    def __init__(
        self,
        jobs: JobTracker,
        document: EditDocument,
        dialogs: Dialogs,
        settings: AppSettings,
        status: StatusBar,
        photo: Callable[[], OpenedPhoto | None],
        after_batch: Callable[[], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs, self.document, self.dialogs, self.settings, self.status = jobs, document, dialogs, settings, status
        self.photo = photo  # the open photo (None when none is open)
        self.after_batch = after_batch  # the batch used the colorizer for other photos

    def export_to(self, path: str | Path, quality: int = 95, overwrite: bool = True) -> int | None:
        """Write the full-resolution result; the original photo is never replaced. ``overwrite``:
        the user already agreed to replace an existing file (the save dialog asks)."""
        edit = self.document.edit
        if edit.photo is None:
            return None
        path = str(Path(path).absolute())
        if Path(path) == Path(edit.photo):
            self.dialogs.error(f"Heirloom will not save over the original photo '{Path(path).name}'; choose a different name.")
            return None
        return self.jobs.start(
            "export", Export(edit, path, quality, overwrite), label=f"Exporting {Path(path).name}…",
            on_done=self._on_exported, on_cancelled=lambda: self.status.say("Cancelled.", 3000),
        )

    def _on_exported(self, result: ExportDone) -> None:
        self.settings.set_folder("export", str(Path(result.path).parent))
        self.status.say(f"Saved {Path(result.path).name} in {result.seconds:.1f} s", 8000)

    def choose_and_export(self) -> None:
        """File ▸ Export: ask where (beside the photo as ``<name>-colour``), then export."""
        opened = self.photo()
        if self.document.edit.photo is None or opened is None:
            return
        photo = Path(self.document.edit.photo)
        keep = opened.bit_depth != 16 and photo.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff")
        suffix = photo.suffix.lower() if keep else ".png"
        folder = self.settings.folder("export") or str(photo.parent)
        path = self.dialogs.export_path(str(Path(folder) / f"{photo.stem}-colour{suffix}"))
        if path:
            self.export_to(path)

    def batch(self, input_dir: str, output_dir: str, suffix: str = ".png", overwrite: bool = False) -> int:
        """Colorize a folder with the edit's references and strength; existing files are kept
        unless ``overwrite``, and no photo or reference is ever written over."""
        return self.jobs.start(
            "batch", Batch(self.document.edit, input_dir, output_dir, suffix, overwrite), label="Colorizing the folder…",
            on_done=self._on_batch_done, on_cancelled=lambda: self.status.say("Cancelled.", 3000),
        )

    def _on_batch_done(self, result: BatchDone) -> None:
        count = len(result.written)
        lines = [f"Colorized {count} photo{'s' * (count != 1)}."]
        if result.cancelled:
            lines.append("The batch was cancelled before the end.")
        lines += list(result.notes)
        lines += [f"{name}: {message}" for name, message in result.failures[:10]]
        self.dialogs.info("\n".join(lines), "Batch finished")
        self.after_batch()

    def choose_and_batch(self) -> None:
        """File ▸ Batch: ask for the folder of photos and the folder for the results."""
        source = self.dialogs.choose_folder("Folder of photos to colorize", self.settings.folder("batch"))
        if not source:
            return
        target = self.dialogs.choose_folder("Folder for the colour copies", source)
        if target:
            self.settings.set_folder("batch", source)
            self.batch(source, target, overwrite=self._replace_earlier_results(source, target))

    def _replace_earlier_results(self, source: str, target: str) -> bool:
        """Ask, only when the target folder already holds colour copies, whether to replace them
        (never the photos themselves: those are kept whatever the answer)."""
        from core.api import is_earlier_result

        if Path(source).resolve() == Path(target).resolve():
            return False  # everything in the source folder is an input
        try:
            earlier = any(is_earlier_result(p) for p in Path(target).iterdir() if p.is_file())
        except OSError:
            return False
        return earlier and self.dialogs.ask_yes_no(
            "Earlier results", "This folder already holds colour copies. Replace those of these photos? "
            "(No keeps them; the new ones get the next free names.)"
        )
