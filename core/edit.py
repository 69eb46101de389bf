"""The user's edit of one photo as plain, validated data: what the app saves, undo restores, and the
pipeline (:meth:`core.api.Colorizer.preview`) reads.

An :class:`Edit` is frozen; every change makes a new one (``dataclasses.replace`` or the ``with_*``
helpers), and every field is checked on construction, so an edit that exists is one the pipeline
can run. Hints carry stable ids: a hint keeps its id when it is moved, recoloured or resized, and
ids are never reused within an edit. This module imports no torch (the desktop reads it directly).

The JSON form (``.heirloom.json``) is versioned: ``heirloom-edit/2`` is written, and the app's
earlier ``heirloom-session/1`` files still open.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.files import atomic_write

EDIT_FORMAT = "heirloom-edit/2"
LEGACY_FORMATS = ("heirloom-session/1",)
EDIT_SUFFIX = ".heirloom.json"

DEFAULT_WORKING_SIZE = 256  # short side of the image the networks see
WORKING_SIZE_RANGE = (64, 2048)
WORKING_SIZES = (192, 256, 384, 512, 768)  # the sizes the app offers
DEFAULT_REACH = 0.5  # how far a hint spreads over its region, 0 (about the hint) .. 1 (all of it)
DEFAULT_MODEL = "colornet"  # name of the bundled colorization sub-net weights
MAX_HINT_RADIUS = 32.0  # original-photo pixels
AB_LIMIT = 128.0  # |a|, |b| of any Lab colour a hint may carry
MAX_WEIGHT = 100.0  # a reference's relative weight
MAX_REFERENCES = 64
MAX_HINTS = 100_000
MAX_FILE_BYTES = 64 * 1024 * 1024  # an edit file larger than this is not one Heirloom wrote
_MAX_TEXT = 4096  # longest path or model name accepted


class EditError(ValueError):
    """An edit, or an edit file, that cannot be used; the message is one sentence for the user."""


# -- checks -------------------------------------------------------------------------------------
def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EditError(f"{what} must be a number, got {_shown(value)}.")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise EditError(f"{what} must be between {low:g} and {high:g}, got a number too large to use.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise EditError(f"{what} must be between {low:g} and {high:g}, got {_shown(value)}.")
    return number


def _integer(value: Any, what: str, low: int, high: int) -> int:
    number = _number(value, what, low, high)
    if number != int(number):
        raise EditError(f"{what} must be a whole number, got {_shown(value)}.")
    return int(number)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT or "\0" in value:
        raise EditError(f"{what} must be a non-empty text of at most {_MAX_TEXT} characters, got {_shown(value)}.")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise EditError(f"{what} must be true or false, got {_shown(value)}.")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- parts of an edit ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Hint:
    """A colour pinned at (x, y) in the original photo's pixel coordinates.

    ``ab`` is the Lab chroma; ``radius`` is the half-size of the square patch in *original* pixels
    (0 = one pixel; the patch is never smaller than one working-size pixel). ``id`` identifies the
    hint within its edit; 0 means "not yet numbered" and :class:`Edit` numbers it. ``reach`` says
    how far the hint's colour spreads over the region it lands in: 0 about the hint only, 1 the
    whole region up to its edges (core.user_edit). ``picked``: the colour was taken from the result
    on screen where the hint was placed (a click with no colour chosen), so the hint holds what is
    shown there and says nothing about the rest of the photo's colours; a colour the user gives it
    makes it an ordinary hint.
    """

    x: float
    y: float
    ab: tuple[float, float]
    radius: float = 2.0
    id: int = 0
    reach: float = DEFAULT_REACH
    picked: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _number(self.x, "A hint's x", -1e9, 1e9))
        object.__setattr__(self, "y", _number(self.y, "A hint's y", -1e9, 1e9))
        if isinstance(self.ab, (str, bytes)) or not isinstance(self.ab, Sequence) or len(self.ab) != 2:
            raise EditError(f"A hint's colour must be two numbers (a, b), got {_shown(self.ab)}.")
        ab = tuple(_number(v, "A hint's colour component", -AB_LIMIT, AB_LIMIT) for v in self.ab)
        object.__setattr__(self, "ab", ab)
        object.__setattr__(self, "radius", _number(self.radius, "A hint's radius", 0.0, MAX_HINT_RADIUS))
        object.__setattr__(self, "id", _integer(self.id, "A hint's id", 0, 2**53))
        object.__setattr__(self, "reach", _number(self.reach, "A hint's reach", 0.0, 1.0))
        object.__setattr__(self, "picked", _flag(self.picked, "Whether a hint's colour was picked from the result"))

    @classmethod
    def from_rgb(
        cls, x: float, y: float, rgb: Sequence[int] | str, radius: float = 2.0, id: int = 0, reach: float = DEFAULT_REACH
    ) -> "Hint":
        """A hint from an sRGB colour (0-255 triple or '#rrggbb'); only its chroma is used."""
        from core.hints import rgb_to_ab  # colour maths lives in core.color (torch)

        return cls(x, y, rgb_to_ab(rgb), radius, id, reach)

    def moved(self, x: float, y: float) -> "Hint":
        return replace(self, x=float(x), y=float(y))

    def recoloured(self, ab: Sequence[float], picked: bool | None = None) -> "Hint":
        """The hint in colour ``ab``; ``picked`` says whether that colour is the one shown there (by
        default: a new colour is the user's, the same colour keeps what the hint was)."""
        ab = (float(ab[0]), float(ab[1]))
        return replace(self, ab=ab, picked=(self.picked and ab == self.ab) if picked is None else picked)

    def resized(self, radius: float) -> "Hint":
        return replace(self, radius=float(min(max(radius, 0.0), MAX_HINT_RADIUS)))

    def reaching(self, reach: float) -> "Hint":
        return replace(self, reach=float(min(max(reach, 0.0), 1.0)))

    def to_dict(self) -> dict:
        data = {"id": self.id, "x": self.x, "y": self.y, "ab": list(self.ab), "radius": self.radius, "reach": self.reach}
        return {**data, "picked": True} if self.picked else data

    @classmethod
    def from_dict(cls, data: Any) -> "Hint":
        """A hint from its JSON form ({"x", "y", "ab", "radius"?, "id"?, "reach"?, "picked"?}); EditError
        if malformed."""
        if not isinstance(data, Mapping):
            raise EditError(f"A hint must be an object with x, y and ab, got {_shown(data)}.")
        missing = [key for key in ("x", "y", "ab") if key not in data]
        if missing:
            raise EditError(f"A hint lacks {', '.join(missing)}.")
        return cls(
            data["x"], data["y"], data["ab"], data.get("radius", 2.0), data.get("id", 0), data.get("reach", DEFAULT_REACH),
            data.get("picked", False),
        )


@dataclass(frozen=True)
class Reference:
    """A pinned colour reference: the photo it comes from and how much it counts against others."""

    path: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", _text(os.fspath(self.path) if isinstance(self.path, Path) else self.path, "A reference's path"))
        weight = _number(self.weight, "A reference's weight", 0.0, MAX_WEIGHT)
        if weight <= 0:
            raise EditError("A reference's weight must be above 0.")
        object.__setattr__(self, "weight", weight)

    @property
    def name(self) -> str:
        return Path(self.path).name


# -- the edit -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """Everything needed to redo the user's edit of one photo."""

    photo: str | None = None  # path (or a key from Colorizer.hold for a photo held in memory)
    references: tuple[Reference, ...] = ()
    blend: float = 1.0  # how strongly the references' colours are applied (AdaIN blend), 0..1
    match_content: bool = True  # content matching on, or the references' palette everywhere
    hints: tuple[Hint, ...] = ()
    working_size: int = DEFAULT_WORKING_SIZE
    model: str = DEFAULT_MODEL  # colorization sub-net: weights name or file
    _next_id: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.photo is not None:
            photo = os.fspath(self.photo) if isinstance(self.photo, Path) else self.photo
            object.__setattr__(self, "photo", _text(photo, "The photo"))
        references = self._tuple(self.references, "references", MAX_REFERENCES)
        if not all(isinstance(r, Reference) for r in references):
            raise EditError("Every reference must be a Reference.")
        if len({r.path for r in references}) != len(references):
            raise EditError("A reference is pinned twice.")
        object.__setattr__(self, "references", references)
        object.__setattr__(self, "blend", _number(self.blend, "The reference strength", 0.0, 1.0))
        object.__setattr__(self, "match_content", _flag(self.match_content, "Content matching"))
        object.__setattr__(self, "working_size", _integer(self.working_size, "The working size", *WORKING_SIZE_RANGE))
        object.__setattr__(self, "model", _text(self.model, "The model"))
        self._number_hints(self._tuple(self.hints, "hints", MAX_HINTS))

    @staticmethod
    def _tuple(items: Any, what: str, limit: int) -> tuple:
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (Sequence, tuple)):
            raise EditError(f"The {what} must be a list, got {_shown(items)}.")
        if len(items) > limit:
            raise EditError(f"An edit holds at most {limit:,} {what}, got {len(items):,}.")
        return tuple(items)

    def _number_hints(self, hints: tuple) -> None:
        """Give unnumbered hints fresh ids; refuse duplicates. Ids only grow (``_next_id``)."""
        if not all(isinstance(h, Hint) for h in hints):
            raise EditError("Every hint must be a Hint.")
        ids = [h.id for h in hints if h.id]
        if len(set(ids)) != len(ids):
            raise EditError("Two hints share one id.")
        next_id = max(self._next_id, max(ids, default=0) + 1)
        numbered = []
        for hint in hints:
            if not hint.id:
                hint = replace(hint, id=next_id)
                next_id += 1
            numbered.append(hint)
        object.__setattr__(self, "hints", tuple(numbered))
        object.__setattr__(self, "_next_id", next_id)

    # -- questions ----------------------------------------------------------------------------
    @property
    def automatic(self) -> bool:
        """True when no reference is pinned: the model chooses the colours on its own."""
        return not self.references

    @property
    def reference_paths(self) -> tuple[str, ...]:
        return tuple(r.path for r in self.references)

    @property
    def next_hint_id(self) -> int:
        """The id the next added hint gets (never one this edit has used)."""
        return self._next_id

    def hint(self, hint_id: int) -> Hint:
        for hint in self.hints:
            if hint.id == hint_id:
                return hint
        raise KeyError(hint_id)

    def has_hint(self, hint_id: int) -> bool:
        return any(h.id == hint_id for h in self.hints)

    # -- changes (each returns a new edit) ----------------------------------------------------
    def with_reference(self, path: str, weight: float = 1.0) -> "Edit":
        if path in self.reference_paths:
            return self
        return replace(self, references=self.references + (Reference(path, weight),))

    def without_reference(self, path: str) -> "Edit":
        return replace(self, references=tuple(r for r in self.references if r.path != path))

    def with_hint(self, hint: Hint) -> "Edit":
        """The edit with ``hint`` added under a new id (its own id, if any, is replaced)."""
        return self.with_hints((hint,))

    def with_hints(self, hints: Sequence[Hint]) -> "Edit":
        """The edit with ``hints`` added, each under a new id (a stroke is one change)."""
        return replace(self, hints=self.hints + tuple(replace(h, id=0) for h in hints))

    def replacing_hint(self, hint: Hint) -> "Edit":
        """The edit with the hint of ``hint.id`` replaced by ``hint`` (KeyError if there is none)."""
        self.hint(hint.id)
        return replace(self, hints=tuple(hint if h.id == hint.id else h for h in self.hints))

    def without_hint(self, hint_id: int) -> "Edit":
        self.hint(hint_id)
        return replace(self, hints=tuple(h for h in self.hints if h.id != hint_id))

    def without_hints(self) -> "Edit":
        return replace(self, hints=())

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": EDIT_FORMAT,
            "photo": self.photo,
            "references": [{"path": r.path, "weight": r.weight} for r in self.references],
            "blend": self.blend,
            "match_content": self.match_content,
            "hints": [h.to_dict() for h in self.hints],
            "next_hint_id": self.next_hint_id,
            "working_size": self.working_size,
            "model": self.model,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, base_dir: Path | None = None) -> "Edit":
        """An edit from its JSON form; relative paths are taken from ``base_dir``. EditError names
        the first field that is wrong."""
        if not isinstance(data, Mapping) or data.get("format") not in (EDIT_FORMAT, *LEGACY_FORMATS):
            raise EditError("This is not a Heirloom edit.")

        def resolve(path: Any, what: str) -> str:
            path = _text(path, what)
            if base_dir is not None and not Path(path).is_absolute():
                path = str(base_dir / path)
            return path

        photo = data.get("photo")
        references = data.get("references", [])
        hints = data.get("hints", [])
        for value, what in ((references, "references"), (hints, "hints")):
            if not isinstance(value, list):
                raise EditError(f"The {what} must be a list, got {_shown(value)}.")
        refs = []
        for entry in references:
            if not isinstance(entry, Mapping) or "path" not in entry:
                raise EditError(f"A reference must be an object with a path, got {_shown(entry)}.")
            refs.append(Reference(resolve(entry["path"], "A reference's path"), entry.get("weight", 1.0)))
        return cls(
            photo=None if photo is None else resolve(photo, "The photo"),
            references=tuple(refs),
            blend=data.get("blend", 1.0),
            match_content=data.get("match_content", True),
            hints=tuple(Hint.from_dict(h) for h in hints),
            working_size=data.get("working_size", DEFAULT_WORKING_SIZE),
            model=data.get("model", DEFAULT_MODEL),
            _next_id=_integer(data.get("next_hint_id", 0), "The next hint id", 0, 2**53),
        )

    @classmethod
    def from_json(cls, text: str, base_dir: Path | None = None) -> "Edit":
        return cls.from_dict(parse_json(text), base_dir)


def parse_json(text: str | bytes) -> Any:
    """JSON as Python data, refusing NaN, Infinity and nesting too deep to read; EditError otherwise."""

    def refuse(constant: str) -> None:
        raise EditError(f"The file holds {constant}, which is not a number Heirloom can use.")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise EditError("The file is nested too deeply to be a Heirloom file.") from None
    except EditError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise EditError(f"The file is not valid JSON ({exc}).") from None


def read_edit(path: os.PathLike | str) -> Edit:
    """Load a saved edit; relative paths inside it are taken from the file's folder. EditError
    names the file and says what is wrong."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise EditError("it is far larger than any edit Heirloom writes")
        text = path.read_bytes()
        return Edit.from_json(text, path.parent)
    except OSError as exc:
        raise EditError(f"The edit '{path.name}' cannot be read ({exc.strerror or exc}).") from None
    except (EditError, RecursionError, OverflowError, TypeError) as exc:
        raise EditError(f"'{path.name}' is not a usable Heirloom edit: {str(exc).rstrip('.')}.") from None


def write_edit(path: os.PathLike | str, edit: Edit) -> Path:
    """Save ``edit`` atomically as JSON (OSError when the file cannot be written)."""
    path = Path(path)
    atomic_write(path, edit.to_json())
    return path
