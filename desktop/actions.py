"""Every command of the window in one table: its text, menu, shortcut, tip and toolbar place.

:func:`build_actions` turns the table into QActions, menus and the toolbar, and connects each action
to its ``slot``: a dotted path from the window (``"hint_tool.clear"``), by default the window's
``_on_<name>``. Submenus whose contents change (recent files, models, devices)
are table rows too; the window fills them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

from desktop.icons import painted_icon

MENUS = ("&File", "&Edit", "&View", "&References", "&Model", "&Help")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    menu: str  # one of MENUS
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    toolbar: bool = False
    checkable: bool = False
    checked: bool = False
    icon: str = ""  # a QStyle.StandardPixmap name ("SP_…") or one of desktop.icons.PAINTERS
    separator: bool = False  # a separator before this entry (in its menu and, if shown, the toolbar)
    submenu: bool = False  # a placeholder for a submenu the window fills
    premade: bool = False  # the window supplies the QAction (undo/redo, dock toggles)
    slot: str = ""  # what it calls, as a dotted path from the window ("canvas.zoom_fit"); default _on_<name>


F, E, V, R, M, H = MENUS

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open Photo…", F, ("Ctrl+O",), "Open a black-and-white photo", toolbar=True, icon="SP_DialogOpenButton"),
    ActionSpec("recent", "Open &Recent", F, submenu=True),
    ActionSpec("open_edit", "Open Saved &Edit…", F, ("Ctrl+Shift+O",), "Open a saved edit", separator=True),
    ActionSpec("save_edit", "&Save Edit", F, ("Ctrl+S",), "Save the edit (photo, references, strength, hints)", toolbar=True, icon="SP_DialogSaveButton", slot="edit_files.save"),
    ActionSpec("save_edit_as", "Save Edit &As…", F, ("Ctrl+Shift+S",), slot="edit_files.save_as"),
    ActionSpec("export", "&Export Colour Photo…", F, ("Ctrl+E",), "Save the full-resolution colour photo (the original is never replaced)", toolbar=True, icon="export", separator=True, slot="exports.choose_and_export"),
    ActionSpec("batch", "&Batch Colorize Folder…", F, ("Ctrl+B",), "Apply the current references and strength to every photo in a folder", slot="exports.choose_and_batch"),
    ActionSpec("quit", "&Quit", F, ("Ctrl+Q",), separator=True, slot="close"),
    ActionSpec("undo", "&Undo", E, ("Ctrl+Z",), toolbar=True, icon="SP_ArrowBack", premade=True, separator=True),
    ActionSpec("redo", "&Redo", E, ("Ctrl+Shift+Z", "Ctrl+Y"), toolbar=True, icon="SP_ArrowForward", premade=True),
    ActionSpec("delete_hint", "&Delete Hint", E, ("Delete", "Backspace"), "Remove the selected colour hint", separator=True, slot="hint_tool.remove_selected"),
    ActionSpec("deselect_hint", "D&eselect Hint", E, ("Escape",), "Pick colours for new hints instead of the selected one", slot="hint_tool.deselect"),
    ActionSpec("clear_hints", "Remove &All Hints", E, ("Ctrl+Shift+Delete",), slot="hint_tool.clear"),
    ActionSpec("hint_bigger", "&Larger Hint Patch", E, ("]",), "Grow the selected hint's patch (or use the mouse wheel on it)", slot="hint_tool.grow_selected"),
    ActionSpec("hint_smaller", "&Smaller Hint Patch", E, ("[",), "Shrink the selected hint's patch", slot="hint_tool.shrink_selected"),
    ActionSpec("blend_up", "&Stronger Reference", E, ("Ctrl+]",), "Reference strength +10 %", separator=True, slot="blend_slider.step_up"),
    ActionSpec("blend_down", "&Weaker Reference", E, ("Ctrl+[",), "Reference strength -10 %", slot="blend_slider.step_down"),
    ActionSpec("zoom_in", "Zoom &In", V, ("Ctrl++", "Ctrl+="), toolbar=True, icon="zoom_in", separator=True, slot="canvas.zoom_in"),
    ActionSpec("zoom_out", "Zoom &Out", V, ("Ctrl+-",), toolbar=True, icon="zoom_out", slot="canvas.zoom_out"),
    ActionSpec("zoom_fit", "&Fit to Window", V, ("Ctrl+0",), toolbar=True, icon="zoom_fit", slot="canvas.zoom_fit"),
    ActionSpec("zoom_actual", "&Actual Pixels (100 %)", V, ("Ctrl+1",), toolbar=True, icon="zoom_actual", slot="canvas.zoom_actual"),
    ActionSpec("show_hints", "Show &Hints", V, ("H",), "Show or hide the hint markers", toolbar=True, checkable=True, checked=True, icon="hints", separator=True, slot="canvas.set_show_hints"),
    ActionSpec("split_view", "&Split Before/After", V, ("S",), "Original on the left, colour on the right; drag the divider", toolbar=True, checkable=True, icon="split", slot="canvas.show_split"),
    ActionSpec("hold_original", "Show &Original (hold B)", V, (), "Press and hold to see the untouched photo", toolbar=True, icon="original"),
    ActionSpec("references_panel", "&References Panel", V, separator=True, premade=True),
    ActionSpec("colour_panel", "&Colour Panel", V, premade=True),
    ActionSpec("history_panel", "&History Panel", V, premade=True),
    ActionSpec("add_reference", "&Add Reference…", R, ("Ctrl+R",), "Pin a colour photo as reference"),
    ActionSpec("reference_folder", "Browse &Folder…", R, ("Ctrl+Shift+R",), "Show a folder of colour photos as thumbnails"),
    ActionSpec("automatic", "A&utomatic (No Reference)", R, ("Ctrl+Shift+A",), "Unpin all references and let the model choose", separator=True),
    ActionSpec(
        "match_content", "&Match Reference Content", R, ("Ctrl+M",),
        "Take a reference's own colours where it shows the same things as the photo, and its palette mostly where it "
        "resembles the photo; off: its palette at the same strength everywhere",
        checkable=True, checked=True, separator=True,
    ),
    ActionSpec("train", "&Train on My Photos…", M, ("Ctrl+T",), "Fine-tune the model on a folder of your colour photos"),
    ActionSpec("models", "&Colorization Model", M, submenu=True, separator=True),
    ActionSpec("devices", "&Device", M, submenu=True),
    ActionSpec("working_sizes", "&Working Size", M, submenu=True),
    ActionSpec("demo", "Open &Demo Photo", H, (), "The bundled example photo and reference", slot="open_demo"),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", H, ("F1",), slot="dialogs.shortcuts"),
    ActionSpec("about", "&About Heirloom", H, slot="dialogs.about"),
)


def shortcut_table(specs=ACTIONS) -> list[tuple[str, str]]:
    """(what, keys) for the help window, straight from the table."""
    rows = [(spec.text.replace("&", "").rstrip("…"), ", ".join(spec.shortcuts)) for spec in specs if spec.shortcuts]
    rows += [
        ("Add a colour hint", "Click on the photo"),
        ("Paint a stroke of hints (one colour)", "Shift+drag on the photo"),
        ("Move a hint", "Drag it"),
        ("Remove a hint", "Right-click it"),
        ("Hint patch size", "Mouse wheel over the hint"),
        ("Zoom", "Mouse wheel (Ctrl+wheel over a hint)"),
        ("Pan", "Middle-drag, or hold Space and drag"),
    ]
    return rows


def _resolve(window: QMainWindow, path: str):
    """The callable at a dotted path from the window (None if the window has no such slot)."""
    target = window
    for name in path.split("."):
        target = getattr(target, name, None)
    return target


def build_actions(
    window: QMainWindow,
    toolbar: QToolBar,
    premade: dict[str, QAction],
    specs=ACTIONS,
) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Create the menus, the toolbar and every action of ``specs``; returns (actions, submenus)."""
    menus = {title: window.menuBar().addMenu(title) for title in MENUS}
    actions: dict[str, QAction] = {}
    submenus: dict[str, QMenu] = {}
    style = window.style()
    for spec in specs:
        menu = menus[spec.menu]
        if spec.separator and not menu.isEmpty():
            menu.addSeparator()
        if spec.submenu:
            submenus[spec.name] = menu.addMenu(spec.text)
            continue
        action = premade[spec.name] if spec.premade else QAction(spec.text, window)
        action.setObjectName(spec.name)
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        tip = spec.tip or spec.text.replace("&", "").rstrip("…")
        if spec.shortcuts:
            tip += f" ({spec.shortcuts[0]})"
        action.setToolTip(tip)
        action.setStatusTip(spec.tip)
        if spec.icon.startswith("SP_"):
            action.setIcon(style.standardIcon(getattr(QStyle.StandardPixmap, spec.icon)))
        elif spec.icon:
            action.setIcon(painted_icon(spec.icon))
        if spec.checkable:
            action.setCheckable(True)
            action.setChecked(spec.checked)
        slot = _resolve(window, spec.slot or f"_on_{spec.name}")
        if slot is not None and not spec.premade:
            (action.toggled if spec.checkable else action.triggered).connect(slot)
        menu.addAction(action)
        window.addAction(action)  # shortcuts work while any child has focus
        if spec.toolbar:
            if spec.separator and toolbar.actions():
                toolbar.addSeparator()
            toolbar.addAction(action)
        actions[spec.name] = action
    return actions, submenus
