"""The edit a user is making, as plain data: no Qt here, so it is testable and serialisable anywhere.

An :class:`EditSession` is frozen; every edit makes a new one (``dataclasses.replace``), which is what
lets an undo command restore the exact state it found. The helpers at the bottom answer the colour
picker's questions (what colour is shown at a pixel, which colours exist at a lightness) by looking
things up in the latest preview and calling :mod:`core.color`; they never run a network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from core.hints import Hint

SESSION_FORMAT = "heirloom-session/1"
SESSION_SUFFIX = ".heirloom.json"
WORKING_SIZES = (192, 256, 384, 512, 768)
DEFAULT_WORKING_SIZE = 256


class SessionError(Exception):
    """A session file that cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class ReferenceEntry:
    """A pinned colour reference: the photo it comes from and how much it counts."""

    path: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class EditSession:
    """Everything needed to redo the user's edit of one photo."""

    photo_path: str | None = None
    references: tuple[ReferenceEntry, ...] = ()
    blend: float = 1.0
    hints: tuple[Hint, ...] = ()
    working_size: int = DEFAULT_WORKING_SIZE
    match_content: bool = True  # content matching (core.matching) on, or the references' palette everywhere

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"blend must be between 0 and 1, got {self.blend}")
        object.__setattr__(self, "references", tuple(self.references))
        object.__setattr__(self, "hints", tuple(self.hints))

    @property
    def automatic(self) -> bool:
        """True when no reference is pinned: the model chooses the colours on its own."""
        return not self.references

    @property
    def reference_paths(self) -> tuple[str, ...]:
        return tuple(r.path for r in self.references)

    # -- edits (each returns a new session) ---------------------------------------------------
    def with_reference(self, path: str, weight: float = 1.0) -> "EditSession":
        if path in self.reference_paths:
            return self
        return replace(self, references=self.references + (ReferenceEntry(path, weight),))

    def without_reference(self, path: str) -> "EditSession":
        return replace(self, references=tuple(r for r in self.references if r.path != path))

    def with_hint(self, hint: Hint) -> "EditSession":
        return replace(self, hints=self.hints + (hint,))

    def with_hint_at(self, index: int, hint: Hint) -> "EditSession":
        hints = list(self.hints)
        hints[index] = hint
        return replace(self, hints=tuple(hints))

    def without_hint(self, index: int) -> "EditSession":
        return replace(self, hints=self.hints[:index] + self.hints[index + 1 :])

    # -- files --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": SESSION_FORMAT,
            "photo": self.photo_path,
            "references": [{"path": r.path, "weight": r.weight} for r in self.references],
            "blend": self.blend,
            "hints": [h.to_dict() for h in self.hints],
            "working_size": self.working_size,
            "match_content": self.match_content,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict, base_dir: Path | None = None) -> "EditSession":
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            raise ValueError("not a Heirloom session")

        def resolve(path: str | None) -> str | None:
            if not path:
                return None
            p = Path(path)
            if not p.is_absolute() and base_dir is not None:
                p = base_dir / p
            return str(p)

        return cls(
            photo_path=resolve(data.get("photo")),
            references=tuple(
                ReferenceEntry(resolve(r["path"]), float(r.get("weight", 1.0))) for r in data.get("references", [])
            ),
            blend=float(data.get("blend", 1.0)),
            hints=tuple(Hint.from_dict(h) for h in data.get("hints", [])),
            working_size=int(data.get("working_size", DEFAULT_WORKING_SIZE)),
            match_content=bool(data.get("match_content", True)),
        )

    @classmethod
    def from_json(cls, text: str, base_dir: Path | None = None) -> "EditSession":
        return cls.from_dict(json.loads(text), base_dir)


def read_session(path: str | Path) -> EditSession:
    """Load a saved session; relative paths inside it are taken from the session file's folder."""
    path = Path(path)
    try:
        return EditSession.from_json(path.read_text(encoding="utf-8"), path.parent)
    except OSError as exc:
        raise SessionError(f"The session '{path.name}' cannot be read ({exc.strerror or exc}).") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise SessionError(f"'{path.name}' is not a Heirloom session file, or it is damaged.") from exc


@dataclass(frozen=True)
class EngineOptions:
    """How the colorizer is built: which device and which weights."""

    device: str = "auto"
    colornet: str = "colornet"
    working_size: int = DEFAULT_WORKING_SIZE
    allow_random_weights: bool = False


# -- lookups in the latest preview --------------------------------------------------------------
def plane_value_at(plane: np.ndarray, original_size: tuple[int, int], x: float, y: float) -> np.ndarray:
    """The value of a working-size plane ((h, w) or (c, h, w)) under original-photo pixel (x, y)."""
    W, H = original_size
    h, w = plane.shape[-2:]
    u = int(np.clip(np.floor((x + 0.5) * w / W), 0, w - 1))
    v = int(np.clip(np.floor((y + 0.5) * h / H), 0, h - 1))
    return plane[..., v, u]


# -- colour helpers for the picker (thin wrappers over core.color) ------------------------------
def lab_to_rgb8(L: float, ab: Sequence[float]) -> tuple[int, int, int]:
    """The sRGB colour (0-255) of one Lab value, clipped into the displayable range."""
    import torch

    from core.color import lab_to_rgb

    lab = torch.tensor([float(L), float(ab[0]), float(ab[1])], dtype=torch.float64).view(3, 1, 1)
    rgb = lab_to_rgb(lab)[:, 0, 0].clamp(0, 1)
    return tuple(int(v * 255 + 0.5) for v in rgb.tolist())


def rgb8_to_ab(rgb: Sequence[int]) -> tuple[float, float]:
    """The Lab chroma (a, b) of an sRGB colour; only the chroma becomes a hint."""
    return Hint.from_rgb(0, 0, tuple(rgb)).ab


def snap_to_gamut(L: float, ab: Sequence[float]) -> tuple[float, float]:
    """(a, b) moved towards grey, hue kept, until it is displayable at lightness L."""
    from core.hints import snap_hint_to_gamut

    return snap_hint_to_gamut(Hint(0, 0, (float(ab[0]), float(ab[1]))), L).ab


def ab_plane_rgba(L: float, resolution: int = 96, ab_range: float = 110.0) -> np.ndarray:
    """The ideepcolor-style gamut view: (resolution, resolution, 4) uint8 of every (a, b) at lightness
    L, transparent where the colour is not displayable. Rows run b from +range (top) to -range, columns
    a from -range to +range (the layout of :func:`core.color.ab_gamut_mask`)."""
    import torch

    from core.color import ab_gamut_mask, lab_to_rgb

    inside = ab_gamut_mask(L, resolution, ab_range)
    axis = torch.linspace(-ab_range, ab_range, resolution, dtype=torch.float64)
    b, a = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    rgb = lab_to_rgb(torch.stack((torch.full_like(a, float(L)), a, b))).clamp(0, 1)
    out = np.zeros((resolution, resolution, 4), dtype=np.uint8)
    out[..., :3] = (rgb.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    out[..., 3] = np.where(inside, 255, 0)
    return out
