"""The worker thread: latest-wins previews, cancellation, errors as messages, never a crash."""

from __future__ import annotations

import threading

import pytest
from desktop_fakes import FakeColorizer
from PySide6.QtCore import Qt, QThread

from desktop.model import EditSession, EngineOptions, ReferenceEntry
from desktop.worker import CheckReference, ColorWorker, Configure, Export, OpenPhoto, PreviewResult

DIRECT = Qt.ConnectionType.DirectConnection


class Recorder:
    """Collects a worker's signals (called in the worker thread, hence the lock)."""

    def __init__(self, worker: ColorWorker) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple] = []
        for name in ("preview_ready", "failed", "finished", "cancelled", "photo_opened", "reference_checked", "progress"):
            getattr(worker, name).connect(lambda *args, name=name: self._add(name, args), DIRECT)

    def _add(self, name, args) -> None:
        with self.lock:
            self.events.append((name, *args))

    def of(self, name: str) -> list[tuple]:
        with self.lock:
            return [e[1:] for e in self.events if e[0] == name]


@pytest.fixture
def start_worker(qtbot):
    started = []

    def start(factory, **kwargs):
        worker = ColorWorker(factory, display_side=120, **kwargs)
        thread = QThread()
        worker.moveToThread(thread)
        thread.start()
        started.append((worker, thread))
        recorder = Recorder(worker)
        worker.submit(0, Configure(EngineOptions(working_size=64)))
        return worker, recorder

    yield start
    for worker, thread in started:
        worker.stop()
        thread.quit()
        thread.wait()


def test_previews_coalesce_to_the_newest_request(start_worker, qtbot, photos):
    worker, events = start_worker(lambda o: FakeColorizer(o, delay=0.15))
    session = EditSession(str(photos["photo"]))
    for tag in range(1, 31):  # a slider dragged through 30 positions while one preview runs
        worker.request_preview(tag, EditSession(session.photo_path, blend=tag / 30))
    qtbot.waitUntil(lambda: any(tag == 30 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)
    assert worker.processed_previews[-1] == 30
    assert len(worker.processed_previews) <= 3  # never a queue of 30
    tags = [tag for tag, _ in events.of("preview_ready")]
    assert tags == sorted(tags)


def test_a_display_render_is_abandoned_for_a_newer_request(start_worker, qtbot, photos):
    worker, events = start_worker(lambda o: FakeColorizer(o, delay=0.8))
    path = str(photos["photo"])
    worker.request_preview(1, EditSession(path))
    qtbot.waitUntil(lambda: bool(events.of("preview_ready")), timeout=10_000)  # the quick image of 1 is out
    worker.request_preview(2, EditSession(path, blend=0.5))
    qtbot.waitUntil(lambda: any(tag == 2 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)
    finals = [tag for tag, r in events.of("preview_ready") if r.final]
    assert finals == [2]  # 1 never finished its display render


def test_preview_result_carries_what_the_picker_needs(start_worker, qtbot, photos):
    worker, events = start_worker(FakeColorizer)
    worker.request_preview(1, EditSession(str(photos["photo"]), (ReferenceEntry(str(photos["reference"])),), working_size=64))
    qtbot.waitUntil(lambda: len(events.of("preview_ready")) == 2, timeout=10_000)
    quick, final = (r for _, r in events.of("preview_ready"))
    assert isinstance(final, PreviewResult) and final.final and not quick.final
    assert final.original_size == (200, 150)
    assert max(final.image.width(), final.image.height()) <= 120  # display side 120
    assert (quick.image.width(), quick.image.height()) == (85, 64)  # working size 64
    assert final.ab.shape == (2, 64, 85) and final.L.shape == (64, 85)
    assert final.palette == ((200, 40, 40), (40, 160, 60), (30, 60, 200))


def test_unexpected_errors_become_messages(start_worker, qtbot, photos):
    worker, events = start_worker(lambda o: FakeColorizer(o, fail_with=ZeroDivisionError("boom")))
    worker.request_preview(7, EditSession(str(photos["photo"])))
    qtbot.waitUntil(lambda: bool(events.of("failed")), timeout=10_000)
    tag, message = events.of("failed")[0]
    assert tag == 7 and "ZeroDivisionError: boom" in message and "Your edit is safe" in message
    worker.submit(8, OpenPhoto(str(photos["photo"])))  # the thread lives on
    qtbot.waitUntil(lambda: bool(events.of("photo_opened")), timeout=10_000)


def test_user_errors_pass_through_unchanged(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(FakeColorizer)
    worker.submit(1, OpenPhoto(str(tmp_path / "missing.jpg")))
    worker.submit(2, CheckReference(str(photos["grey_reference"])))
    qtbot.waitUntil(lambda: len(events.of("failed")) == 2, timeout=10_000)
    (t1, m1), (t2, m2) = events.of("failed")
    assert (t1, t2) == (1, 2)
    assert m1.startswith("'missing.jpg' could not be found")
    assert m2 == "'grey_ref.jpg' has no colour to take; choose a colour photo as reference."


def test_export_reports_progress_and_can_be_cancelled(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(lambda o: FakeColorizer(o, delay=0.2))
    session = EditSession(str(photos["photo"]))
    worker.submit(1, Export(session, str(tmp_path / "a.png")))
    qtbot.waitUntil(lambda: bool(events.of("finished")), timeout=10_000)
    fractions = [f for tag, f, _ in events.of("progress") if tag == 1]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    worker.submit(2, Export(session, str(tmp_path / "b.png")))
    qtbot.waitUntil(lambda: any(tag == 2 for tag, *_ in events.of("progress")), timeout=10_000)
    worker.cancel(2)
    qtbot.waitUntil(lambda: events.of("cancelled") == [(2,)], timeout=10_000)
    assert (tmp_path / "a.png").is_file() and not (tmp_path / "b.png").exists()


def test_a_missing_reference_is_dropped_with_a_message(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(FakeColorizer)
    rejected = []
    worker.reference_rejected.connect(lambda path, message: rejected.append((path, message)), DIRECT)
    gone = str(tmp_path / "gone.jpg")
    worker.request_preview(1, EditSession(str(photos["photo"]), (ReferenceEntry(gone), ReferenceEntry(str(photos["reference"])))))
    qtbot.waitUntil(lambda: any(r.final for _, r in events.of("preview_ready")), timeout=10_000)
    assert rejected and rejected[0][0] == gone and "could not be found" in rejected[0][1]
    assert worker._state.reference_paths == (str(photos["reference"]),)


def test_state_changes_touch_only_what_differs(start_worker, qtbot, photos):
    made = []
    worker, events = start_worker(lambda o: made.append(FakeColorizer(o)) or made[-1])
    path, ref = str(photos["photo"]), str(photos["reference"])
    sessions = [
        EditSession(path, (ReferenceEntry(ref),)),
        EditSession(path, (ReferenceEntry(ref),), blend=0.4),
        EditSession(path, (ReferenceEntry(ref),), blend=0.4, working_size=128),
    ]
    for tag, session in enumerate(sessions, 1):
        worker.request_preview(tag, session)
        qtbot.waitUntil(lambda tag=tag: any(t == tag and r.final for t, r in events.of("preview_ready")), timeout=10_000)
    colorizer = made[-1]
    assert colorizer.calls["set_target"] == 1 and colorizer.calls["add_reference"] == 1
    assert colorizer.blend == 0.4 and colorizer.config.working_size == 128
