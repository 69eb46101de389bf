"""The worker thread: a dispatcher with latest-wins previews, cancellation, and errors as messages,
never a crash. Every request carries the whole edit; the worker keeps none."""

from __future__ import annotations

import threading
import time

import pytest
from desktop_fakes import FakeColorizer
from PySide6.QtCore import Qt, QThread

from core.api import Cancelled
from core.edit import Edit, Hint, Reference
from desktop.settings import EngineOptions
from desktop.worker import CheckedReference, CheckReference, ColorWorker, Configure, Export, OpenedPhoto, OpenPhoto, PreviewResult, ProbePoint

DIRECT = Qt.ConnectionType.DirectConnection


class Recorder:
    """Collects a worker's signals (called in the worker thread, hence the lock)."""

    def __init__(self, worker: ColorWorker) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple] = []
        for name in ("preview_ready", "failed", "finished", "cancelled", "progress"):
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
    photo = str(photos["photo"])
    for tag in range(1, 31):  # a slider dragged through 30 positions while one preview runs
        worker.request_preview(tag, Edit(photo, blend=tag / 30))
    qtbot.waitUntil(lambda: any(tag == 30 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)
    assert worker.processed_previews[-1] == 30
    assert len(worker.processed_previews) <= 3  # never a queue of 30
    tags = [tag for tag, _ in events.of("preview_ready")]
    assert tags == sorted(tags)


class StoppableColorizer(FakeColorizer):
    """A preview of 0.1 s that, like the real pipeline, checks ``cancel`` all along the way."""

    def preview(self, edit, cancel=None):
        import time

        from core.api import Cancelled

        for _ in range(10):
            if cancel is not None and cancel():
                raise Cancelled()
            time.sleep(0.01)
        return super().preview(edit)


def test_a_fast_drag_still_shows_results_while_it_moves(start_worker, qtbot, photos):
    # A new value every 20 ms, faster than one preview: a run may stop for a newer value only while
    # the screen is fresh, so results keep arriving during the drag, not only once it ends.
    worker, events = start_worker(lambda o: StoppableColorizer(o))
    path = str(photos["photo"])
    worker.request_preview(0, Edit(path))
    qtbot.waitUntil(lambda: bool(events.of("preview_ready")), timeout=10_000)
    before = len(events.of("preview_ready"))
    for tag in range(1, 81):
        worker.request_preview(tag, Edit(path, blend=tag / 80))
        qtbot.wait(20)
    during = {tag for tag, _ in events.of("preview_ready")[before:] if tag < 80}
    assert len(during) >= 2, during
    qtbot.waitUntil(lambda: any(tag == 80 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)


def test_a_display_render_is_abandoned_for_a_newer_request(start_worker, qtbot, photos):
    worker, events = start_worker(lambda o: FakeColorizer(o, delay=0.8))
    path = str(photos["photo"])
    worker.request_preview(1, Edit(path))
    qtbot.waitUntil(lambda: bool(events.of("preview_ready")), timeout=10_000)  # the quick image of 1 is out
    worker.request_preview(2, Edit(path, blend=0.5))
    qtbot.waitUntil(lambda: any(tag == 2 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)
    finals = [tag for tag, r in events.of("preview_ready") if r.final]
    assert finals == [2]  # 1 never finished its display render


class PreparingColorizer(FakeColorizer):
    """Records how many previews were out when it was asked to prepare; ``hold`` keeps it preparing
    until other work waits (then it stops, as the real one does); ``fail`` makes it raise."""

    def __init__(self, options=None, hold: bool = False, fail: bool = False) -> None:
        super().__init__(options)
        self.hold_on, self.fail = hold, fail
        self.started = threading.Event()
        self.stopped_for_work = False
        self.previews_out: list[int] = []
        self.count_previews = lambda: 0

    def prepare(self, edit, cancel=None) -> None:
        self.previews_out.append(self.count_previews())
        self.started.set()
        if self.fail:
            raise RuntimeError("out of memory while preparing")
        while self.hold_on and not cancel():
            time.sleep(0.005)
        if cancel():
            self.stopped_for_work = True
            raise Cancelled()
        super().prepare(edit, cancel)


def start_preparing(start_worker, **kwargs):
    made = []
    worker, events = start_worker(lambda o: made.append(PreparingColorizer(o, **kwargs)) or made[-1])
    worker.submit(1, OpenPhoto("unused"))  # fails (no such file), but builds the colorizer first
    return worker, events, made


def test_after_a_preview_the_photo_is_prepared_for_a_first_reference_or_hint(start_worker, qtbot, photos):
    worker, events, made = start_preparing(start_worker)
    qtbot.waitUntil(lambda: bool(made) and bool(events.of("failed")), timeout=10_000)
    made[-1].count_previews = lambda: len(events.of("preview_ready"))
    worker.request_preview(2, Edit(str(photos["photo"]), working_size=64))
    qtbot.waitUntil(lambda: made[-1].stage_calls["prepare"] == 1, timeout=10_000)
    assert made[-1].previews_out == [2]  # after the quick and the final image were out


def test_preparing_stops_for_any_request_and_never_fails_a_preview(start_worker, qtbot, photos):
    worker, events, made = start_preparing(start_worker, hold=True)
    qtbot.waitUntil(lambda: bool(made) and bool(events.of("failed")), timeout=10_000)
    worker.request_preview(2, Edit(str(photos["photo"]), working_size=64))
    assert made[-1].started.wait(10)
    worker.submit(3, OpenPhoto(str(photos["photo"])))  # not a preview: preparing still gives way
    qtbot.waitUntil(lambda: any(tag == 3 for tag, _ in events.of("finished")), timeout=10_000)
    assert made[-1].stopped_for_work
    made[-1].hold_on, made[-1].fail = False, True
    worker.request_preview(4, Edit(str(photos["photo"]), blend=0.5, working_size=64))
    qtbot.waitUntil(lambda: any(tag == 4 and r.final for tag, r in events.of("preview_ready")), timeout=10_000)
    worker.submit(5, OpenPhoto(str(photos["photo"])))  # handled after the failed preparation
    qtbot.waitUntil(lambda: any(tag == 5 for tag, _ in events.of("finished")), timeout=10_000)
    assert [tag for tag, _ in events.of("failed")] == [1]  # only the missing file


def test_preview_result_carries_the_images_palette_and_marker_lightness(start_worker, qtbot, photos):
    worker, events = start_worker(FakeColorizer)
    edit = Edit(str(photos["photo"]), (Reference(str(photos["reference"])),), working_size=64).with_hint(Hint(10, 20, (5, 5)))
    worker.request_preview(1, edit)
    qtbot.waitUntil(lambda: len(events.of("preview_ready")) == 2, timeout=10_000)
    quick, final = (r for _, r in events.of("preview_ready"))
    assert isinstance(final, PreviewResult) and final.final and not quick.final
    assert final.original_size == (200, 150)
    assert max(final.image.width(), final.image.height()) <= 120  # display side 120
    assert (quick.image.width(), quick.image.height()) == (85, 64)  # working size 64
    assert final.palette == ((200, 40, 40), (40, 160, 60), (30, 60, 200))
    assert list(final.hint_lightness) == [1] and 0 <= final.hint_lightness[1] <= 100


def test_probe_answers_the_colour_panels_questions(start_worker, qtbot, photos):
    worker, events = start_worker(FakeColorizer)
    worker.submit(1, ProbePoint(Edit(str(photos["photo"])), 30, 40))
    qtbot.waitUntil(lambda: bool(events.of("finished")), timeout=10_000)
    (tag, probe), = events.of("finished")
    assert tag == 1 and probe.ab == (5.0, 10.0) and probe.gamut.shape == (96, 96, 4)
    from core.api import load_photo

    assert probe.L == pytest.approx(float(load_photo(photos["photo"]).lightness()[40, 30]))  # that pixel's L


def test_unexpected_errors_become_messages(start_worker, qtbot, photos):
    worker, events = start_worker(lambda o: FakeColorizer(o, fail_with=ZeroDivisionError("boom")))
    worker.request_preview(7, Edit(str(photos["photo"])))
    qtbot.waitUntil(lambda: bool(events.of("failed")), timeout=10_000)
    tag, message = events.of("failed")[0]
    assert tag == 7 and "ZeroDivisionError: boom" in message and "Your edit is safe" in message
    worker.submit(8, OpenPhoto(str(photos["photo"])))  # the thread lives on
    qtbot.waitUntil(lambda: any(isinstance(result, OpenedPhoto) for _, result in events.of("finished")), timeout=10_000)


def test_user_errors_pass_through_unchanged(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(FakeColorizer)
    worker.submit(1, OpenPhoto(str(tmp_path / "missing.jpg")))
    worker.submit(2, CheckReference(str(photos["grey_reference"])))
    qtbot.waitUntil(lambda: len(events.of("failed")) == 2, timeout=10_000)
    (t1, m1), (t2, m2) = events.of("failed")
    assert not [r for _, r in events.of("finished") if isinstance(r, CheckedReference)]
    assert (t1, t2) == (1, 2)
    assert m1.startswith("'missing.jpg' could not be found")
    assert m2 == "'grey_ref.jpg' has no colour to take; choose a colour photo as reference."


def test_export_reports_progress_and_can_be_cancelled(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(lambda o: FakeColorizer(o, delay=0.2))
    edit = Edit(str(photos["photo"]))
    worker.submit(1, Export(edit, str(tmp_path / "a.png")))
    qtbot.waitUntil(lambda: bool(events.of("finished")), timeout=10_000)
    fractions = [f for tag, f, _ in events.of("progress") if tag == 1]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    worker.submit(2, Export(edit, str(tmp_path / "b.png")))
    qtbot.waitUntil(lambda: any(tag == 2 for tag, *_ in events.of("progress")), timeout=10_000)
    worker.cancel(2)
    qtbot.waitUntil(lambda: events.of("cancelled") == [(2,)], timeout=10_000)
    assert (tmp_path / "a.png").is_file() and not (tmp_path / "b.png").exists()


def test_a_missing_reference_is_dropped_with_a_message(start_worker, qtbot, photos, tmp_path):
    worker, events = start_worker(FakeColorizer)
    rejected = []
    worker.reference_rejected.connect(lambda path, message: rejected.append((path, message)), DIRECT)
    gone = str(tmp_path / "gone.jpg")
    made = worker.colorizer
    worker.request_preview(1, Edit(str(photos["photo"]), (Reference(gone), Reference(str(photos["reference"])))))
    qtbot.waitUntil(lambda: any(r.final for _, r in events.of("preview_ready")), timeout=10_000)
    assert rejected and rejected[0][0] == gone and "could not be found" in rejected[0][1]
    assert (made or worker.colorizer).last_edit.reference_paths == (str(photos["reference"]),)


def test_the_worker_builds_the_colorizer_once_and_hands_it_each_edit(start_worker, qtbot, photos):
    made = []
    worker, events = start_worker(lambda o: made.append(FakeColorizer(o)) or made[-1])
    path, ref = str(photos["photo"]), str(photos["reference"])
    edits = [
        Edit(path, (Reference(ref),)),
        Edit(path, (Reference(ref),), blend=0.4),
        Edit(path, (Reference(ref),), blend=0.4, working_size=128),
    ]
    for tag, edit in enumerate(edits, 1):
        worker.request_preview(tag, edit)
        qtbot.waitUntil(lambda tag=tag: any(t == tag and r.final for t, r in events.of("preview_ready")), timeout=10_000)
    assert len(made) == 1 and made[0].last_edit == edits[-1]
    assert made[0].stage_calls["load"] == 2  # the photo and the reference, each read once
