"""The window end to end on the fake colorizer: open, hints, references, undo, saved edits, export."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import open_and_wait, pin, settle, wait_for_preview, wait_job, wait_opened
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from core.edit import read_edit


def click_pixel(qtbot, window, x, y, button=Qt.MouseButton.LeftButton):
    canvas = window.canvas
    canvas.centerOn(QPointF(x + 0.5, y + 0.5))
    p = canvas.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
    qtbot.mouseClick(canvas.viewport(), button, pos=QPoint(math.floor(p.x()), math.floor(p.y())))
    settle(qtbot, window)  # a new hint takes the model's colour there when the worker replies


def test_open_shows_the_photo_and_a_preview(opened, photos):
    window = opened
    assert window.canvas.image_size == (200, 150)
    assert window.edit.photo == str(photos["photo"])
    assert "grandma.png" in window.windowTitle() and not window.isWindowModified()
    assert window.last_preview.image.width() == 200  # display side 400 > photo: full size
    assert window.status.device_label.text().startswith("Auto: CPU (fake)")
    assert window.status.time_label.text().endswith(" s")


def test_click_on_canvas_adds_a_hint_at_that_pixel_at_any_zoom(opened, qtbot):
    window = opened
    for zoom, (x, y) in [(1.0, (20, 30)), (3.0, (150, 100)), (7.5, (199, 149))]:
        window.canvas.set_zoom(zoom)
        click_pixel(qtbot, window, x, y)
        hint = window.edit.hints[-1]
        assert (hint.x, hint.y) == (x, y)
    assert len(window.edit.hints) == 3 and window.undo_stack.count() == 3
    assert window.hint_tool.selected == window.edit.hints[2].id  # the newest hint, by id
    assert window.isWindowModified() and "*" in window.windowTitle().replace("[*]", "*") or window.isWindowModified()


def test_new_hint_takes_the_predicted_colour_and_is_in_gamut(opened, qtbot):
    window = opened
    click_pixel(qtbot, window, 50, 60)
    assert window.edit.hints[0].ab == pytest.approx((5.0, 10.0), abs=0.01)  # the fake predicts (5, 10)
    assert window.edit.hints[0].picked  # it holds the colour shown, it corrects nothing
    window.colour_panel.pick_ab((127.0, 127.0))  # far outside sRGB: snapped into the gamut at that L
    a, b = window.edit.hints[0].ab
    assert math.hypot(a, b) < math.hypot(127, 127)
    assert not window.edit.hints[0].picked  # the user's colour now
    assert window.undo_stack.count() == 2
    window.hint_tool.deselect()
    window.colour_panel.pick_ab((-20.0, 30.0))  # a brush colour: the next hint is the user's colour
    click_pixel(qtbot, window, 120, 30)
    assert not window.edit.hints[1].picked


def _click_without_waiting(qtbot, window, x, y):
    canvas = window.canvas
    canvas.centerOn(QPointF(x + 0.5, y + 0.5))
    p = canvas.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(math.floor(p.x()), math.floor(p.y())))


def test_a_click_takes_the_colour_on_screen_at_once(opened, qtbot):
    window = opened
    wait_for_preview(qtbot, window)
    requested = window.requested_tag
    _click_without_waiting(qtbot, window, 50, 60)
    # No probe round trip: the result on screen shows the edit the click adds to, so the hint has the
    # model's colour before the worker has answered anything, and one preview was asked for.
    assert window.edit.hints[0].ab == pytest.approx((5.0, 10.0), abs=0.01)
    assert window.requested_tag == requested + 1
    wait_for_preview(qtbot, window)
    # The screen shows that edit now; when it shows an older one, the hint starts grey and settles.
    window.last_preview = replace(window.last_preview, edit=replace(window.edit, hints=()))
    _click_without_waiting(qtbot, window, 80, 20)
    assert window.edit.hints[1].ab == (0.0, 0.0)
    settle(qtbot, window)
    assert window.edit.hints[1].ab == pytest.approx((5.0, 10.0), abs=0.01)
    assert window.edit.hints[0].picked and window.edit.hints[1].picked  # settling keeps it a pick
    assert window.undo_stack.count() == 2


def test_hint_edits_from_the_canvas_and_keyboard(opened, qtbot):
    window = opened
    click_pixel(qtbot, window, 40, 40)
    click_pixel(qtbot, window, 120, 90)
    canvas = window.canvas
    canvas.centerOn(QPointF(40, 40))
    start = canvas.viewportTransform().map(QPointF(40.5, 40.5)).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(canvas.viewport(), canvas.viewportTransform().map(QPointF(40.5 + 2 * step, 40.5 + step)).toPoint())
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.viewportTransform().map(QPointF(50.5, 45.5)).toPoint())
    assert (window.edit.hints[0].x, window.edit.hints[0].y) == (50, 45)
    assert window.undo_stack.count() == 3  # two adds and one merged move
    window.hint_tool.select(window.edit.hints[1].id)
    window.actions_by_name["hint_bigger"].trigger()
    assert window.edit.hints[1].radius > window.edit.hints[0].radius
    window.actions_by_name["delete_hint"].trigger()
    assert len(window.edit.hints) == 1
    window.hint_tool.select(window.edit.hints[0].id)
    window.actions_by_name["deselect_hint"].trigger()
    assert window.hint_tool.selected is None and "new hints" in window.colour_panel.title.text()
    click_pixel(qtbot, window, 50, 45, Qt.MouseButton.RightButton)
    assert window.edit.hints == ()


def test_removing_a_hint_keeps_the_selection_on_its_hint(opened, qtbot):
    window = opened
    for x in (20, 60, 100):
        click_pixel(qtbot, window, x, 40)
    second = window.edit.hints[1].id
    window.hint_tool.select(second)
    click_pixel(qtbot, window, 20, 40, Qt.MouseButton.RightButton)  # remove the first
    assert window.hint_tool.selected == second and window.edit.hint(second).x == 60
    assert "hint 1 " in window.colour_panel.title.text()  # now the first in the list
    window.actions_by_name["delete_hint"].trigger()
    assert window.hint_tool.selected is None and [h.x for h in window.edit.hints] == [100]


def test_undo_redo_restore_exact_state(opened, qtbot, photos):
    window = opened
    states = [window.edit]

    def record():
        states.append(window.edit)

    click_pixel(qtbot, window, 10, 10)
    record()
    click_pixel(qtbot, window, 100, 70)
    record()
    window.colour_panel.pick_rgb((30, 90, 200))
    record()
    pin(qtbot, window, photos["reference"])
    record()
    window.blend_slider.slider.setValue(40)
    record()
    window.set_working_size(384)
    record()
    window.remove_reference(str(photos["reference"]))
    record()
    assert [window.undo_stack.text(i) for i in range(window.undo_stack.count())] == [
        "Add colour hint", "Add colour hint", "Change hint colour", "Add reference dress.jpg",
        "Reference strength 40%", "Working size 384 px", "Remove reference dress.jpg",
    ]
    for i in range(len(states) - 1, 0, -1):
        window.actions_by_name["undo"].trigger()
        assert window.edit == states[i - 1]
    assert window.undo_stack.isClean() and not window.isWindowModified()
    for i in range(1, len(states)):
        window.actions_by_name["redo"].trigger()
        assert window.edit == states[i]
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.working_size == 384  # the worker followed the last state


def test_blend_drag_merges_into_one_undo_step_and_updates_live(opened, qtbot, photos):
    window = opened
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window)
    steps = window.undo_stack.count()
    slider = window.blend_slider.slider
    slider.setSliderDown(True)  # the user grabs the handle ...
    for value in (90, 75, 60, 45, 30):
        slider.setValue(value)  # ... and drags it
        QApplication.processEvents()
    slider.setSliderDown(False)
    assert window.undo_stack.count() == steps + 1
    assert window.edit.blend == 0.3
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.blend == 0.3
    window.undo_stack.undo()
    assert window.edit.blend == 1.0 and window.blend_slider.slider.value() == 100


def test_content_matching_toggle_is_an_undoable_edit(opened, qtbot, photos):
    window = opened
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window)
    action = window.actions_by_name["match_content"]
    assert action.isChecked() and window.status.match_label.text() == "Reference match 25%"
    action.trigger()  # off: the reference's palette everywhere
    assert not window.edit.match_content
    assert window.undo_stack.text(window.undo_stack.index() - 1) == "Reference palette everywhere"
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.match_content is False and window.status.match_label.text() == ""
    window.undo_stack.undo()
    assert window.edit.match_content and action.isChecked()
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.match_content is True


def test_slider_with_the_mouse_is_one_step(opened, qtbot, photos):
    window = opened
    pin(qtbot, window, photos["reference"])
    steps = window.undo_stack.count()
    slider = window.blend_slider.slider
    handle_x = slider.width() - 4
    y = slider.height() // 2
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(handle_x, y))
    for x in range(handle_x, slider.width() // 3, -10):
        qtbot.mouseMove(slider, QPoint(x, y))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() // 3, y))
    assert window.edit.blend < 0.7
    assert window.undo_stack.count() <= steps + 1


def test_drag_and_drop_of_a_file_opens_it(make_window, photos, qtbot):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos["photo"]))])
    pos = QPointF(window.canvas.geometry().center())
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    wait_opened(qtbot, window)
    wait_for_preview(qtbot, window)
    assert window.edit.photo == str(photos["photo"])


def test_dropping_a_non_image_is_refused(make_window, tmp_path):
    window = make_window()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(text))])
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()


def test_images_dropped_on_the_reference_panel_become_references(make_window, photos, tmp_path):
    # Sent through Qt's event dispatch, so the shared drop handling is what Qt calls.
    panel = make_window().reference_panel
    dropped = []
    panel.references_dropped.connect(dropped.append)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for files, accepted in (([text], False), ([text, photos["reference"]], True)):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
        args = (QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        enter = QDragEnterEvent(*args)
        QApplication.sendEvent(panel, enter)
        assert enter.isAccepted() is accepted
        QApplication.sendEvent(panel, QDropEvent(*args))
    assert dropped == [[str(photos["reference"])]]


def test_references_pin_remove_and_automatic(opened, qtbot, photos):
    window = opened
    window.reference_panel.references_dropped.emit([str(photos["reference"])])
    qtbot.waitUntil(lambda: len(window.edit.references) == 1)
    window.reference_panel.reference_pinned.emit(str(photos["reference2"]))
    qtbot.waitUntil(lambda: len(window.edit.references) == 2)
    assert window.edit.reference_paths == (str(photos["reference"]), str(photos["reference2"]))
    assert window.reference_panel.pinned_paths() == list(window.edit.reference_paths)
    assert not window.reference_panel.automatic.isChecked()
    wait_for_preview(qtbot, window)
    assert window.colour_panel.palette_buttons  # a palette from the references
    assert window.status.match_label.text() == "Reference match 50%"
    window.reference_panel.pinned.item(0).setSelected(True)
    window.reference_panel.remove_button.click()
    assert window.edit.reference_paths == (str(photos["reference2"]),)
    window.reference_panel.automatic.click()
    assert window.edit.automatic and window.reference_panel.automatic.isChecked()
    assert not window.blend_slider.isEnabled()
    wait_for_preview(qtbot, window)
    assert window.status.match_label.text() == ""
    window.undo_stack.undo()
    assert window.edit.reference_paths == (str(photos["reference2"]),)


def test_grey_reference_is_refused_with_a_message(opened, qtbot, photos):
    window = opened
    window.add_references([str(photos["grey_reference"])])
    qtbot.waitUntil(lambda: window.dialogs.last_error is not None)
    assert "no colour" in window.dialogs.last_error
    assert window.edit.automatic and window.undo_stack.count() == 0
    box = window.dialogs.message_box
    assert box is not None and box.isVisible() and "no colour" in box.text()


def test_reference_folder_browser(opened, qtbot, photos):
    window = opened
    window.dialogs.choose_folder = lambda title, folder: str(photos["folder"])
    window.actions_by_name["reference_folder"].trigger()
    panel = window.reference_panel
    assert panel.browser.count() == 5
    qtbot.waitUntil(lambda: panel.thumbnails_pending == 0)
    item = next(panel.browser.item(i) for i in range(panel.browser.count()) if panel.browser.item(i).text() == "dress.jpg")
    panel.browser.itemActivated.emit(item)
    qtbot.waitUntil(lambda: bool(window.edit.references))
    assert window.edit.reference_paths == (str(photos["reference"]),)


def test_worker_error_shows_a_message_and_the_app_keeps_working(make_window, photos, qtbot):
    from desktop_fakes import FakeColorizer

    made = []

    def failing(options):
        colorizer = FakeColorizer(options, fail_with=RuntimeError("the network exploded"))
        made.append(colorizer)
        return colorizer

    window = make_window(factory=failing)
    window.open_photo(photos["photo"])
    qtbot.waitUntil(lambda: window.dialogs.last_error is not None, timeout=10_000)
    message = window.dialogs.last_error
    assert "the network exploded" in message and "Your edit is safe" in message
    box = window.dialogs.message_box
    assert box.isVisible() and box.text() == message
    made[0].fail_with = None
    click_pixel(qtbot, window, 10, 10)  # still alive: the next edit previews fine
    wait_for_preview(qtbot, window)
    assert window.worker_thread.isRunning()


def test_missing_weights_give_a_clear_message(make_window, photos, qtbot):
    from core.weights import WeightsError

    def no_weights(options):
        raise WeightsError("The weights file colornet.pt is missing. Reinstall Heirloom to restore the bundled weights.")

    window = make_window(factory=no_weights)
    qtbot.waitUntil(lambda: window.dialogs.last_error is not None, timeout=10_000)
    assert "Reinstall Heirloom" in window.dialogs.last_error
    window.open_photo(photos["photo"])  # the photo still opens and shows
    wait_opened(qtbot, window)
    assert window.canvas.image_size == (200, 150)


def test_stale_results_are_dropped(opened, qtbot):
    window = opened
    shown = window.last_preview
    old_tag = window.shown_tag
    newer = window.request_preview()
    wait_for_preview(qtbot, window)
    assert window.shown_tag == newer
    dropped = window.dropped_results
    window.worker.preview_ready.emit(old_tag, shown)  # a late result of an older request
    assert window.shown_tag == newer and window.last_preview is not shown
    assert window.dropped_results == dropped + 1


def test_results_for_a_previous_photo_are_dropped(opened, qtbot, photos):
    window = opened
    old_tag, old = window.shown_tag, window.last_preview
    open_and_wait(qtbot, window, photos["scan16"])
    window.worker.preview_ready.emit(old_tag, old)
    assert window.last_preview is not old and window.canvas.image_size == (120, 90)


def test_edit_save_and_open_round_trip(opened, qtbot, photos, tmp_path):
    window = opened
    pin(qtbot, window, photos["reference"])
    click_pixel(qtbot, window, 33, 44)
    window.colour_panel.pick_rgb((200, 60, 40))
    window.blend_slider.slider.setValue(65)
    window.set_working_size(192)
    saved = window.edit
    path = tmp_path / "grandma.heirloom.json"
    window.dialogs.save_edit = lambda suggested: str(path)
    assert window.actions_by_name["save_edit"].isEnabled()
    window.actions_by_name["save_edit"].trigger()
    assert path.is_file() and not window.isWindowModified()
    assert read_edit(path) == saved

    other = type(window)(window.options, factory=window.worker.factory, settings=window.settings, autosave_dir=tmp_path / "a2", display_side=400)
    qtbot.addWidget(other)
    try:
        other.open_edit(path)
        wait_opened(qtbot, other)
        wait_for_preview(qtbot, other)
        assert other.edit == saved
        assert other.undo_stack.count() == 0 and not other.isWindowModified()
        assert [m.x for m in other.canvas.markers] == [33]
        assert other.reference_panel.pinned_paths() == [str(photos["reference"])]
        assert other.blend_slider.slider.value() == 65
    finally:
        other.shutdown()


def test_an_edit_saved_by_an_older_heirloom_opens(make_window, qtbot, photos, tmp_path):
    path = tmp_path / "old.heirloom.json"
    path.write_text(
        '{"format": "heirloom-session/1", "photo": "photos/grandma.png", "references": [{"path": "photos/dress.jpg", '
        '"weight": 1.0}], "blend": 0.7, "hints": [{"x": 5, "y": 6, "ab": [10.0, 20.0], "radius": 2.0}], "working_size": 192}'
    )
    window = make_window()
    window.open_edit(path)
    wait_opened(qtbot, window)
    wait_for_preview(qtbot, window)
    assert window.edit.photo == str(photos["photo"]) and window.edit.reference_paths == (str(photos["reference"]),)
    assert window.edit.blend == 0.7 and window.edit.working_size == 192 and window.edit.hints[0].ab == (10.0, 20.0)


def test_export_writes_full_size_and_leaves_the_original_untouched(make_window, photos, qtbot, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, photos["scan16"])
    original = photos["scan16"].read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    target = tmp_path / "out" / "scan16-colour.png"
    window.dialogs.export_path = lambda suggested: str(target)
    window.actions_by_name["export"].trigger()
    wait_job(qtbot, window, window.jobs.last_tag)
    with Image.open(target) as image:
        assert image.size == (120, 90)
    from core.imageio import load_photo

    exported = load_photo(target)
    assert exported.bit_depth == 16 and exported.size == (120, 90) and exported.has_colour
    assert hashlib.sha256(photos["scan16"].read_bytes()).hexdigest() == digest


def test_export_over_the_original_is_refused(opened, photos):
    window = opened
    before = photos["photo"].read_bytes()
    assert window.exports.export_to(photos["photo"]) is None
    assert "original" in window.dialogs.last_error
    assert photos["photo"].read_bytes() == before


def test_export_can_be_cancelled(make_window, photos, qtbot, tmp_path):
    from desktop_fakes import FakeColorizer

    slow = lambda options: FakeColorizer(options, delay=2.0)  # noqa: E731  (an export: four 0.5 s strips)
    window = make_window(factory=slow)
    open_and_wait(qtbot, window, photos["photo"])
    target = tmp_path / "slow.png"
    cancelled = []
    window.worker.cancelled.connect(cancelled.append, Qt.ConnectionType.DirectConnection)
    tag = window.exports.export_to(target)
    dialog = window.jobs.jobs[tag].dialog
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=20_000)  # the first strip is done, three to go
    # the tracker ends the job when the worker's report of the cancel reaches the window's thread
    with qtbot.waitSignal(window.jobs.ended, timeout=10_000, check_params_cb=lambda ended, kind: ended == tag):
        window.jobs.jobs[tag].dialog.canceled.emit()  # the Cancel button
    qtbot.waitUntil(lambda: cancelled == [tag], timeout=10_000)  # the worker reported the cancel
    assert not target.exists()
    assert tag not in window.jobs.jobs


def test_batch_colorizes_a_folder(opened, qtbot, photos, tmp_path):
    window = opened
    out = tmp_path / "batch-out"
    with qtbot.waitSignal(window.jobs.finished, timeout=20_000) as done:  # emitted after the report is shown
        tag = window.exports.batch(str(photos["folder"]), str(out))
    assert done.args[:2] == [tag, "batch"]
    result = done.args[2]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{p.stem}-colour.png" for p in photos["folder"].iterdir())
    assert len(result.written) == 5 and not result.failures and not result.notes
    assert "Colorized 5 photos" in window.dialogs.message_box.text()
    wait_for_preview(qtbot, window)  # the edit's own photo comes back afterwards
    assert window.worker.colorizer.last_edit.photo == str(photos["photo"])


def test_batch_never_writes_over_a_file(opened, qtbot, photos, tmp_path):
    """a.jpg and a.png get a result each, an original named like a result is never written over,
    a second run keeps the first run's results, and the report names each of these."""
    window = opened
    folder = tmp_path / "album"
    folder.mkdir()
    with Image.open(photos["photo"]) as grey:
        for name in ("a.jpg", "a.png", "x.png", "x-colour.png"):
            grey.save(folder / name)
    original = (folder / "x-colour.png").read_bytes()

    def run():
        with qtbot.waitSignal(window.jobs.finished, timeout=20_000) as done:
            window.exports.batch(str(folder), str(folder))
        return done.args[2]

    first = run()
    assert sorted(Path(p).name for p in first.written) == ["a-colour-1.png", "a-colour.png", "x-colour-1.png"]
    assert (folder / "x-colour.png").read_bytes() == original
    assert any("a.png" in note and "a.jpg" in note for note in first.notes), first.notes
    assert any(note.startswith("x-colour.png already exists") for note in first.notes)
    report = window.dialogs.message_box.text()
    assert "x-colour.png looks like an earlier result" in report and "a-colour-1.png" in report
    results = {name: (folder / name).read_bytes() for name in ("a-colour.png", "a-colour-1.png", "x-colour-1.png")}
    second = run()
    assert len(second.written) == 3 and not set(second.written) & set(first.written)
    assert all((folder / name).read_bytes() == data for name, data in results.items())
    assert (folder / "x-colour.png").read_bytes() == original


@pytest.mark.parametrize("replace", [True, False])
def test_batch_replaces_earlier_results_only_when_the_user_says_so(opened, qtbot, photos, tmp_path, replace):
    window = opened
    out = tmp_path / "out"
    out.mkdir()
    (out / "grandma-colour.png").write_bytes(b"an earlier result")
    folders = iter([str(photos["folder"]), str(out)])
    window.dialogs.choose_folder = lambda title, folder: next(folders)
    asked = []
    window.dialogs.ask_yes_no = lambda title, text: asked.append(title) or replace
    with qtbot.waitSignal(window.jobs.finished, timeout=20_000):
        window.actions_by_name["batch"].trigger()
    assert asked == ["Earlier results"]
    assert ((out / "grandma-colour.png").read_bytes() == b"an earlier result") is not replace
    assert (out / "grandma-colour-1.png").exists() is not replace


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _crash(window) -> None:
    """Stop a window as a crash would: its autosave and lock stay, and their owner is gone."""
    window.shutdown()
    lock = window.edit_files.lock_path
    lock.write_text(lock.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {_dead_pid()}'))


def test_autosave_and_recovery_after_a_crash(make_window, photos, qtbot):
    window = make_window()
    open_and_wait(qtbot, window, photos["photo"])
    click_pixel(qtbot, window, 12, 34)
    window.edit_files.autosave()
    assert window.edit_files.autosave_path.is_file() and window.edit_files.lock_path.is_file()
    crashed_edit = window.edit
    _crash(window)

    again = make_window()
    again.dialogs.ask_recover = lambda name: True
    assert again.offer_recovery()
    wait_opened(qtbot, again)
    wait_for_preview(qtbot, again)
    assert again.edit == crashed_edit
    assert again.isWindowModified()  # recovered work is unsaved work
    assert again.edit_files.autosave_path.is_file()  # adopted: kept until saved or closed cleanly
    assert not window.edit_files.autosave_path.exists() and not window.edit_files.lock_path.exists()


def test_each_window_keeps_its_own_autosave(make_window, photos, qtbot):
    first, second = make_window(), make_window()
    for window in (first, second):
        open_and_wait(qtbot, window, photos["photo"])
        click_pixel(qtbot, window, 12, 34)
        window.edit_files.autosave()
    assert first.edit_files.autosave_path != second.edit_files.autosave_path
    asked = []
    third = make_window()
    third.dialogs.ask_recover = lambda name: asked.append(name) or False
    assert not third.offer_recovery() and asked == []  # the others are alive: nothing to recover
    second.close()  # a clean close deletes its own autosave only
    assert not second.edit_files.autosave_path.exists() and not second.edit_files.lock_path.exists()
    assert first.edit_files.autosave_path.is_file()


def test_clean_close_removes_the_autosave(make_window, photos, qtbot):
    window = make_window()
    open_and_wait(qtbot, window, photos["photo"])
    click_pixel(qtbot, window, 12, 34)
    window.edit_files.autosave()
    assert window.edit_files.autosave_path.is_file()
    window.close()
    assert not window.edit_files.autosave_path.exists()


@pytest.mark.parametrize("content", ['{"format": "heirloom-session/1", "working_size": 1e400}', "[" * 100_000, "not json"])
def test_a_recovery_file_that_cannot_be_read_is_moved_aside_once(make_window, tmp_path, content):
    folder = tmp_path / "autosave"
    folder.mkdir()
    bad = folder / "autosave.heirloom.json"  # an older Heirloom's single autosave (no lock: no owner)
    bad.write_text(content)
    window = make_window()
    window.dialogs.ask_recover = lambda name: pytest.fail("an unreadable file was offered")
    assert not window.offer_recovery()
    assert not bad.exists() and (folder / "autosave.heirloom.json.bad").read_text() == content
    assert "autosave.heirloom.json.bad" in window.dialogs.last_error
    window.dialogs.last_error = None
    assert not window.offer_recovery() and window.dialogs.last_error is None  # never again


def test_window_title_marks_unsaved_work(opened, qtbot):
    window = opened
    assert not window.isWindowModified()
    click_pixel(qtbot, window, 5, 5)
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert not window.isWindowModified()


def test_recent_files_menu(opened, photos, qtbot):
    window = opened
    menu = window.submenus["recent"]
    texts = [a.text() for a in menu.actions() if a.text()]
    assert any("grandma.png" in t for t in texts)
    assert window.settings.recent_files()[0] == str(photos["photo"])


def test_settings_persist_device_and_working_size(make_window, settings):
    window = make_window()
    window.set_device("cpu")
    window.set_working_size(512)
    options = settings.engine_options()
    assert options.device == "cpu" and options.working_size == 512


def test_picker_colours_and_recent_list(opened, qtbot, photos):
    window = opened
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window)
    click_pixel(qtbot, window, 60, 60)
    window.colour_panel.palette_buttons[1].click()
    assert window.edit.hints[0].ab != pytest.approx((0, 0)) and not window.edit.hints[0].picked
    assert window.colour_panel.recent_buttons and window.settings.recent_colours()
    before = window.edit.hints[0].ab
    window.colour_panel.predicted_button.click()
    assert window.edit.hints[0].ab != before and window.edit.hints[0].picked  # the model's colour: a pin again
    assert window.undo_stack.count() == 4  # reference, hint, palette colour, predicted colour


def test_gamut_drag_recolours_in_one_step(opened, qtbot):
    window = opened
    click_pixel(qtbot, window, 60, 60)
    gamut = window.colour_panel.gamut
    steps = window.undo_stack.count()
    centre = gamut.point_of((0.0, 0.0)).toPoint()
    qtbot.mousePress(gamut, Qt.MouseButton.LeftButton, pos=centre)
    for dx in range(2, 30, 4):
        qtbot.mouseMove(gamut, centre + QPoint(dx, -dx // 2))
    qtbot.mouseRelease(gamut, Qt.MouseButton.LeftButton, pos=centre + QPoint(28, -14))
    assert window.undo_stack.count() == steps + 1
    a, b = window.edit.hints[0].ab
    assert a > 5 and b > 2
    assert len(window.settings.recent_colours()) == 1  # one drag, one recent colour


def test_every_action_comes_from_the_table(make_window):
    from desktop.actions import ACTIONS

    window = make_window()
    for spec in ACTIONS:
        assert spec.name in window.actions_by_name or spec.name in window.submenus
    keys = [k for spec in ACTIONS for k in spec.shortcuts]
    assert len(keys) == len(set(keys)), "a shortcut is used twice"
    assert window.actions_by_name["undo"].shortcut().toString() == "Ctrl+Z"
    assert window.actions_by_name["redo"].shortcuts()[0].toString() == "Ctrl+Shift+Z"


def test_history_view_jumps_back(opened, qtbot):
    window = opened
    for x in (10, 20, 30):
        click_pixel(qtbot, window, x, x)
    window.history.setCurrentIndex(window.history.model().index(1, 0))
    assert len(window.edit.hints) == 1


def test_demo_opens_photo_and_reference(make_window, qtbot):
    window = make_window()
    window.open_demo()
    wait_opened(qtbot, window)
    wait_for_preview(qtbot, window)
    assert window.edit.photo.endswith("demo_photo.jpg")
    assert window.edit.reference_paths[0].endswith("demo_reference.jpg")
    assert window.last_preview.original_size == (918, 1170)


def test_dragging_the_slider_never_queues_work(make_window, photos, qtbot):
    from desktop_fakes import FakeColorizer

    window = make_window(factory=lambda options: FakeColorizer(options, delay=0.25))
    open_and_wait(qtbot, window, photos["photo"])
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window)
    before = len(window.worker.processed_previews)
    slider = window.blend_slider.slider
    slider.setSliderDown(True)
    for value in range(98, 38, -2):  # 30 moves in a few milliseconds each, far faster than one (0.25 s) preview
        slider.setValue(value)
        QApplication.processEvents()
    slider.setSliderDown(False)
    wait_for_preview(qtbot, window)
    computed = len(window.worker.processed_previews) - before
    assert computed <= 4, computed
    assert window.worker.colorizer.last_edit.blend == 0.4 and window.undo_stack.count() == 2


def test_hold_b_shows_the_original(opened, qtbot):
    window = opened
    canvas = window.canvas
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_B)
    assert canvas._show_original
    qtbot.keyRelease(canvas, Qt.Key.Key_B)
    assert not canvas._show_original
    button = window.toolbar.widgetForAction(window.actions_by_name["hold_original"])
    button.pressed.emit()
    assert canvas._show_original
    button.released.emit()
    assert not canvas._show_original


def test_split_divider_can_be_dragged(opened, qtbot):
    window = opened
    window.actions_by_name["split_view"].trigger()
    canvas = window.canvas
    assert canvas.split == 0.5
    start = canvas.viewportTransform().map(QPointF(100, 75)).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), canvas.viewportTransform().map(QPointF(150, 75)).toPoint())
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton)
    assert canvas.split == pytest.approx(0.75, abs=0.02)
    assert window.edit.hints == ()  # dragging the divider adds no hint


def test_middle_drag_pans(opened, qtbot):
    window = opened
    canvas = window.canvas
    canvas.set_zoom(4.0)
    canvas.centerOn(100, 75)
    before = canvas.horizontalScrollBar().value()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(canvas.viewport(), QPoint(150, 200))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=QPoint(150, 200))
    assert canvas.horizontalScrollBar().value() == before + 50
    assert window.edit.hints == ()
