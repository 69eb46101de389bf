"""'Train on my photos' with a fake trainer: progress, live loss plot, stop, and the model menu."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch

from core.weights import save_weights, user_weights_dir
from desktop.train_dialog import LossPlot, TrainDialog, format_eta


@dataclass
class FakeProgress:
    step: int
    total: int
    losses: dict
    seconds: float
    eta: float
    message: str = ""


def fake_trainer(pause: float = 0.0):
    calls = []

    def run_finetune(photos_dir, name, steps, progress, should_stop):
        calls.append((photos_dir, name, steps))
        progress(FakeProgress(0, steps, {}, 0.0, 0.0, "Found 3 photos"))
        done = 0
        for step in range(1, steps + 1):
            if should_stop():
                break
            time.sleep(pause)
            progress(FakeProgress(step, steps, {"l1": 1.0 / step, "hint": 0.5 / step}, step * 0.01, (steps - step) * 0.01))
            done = step
        return save_weights(
            user_weights_dir() / f"{name}.pt", "colornet", {"width": 0.125}, {"w": torch.zeros(1)},
            {"description": f"{name} ({done} steps)"}, register_as=name,
        )

    run_finetune.calls = calls
    return run_finetune


def test_eta_text():
    assert format_eta(None) == "" and format_eta(float("nan")) == ""
    assert format_eta(12) == "about 12 s left"
    assert format_eta(600) == "about 10 min left"
    assert format_eta(3 * 3600) == "about 3.0 h left"


def test_loss_plot_paints(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 150)
    plot.grab()  # empty state
    for step in range(1, 20):
        plot.add(step, 20, {"l1": 1 / step, "bad": float("nan")})
    assert list(plot.series) == ["l1"] and len(plot.series["l1"]) == 19
    assert not plot.grab().isNull()


def test_training_runs_in_the_worker_and_offers_the_model(make_window, qtbot, photos):
    trainer = fake_trainer()
    window = make_window(trainer=trainer)
    window.actions_by_name["train"].trigger()
    dialog = window.train_dialog
    assert dialog.isVisible()
    dialog.folder_edit.setText(str(photos["folder"]))
    dialog.name_edit.setText("Family 1950s")
    dialog.steps_spin.setValue(25)
    dialog.start_button.click()
    assert dialog.running and not dialog.close_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert trainer.calls == [(str(photos["folder"]), "Family 1950s", 25)]
    assert dialog.progress_bar.value() == 1000
    assert len(dialog.plot.series["l1"]) == 25
    assert "ready" in dialog.status.text() and dialog.use_button.isVisible()
    models = [a.data() for a in window.submenus["models"].actions()]
    assert "Family 1950s" in models
    dialog.use_button.click()
    assert window.settings.engine_options().colornet == "Family 1950s"
    assert window.options.colornet == "Family 1950s"
    checked = [a.data() for a in window.submenus["models"].actions() if a.isChecked()]
    assert checked == ["Family 1950s"]


def test_training_can_be_stopped(make_window, qtbot, photos):
    window = make_window(trainer=fake_trainer(pause=0.02))
    window.actions_by_name["train"].trigger()
    dialog = window.train_dialog
    dialog.folder_edit.setText(str(photos["folder"]))
    dialog.steps_spin.setValue(5000)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=10_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert "stopped early" in dialog.status.text()
    assert dialog.plot.series["l1"][-1][0] < 5000


def test_missing_training_module_gives_a_clear_message(make_window, qtbot, photos, monkeypatch):
    from desktop.app import finetune_trainer  # what the app injects

    monkeypatch.setitem(sys.modules, "training.finetune", None)  # import fails
    window = make_window(trainer=finetune_trainer)
    window.actions_by_name["train"].trigger()
    dialog = window.train_dialog
    dialog.folder_edit.setText(str(photos["folder"]))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert "Training is not available" in dialog.status.text()


def test_start_needs_a_folder(qtbot, tmp_path):
    dialog = TrainDialog("")
    qtbot.addWidget(dialog)
    with qtbot.assertNotEmitted(dialog.start_requested):
        dialog.start_button.click()
    assert "folder" in dialog.status.text()
    dialog.folder_edit.setText(str(tmp_path))
    dialog.name_edit.setText("  ")
    with qtbot.assertNotEmitted(dialog.start_requested):
        dialog.start_button.click()
    assert "name" in dialog.status.text()
