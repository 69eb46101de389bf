"""The window's bookkeeping of worker jobs: tag → what the job is and what to do when it ends.

:meth:`JobTracker.start` numbers a request, remembers its kind, its progress dialog (for long jobs)
and its ``on_done`` / ``on_failed`` / ``on_cancelled`` callbacks, and submits it to the worker. When
the worker reports a tag, the tracker closes the dialog and calls the job's own callback; nothing is
guessed from the tag. Failures of tags that are not jobs (previews) go to ``unclaimed_failure``.
After a job's callback has run, :attr:`JobTracker.finished` (``tag, kind, result``) announces it;
tests and scripts wait on that signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from desktop.worker import ColorWorker


@dataclass
class Job:
    tag: int
    kind: str  # "open", "reference", "probe", "export", "batch", "train", ...
    subject: str = ""  # what the job is about (the photo being checked as a reference, ...)
    dialog: QProgressDialog | None = None
    on_done: Callable[[object], None] | None = None
    on_failed: Callable[[str], None] | None = None  # None: the message is shown to the user
    on_cancelled: Callable[[], None] | None = None
    progress: Callable[[object], None] | None = field(default=None)  # training reports
    result_after_cancel: bool = True  # False: once cancelled, a late result is dropped (an open)


class JobTracker(QObject):
    finished = Signal(int, str, object)  # tag, kind, result: after the job's on_done ran
    ended = Signal(int, str)  # tag, kind: after any ending (done, failed or cancelled)

    def __init__(
        self,
        worker: ColorWorker,
        parent: QWidget,
        show_error: Callable[[str], None],
        unclaimed_failure: Callable[[int, str], None] | None = None,
        title: str = "Heirloom",
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.parent_widget = parent
        self.show_error = show_error
        self.unclaimed_failure = unclaimed_failure or (lambda tag, message: show_error(message))
        self.title = title
        self.jobs: dict[int, Job] = {}
        self._tags = 0
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.progress.connect(self._on_progress)
        worker.training_progress.connect(self._on_training_progress)

    def new_tag(self) -> int:
        """A fresh tag; tags only grow, so a larger tag is always a newer request."""
        self._tags += 1
        return self._tags

    @property
    def last_tag(self) -> int:
        return self._tags

    def start(self, kind: str, request: object, *, label: str = "", busy: bool = False, **callbacks) -> int:
        """Submit ``request`` as a job of ``kind``; ``label`` shows a cancellable progress dialog
        (``busy``: without a percentage). ``callbacks``: the :class:`Job` fields subject, on_done, on_failed,
        on_cancelled, progress and result_after_cancel."""
        tag = self.new_tag()
        job = Job(tag, kind, **callbacks)
        if label:
            job.dialog = self._dialog(tag, label, busy)
        self.jobs[tag] = job
        self.worker.submit(tag, request)
        return tag

    def of_kind(self, kind: str) -> list[Job]:
        return [job for job in self.jobs.values() if job.kind == kind]

    def cancel(self, tag: int) -> None:
        """Ask the worker to stop ``tag``; its dialog closes now. Its on_cancelled runs when the
        worker stops it, or at once for a job whose late result is of no use."""
        self.worker.cancel(tag)
        job = self.jobs.get(tag)
        if job is None:
            return
        self._close(job)
        if not job.result_after_cancel:
            del self.jobs[tag]
            if job.on_cancelled is not None:
                job.on_cancelled()
            self.ended.emit(tag, job.kind)

    def forget(self, tag: int) -> None:
        """Stop caring about ``tag``: whatever the worker reports for it later is ignored."""
        job = self.jobs.pop(tag, None)
        if job is not None:
            self.worker.cancel(tag)
            self._close(job)

    # -- worker reports -----------------------------------------------------------------------
    def _end(self, tag: int) -> Job | None:
        job = self.jobs.pop(tag, None)
        if job is not None:
            self._close(job)
        return job

    def _on_finished(self, tag: int, result: object) -> None:
        job = self._end(tag)
        if job is None:
            return
        if job.on_done is not None:
            job.on_done(result)
        self.finished.emit(tag, job.kind, result)
        self.ended.emit(tag, job.kind)

    def _on_failed(self, tag: int, message: str) -> None:
        job = self._end(tag)
        if job is None:
            self.unclaimed_failure(tag, message)
            return
        if job.on_failed is not None:
            job.on_failed(message)
        else:
            self.show_error(message)
        self.ended.emit(tag, job.kind)

    def _on_cancelled(self, tag: int) -> None:
        job = self._end(tag)
        if job is None:
            return
        if job.on_cancelled is not None:
            job.on_cancelled()
        self.ended.emit(tag, job.kind)

    def _on_progress(self, tag: int, fraction: float, text: str) -> None:
        job = self.jobs.get(tag)
        if job is not None and job.dialog is not None:
            if text:
                job.dialog.setLabelText(text)
            if job.dialog.maximum() > 0:
                job.dialog.setValue(min(999, round(fraction * 1000)))

    def _on_training_progress(self, tag: int, report: object) -> None:
        job = self.jobs.get(tag)
        if job is not None and job.progress is not None:
            job.progress(report)

    # -- progress dialogs ---------------------------------------------------------------------
    def _dialog(self, tag: int, label: str, busy: bool) -> QProgressDialog:
        dialog = QProgressDialog(label, "Cancel", 0, 0 if busy else 1000, self.parent_widget)
        dialog.setWindowTitle(self.title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        dialog.canceled.connect(lambda: self.cancel(tag))
        return dialog

    @staticmethod
    def _close(job: Job) -> None:
        dialog, job.dialog = job.dialog, None
        if dialog is not None:
            dialog.canceled.disconnect()
            dialog.close()
            dialog.deleteLater()
