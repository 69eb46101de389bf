"""The hint tool: turns what the user does on the canvas and in the colour panel into hint edits.

It holds the tool's own state, never the edit: which hint is selected (by id), the brush colour for
new hints, the patch size last chosen and the reach of new hints (kept in the app settings). A click
adds one hint; a Shift-drag paints a stroke, a line of hints of one colour added as one undo step.
Canvas signals and undo commands name hints by id, so a removal never shifts the selection onto
another hint. The numbers it shows come from the worker: marker colours with each preview, and a
:class:`core.api.Probe` of the selected hint's pixel (its lightness, the model's colour there and the
gamut) through ``probe(edit, x, y, on_done)``.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.edit import MAX_HINT_RADIUS, MAX_HINTS, Edit, Hint
from desktop import commands
from desktop.canvas import HintCanvas, Marker, points_along, wheel_radius
from desktop.color_picker import HintColourPanel, ab_to_rgb8, default_lightness, gamut_rgba, snap_ab
from desktop.document import EditDocument
from desktop.settings import AppSettings

Probe = Callable[[Edit, float, float, Callable[[object], None]], None]

MAX_STROKE_HINTS = 64  # a longer stroke spaces its hints wider


class HintTool(QObject):
    selection_changed = Signal()  # (also when the markers were redrawn; cheap to follow)

    def __init__(
        self,
        document: EditDocument,
        undo_stack: QUndoStack,
        canvas: HintCanvas,
        panel: HintColourPanel,
        settings: AppSettings,
        probe: Probe,
        say: Callable[[str, int], None],
        parent: QObject | None = None,
        shown: Callable[[], object] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self.canvas = canvas
        self.panel = panel
        self.settings = settings
        self.probe = probe
        self.say = say
        self.shown = shown  # the PreviewResult on screen (its edit, and its colours at working size)
        self.selected: int | None = None  # id of the selected hint
        self.brush_ab: tuple[float, float] | None = None  # colour for new hints, once chosen
        self.radius: float | None = None  # patch size last chosen with the wheel or keys
        self.reach: float = settings.hint_reach()  # how far new hints spread, last chosen
        self.hint_lightness: dict[int, float] = {}  # each hint's pixel, from the latest preview
        self._probed = None  # (hint id, x, y, Probe) of the selected hint
        self._drag_gesture: int | None = None
        self._recent_gesture: int | None = None
        canvas.hint_added.connect(self._on_hint_added)
        canvas.hint_pressed.connect(self._on_hint_pressed)
        canvas.hint_moved.connect(self._on_hint_moved)
        canvas.hint_released.connect(self._on_hint_released)
        canvas.hint_removed.connect(self.remove)
        canvas.hint_resized.connect(self.resize)
        canvas.stroke_drawn.connect(self._on_stroke_drawn)
        panel.colour_picked.connect(self._on_colour_picked)
        panel.reach.reach_changed.connect(self._on_reach_changed)
        panel.reach.set_value(self.reach)

    @property
    def edit(self) -> Edit:
        return self.document.edit

    def _selected_hint(self) -> Hint | None:
        if self.selected is not None and self.edit.has_hint(self.selected):
            return self.edit.hint(self.selected)
        return None

    # -- views --------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new photo: no selection, no brush colour, the default patch size."""
        self.selected, self.brush_ab, self.radius, self._probed = None, None, None, None
        self.hint_lightness = {}

    def hints_changed(self) -> None:
        if self.selected is not None and not self.edit.has_hint(self.selected):
            self.selected = None
        self.refresh()

    def preview_shown(self, hint_lightness: dict | None, final: bool) -> None:
        """A preview arrived: new marker colours; once final, the selected hint is probed again."""
        self.hint_lightness = dict(hint_lightness or {})
        self.refresh()
        if final:
            self._probe_selected()

    def refresh(self) -> None:
        markers = [Marker(h.x, h.y, h.radius, self._marker_rgb(h), h.id) for h in self.edit.hints]
        self.canvas.set_markers(markers, self.selected)
        brush_rgb = ab_to_rgb8(default_lightness(), self.brush_ab) if self.brush_ab is not None else None
        self.canvas.set_brush(brush_rgb, self.default_radius())
        hint = self._selected_hint()
        self.panel.reach.set_value(hint.reach if hint is not None else self.reach)
        if hint is None:
            L = default_lightness()
            self.panel.set_context(L, self.brush_ab, None, "Colour for new hints — click the photo to add one", gamut_rgba(L))
            self.selection_changed.emit()
            return
        probe = self._probe_of(hint)
        lightness = probe.L if probe is not None else self.hint_lightness.get(hint.id, self.panel.lightness)
        predicted = tuple(float(v) for v in probe.ab) if probe is not None else None
        number = [h.id for h in self.edit.hints].index(hint.id) + 1
        self.panel.set_context(
            lightness, hint.ab, predicted, f"Colour of hint {number} (at {int(hint.x)}, {int(hint.y)})",
            probe.gamut if probe is not None else None,
        )
        self.selection_changed.emit()

    def _marker_rgb(self, hint: Hint) -> tuple[int, int, int]:
        probe = self._probe_of(hint)
        lightness = probe.L if probe is not None else self.hint_lightness.get(hint.id, default_lightness())
        return ab_to_rgb8(lightness, hint.ab)

    def _probe_of(self, hint: Hint):
        if self._probed is not None and self._probed[:3] == (hint.id, hint.x, hint.y):
            return self._probed[3]
        return None

    def _probe_selected(self) -> None:
        hint = self._selected_hint()
        if hint is None:
            return
        key = (hint.id, hint.x, hint.y)

        def probed(probe) -> None:
            self._probed = (*key, probe)
            self.refresh()

        self.probe(self.edit, hint.x, hint.y, probed)

    def select(self, hint_id: int | None) -> None:
        self.selected = hint_id if hint_id is not None and self.edit.has_hint(hint_id) else None
        self.refresh()
        self._probe_selected()

    # -- canvas -------------------------------------------------------------------------------
    def default_radius(self) -> float:
        if self.radius is not None:
            return self.radius
        W, H = self.canvas.image_size or (1, 1)
        scale = min(W, H) / min(min(W, H), self.edit.working_size)
        return float(min(MAX_HINT_RADIUS, max(1.0, round(scale))))  # about 3 x 3 working pixels

    def _shown_colour(self, x: float, y: float) -> tuple[float, tuple[float, float]] | None:
        """(L, ab) of the result on screen at (x, y) when it shows the current edit, else None."""
        result = self.shown()
        if result is None or getattr(result, "working", None) is None or result.edit != self.edit:
            return None
        return result.working.colour_at(x, y)

    def _on_hint_added(self, x: float, y: float) -> None:
        """A new hint appears at once in the model's colour there, read from the result on screen (or
        in the brush colour, moved into that pixel's gamut), so a click costs one preview. When the
        screen still shows an older edit, it appears in the brush colour (or grey) and the colour
        settles in when the worker replies to a probe."""
        if self.edit.photo is None:
            return
        before = self.edit
        brush = self.brush_ab
        shown = self._shown_colour(x, y)
        provisional = brush or (0.0, 0.0)
        if shown is not None:
            provisional = snap_ab(shown[0], brush if brush is not None else shown[1])
        hint = Hint(x, y, provisional, self.default_radius(), reach=self.reach, picked=brush is None)
        command = commands.AddHint(self.document, hint)
        self.selected = command.hint_id
        self.undo_stack.push(command)
        if shown is not None:
            return

        def settle(probe) -> None:
            ab = snap_ab(probe.L, brush if brush is not None else probe.ab)
            commands.settle_hint_colour(self.undo_stack, self.document, command.hint_id, provisional, ab)

        self.probe(before, x, y, settle)

    def _on_stroke_drawn(self, path) -> None:
        """A Shift-drag ended: a hint about every patch width along it, in one colour, one undo step.
        Without a brush colour the stroke takes the model's colour where it began (from the result on
        screen, or from a probe when the screen still shows an older edit)."""
        if self.edit.photo is None or not path:
            return
        radius = self.default_radius()
        points = points_along(path, max(2 * radius, 1.0), MAX_STROKE_HINTS)
        if len(self.edit.hints) + len(points) > MAX_HINTS:
            self.say(f"An edit holds at most {MAX_HINTS:,} hints; remove some before painting another stroke.", 8000)
            return
        before = self.edit
        brush = self.brush_ab
        shown = self._shown_colour(float(points[0][0]), float(points[0][1])) if brush is None else None
        provisional = brush or (snap_ab(shown[0], shown[1]) if shown is not None else (0.0, 0.0))
        command = commands.AddStroke(self.document, [Hint(x, y, provisional, radius, reach=self.reach) for x, y in points])
        self.selected = None  # the panel keeps the brush: the next stroke paints in the same colour
        self.undo_stack.push(command)
        self.say(f"Stroke of {len(points)} hints", 2000)
        if brush is None and shown is None:

            def settle(probe) -> None:
                ab = snap_ab(probe.L, probe.ab)
                commands.settle_hint_colours(self.undo_stack, self.document, command.hint_ids, provisional, ab)

            self.probe(before, float(points[0][0]), float(points[0][1]), settle)

    def _on_hint_pressed(self, hint_id: int) -> None:
        self._drag_gesture = commands.new_gesture()
        self.select(hint_id)

    def _on_hint_moved(self, hint_id: int, x: float, y: float) -> None:
        if self.edit.has_hint(hint_id):
            gesture = self._drag_gesture if self._drag_gesture is not None else commands.new_gesture()
            self.undo_stack.push(commands.MoveHint(self.document, hint_id, x, y, gesture))

    def _on_hint_released(self, hint_id: int) -> None:
        self._drag_gesture = None

    def remove(self, hint_id: int) -> None:
        if self.edit.has_hint(hint_id):
            if self.selected == hint_id:
                self.selected = None
            self.undo_stack.push(commands.RemoveHint(self.document, hint_id))

    def resize(self, hint_id: int, radius: float) -> None:
        if self.edit.has_hint(hint_id):
            self.radius = min(max(radius, 0.0), MAX_HINT_RADIUS)
            self.undo_stack.push(commands.ResizeHint(self.document, hint_id, radius))
            self.say(f"Hint patch {2 * self.radius + 1:.0f} px", 2000)

    # -- actions --------------------------------------------------------------------------------
    def remove_selected(self) -> None:
        if self.selected is not None:
            self.remove(self.selected)

    def clear(self) -> None:
        if self.edit.hints:
            self.selected = None
            self.undo_stack.push(commands.ClearHints(self.document))

    def resize_selected(self, steps: int) -> None:
        hint = self._selected_hint()
        if hint is not None:
            self.resize(hint.id, wheel_radius(hint.radius, steps))

    def grow_selected(self) -> None:
        self.resize_selected(1)

    def shrink_selected(self) -> None:
        self.resize_selected(-1)

    def deselect(self) -> None:
        self.select(None)

    # -- colour panel ---------------------------------------------------------------------------
    def _on_reach_changed(self, reach: float, gesture: int) -> None:
        """The reach slider: the selected hint's reach (a drag is one undo step) and that of new hints."""
        self.reach = reach
        self.settings.set_hint_reach(reach)
        hint = self._selected_hint()
        if hint is not None and hint.reach != reach:
            self.undo_stack.push(commands.SetHintReach(self.document, hint.id, reach, gesture))

    def _on_colour_picked(self, ab, gesture: int, from_model: bool = False) -> None:
        """A colour from the panel: the selected hint's (the model's colour there makes it a pin,
        Hint.picked; another colour the user's), else the brush for new hints."""
        ab = (float(ab[0]), float(ab[1]))
        hint = self._selected_hint()
        if hint is not None:
            self.undo_stack.push(commands.RecolourHint(self.document, hint.id, ab, gesture, picked=True if from_model else None))
            rgb = self._marker_rgb(self.edit.hint(hint.id))
        else:
            self.brush_ab = ab
            rgb = ab_to_rgb8(default_lightness(), ab)
            self.refresh()
        replace_newest = gesture == self._recent_gesture  # the same drag in the gamut: one colour
        self._recent_gesture = gesture
        self.panel.set_recent(self.settings.add_recent_colour(tuple(rgb), replace_newest=replace_newest))
