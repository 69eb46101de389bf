"""Weights registry: a name resolves to a file, checked against its sha256, loaded safely.

A weights file is a ``torch.save``d dict of plain data (no pickled classes)::

    {"format": "heirloom-weights/1", "kind": "colornet" | "decoder",
     "model_args": {...}, "state_dict": {...}, "metadata": {...}}

Each weights folder holds ``manifest.json``: ``{name: {"file", "sha256", "kind", "metadata"}}``.
The bundled folder is ``resources/weights``; personal models (fine-tuned on a family's photos)
live in the user folder, ``$HEIRLOOM_HOME/weights`` or ``~/.local/share/heirloom/weights``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from core.files import atomic_output, atomic_write

M = TypeVar("M", bound=torch.nn.Module)

FORMAT = "heirloom-weights/1"
MANIFEST = "manifest.json"
DEFAULT_COLORNET = "colornet"
DEFAULT_DECODER = "decoder-efficientnet_lite0"
VGG19_FILENAME = "vgg19-dcbb9e9d.pth"


class WeightsError(Exception):
    """A weights file is missing, corrupt or of the wrong kind; the message says what to do."""


def resources_dir() -> Path:
    """Folder of bundled resources (works from a source checkout, an install and a frozen build)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    env = os.environ.get("HEIRLOOM_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "resources"


def bundled_weights_dir() -> Path:
    return resources_dir() / "weights"


def user_data_dir() -> Path:
    env = os.environ.get("HEIRLOOM_HOME")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Heirloom"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Heirloom"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "heirloom"


def user_weights_dir() -> Path:
    return user_data_dir() / "weights"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class WeightsRecord:
    name: str
    file: Path
    sha256: str | None
    kind: str
    metadata: dict = field(default_factory=dict, compare=False)

    @property
    def description(self) -> str:
        return str(self.metadata.get("description", self.name))


def _read_manifest(folder: Path) -> dict[str, WeightsRecord]:
    path = folder / MANIFEST
    return {name: _manifest_record(path, name, entry) for name, entry in _manifest_entries(path).items()}


def _manifest_entries(path: Path) -> dict[str, Any]:
    """The raw entries of the manifest at ``path`` ({} when there is none), or a WeightsError."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise WeightsError(f"The weights list {path} is unreadable ({type(exc).__name__}); delete or repair it.") from None
    if not isinstance(data, dict):
        raise WeightsError(f"The weights list {path} is not a list of weights (an object of names); delete or repair it.")
    return data


def _manifest_record(manifest: Path, name: str, entry: Any) -> WeightsRecord:
    """One manifest entry, checked: a plain file name in the manifest's folder, texts, an object."""

    def broken(why: str) -> WeightsError:
        return WeightsError(f"The weights list {manifest} has a broken entry '{name}' ({why}); delete or repair it.")

    if not isinstance(entry, dict):
        raise broken("it is not an object")
    file = entry.get("file")
    if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
        raise broken("its 'file' must be the name of a file in that folder")
    for key in ("sha256", "kind"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise broken(f"its '{key}' must be a text")
    metadata = entry.get("metadata", {})
    if not isinstance(metadata, dict):
        raise broken("its 'metadata' must be an object")
    return WeightsRecord(name, manifest.parent / file, entry.get("sha256"), entry.get("kind") or "", metadata)


def list_weights(folders: list[Path] | None = None, kind: str | None = None) -> list[WeightsRecord]:
    """All registered weights, bundled first, then the user's (a user entry may shadow a bundled name)."""
    folders = folders if folders is not None else [bundled_weights_dir(), user_weights_dir()]
    merged: dict[str, WeightsRecord] = {}
    for folder in folders:
        merged.update(_read_manifest(Path(folder)))
    return [r for r in merged.values() if kind is None or r.kind == kind]


def find_weights(name: str, folders: list[Path] | None = None) -> WeightsRecord:
    for record in reversed(list_weights(folders)):
        if record.name == name:
            return record
    where = ", ".join(str(f) for f in (folders or [bundled_weights_dir(), user_weights_dir()]))
    raise WeightsError(
        f"No weights named '{name}' in {where}. Reinstall Heirloom to restore the bundled weights, "
        "or train them with 'heirloom-train'."
    )


def load_weights(record_or_path: WeightsRecord | Path | str, kind: str | None = None, verify: bool = True) -> dict[str, Any]:
    """Load and check a weights file; ``torch.load(..., weights_only=True)`` never runs pickled code."""
    record = record_or_path if isinstance(record_or_path, WeightsRecord) else None
    path = Path(record.file if record else record_or_path)
    hint = "Reinstall Heirloom to restore the bundled weights, or retrain them with 'heirloom-train'."
    if not path.is_file():
        raise WeightsError(f"The weights file {path} is missing. {hint}")
    if verify and record is not None and record.sha256:
        actual = sha256_of(path)
        if actual != record.sha256:
            raise WeightsError(f"The weights file {path} is corrupt (checksum mismatch). {hint}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise WeightsError(f"The weights file {path} cannot be read ({type(exc).__name__}). {hint}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a Heirloom weights file. {hint}")
    if kind is not None and data.get("kind") != kind:
        raise WeightsError(f"{path} holds '{data.get('kind')}' weights, but '{kind}' weights are needed.")
    model_args, state_dict = data.get("model_args", {}), data.get("state_dict")
    if not isinstance(model_args, dict) or not all(isinstance(k, str) for k in model_args):
        raise WeightsError(f"The weights file {path} has no readable 'model_args'. {hint}")
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise WeightsError(f"The weights file {path} holds no readable weights. {hint}")
    if not isinstance(data.get("metadata", {}), dict):
        raise WeightsError(f"The weights file {path} has unreadable metadata. {hint}")
    return {**data, "model_args": model_args}


def build_model(build: Callable[..., M], data: dict[str, Any], source: WeightsRecord | Path | str) -> M:
    """``build(**model_args)`` with the file's weights loaded into it. WeightsError naming the file
    when its ``model_args`` are unknown to this version of Heirloom or its weights do not fit (a
    personal model of another width, say)."""
    path = source.file if isinstance(source, WeightsRecord) else Path(source)
    try:
        model = build(**data["model_args"])
    except (TypeError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"The weights file {path} describes a network this version of Heirloom cannot build "
            f"({_first_line(exc)}); retrain it, or update Heirloom."
        ) from None
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(
            f"The weights file {path} does not fit the network it describes ({_first_line(exc)}); "
            "it is damaged or was made by another version of Heirloom."
        ) from None
    return model


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = " ".join(line.strip() for line in lines[:2]) if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def save_weights(
    path: Path | str,
    kind: str,
    model_args: dict,
    state_dict: dict[str, torch.Tensor],
    metadata: dict | None = None,
    register_as: str | None = None,
) -> WeightsRecord:
    """Write a weights file atomically and, with ``register_as``, add it to its folder's manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "kind": kind,
        "model_args": dict(model_args),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
        "metadata": dict(metadata or {}),
    }
    with atomic_output(path) as stream:
        torch.save(payload, stream)
    record = WeightsRecord(register_as or path.stem, path, sha256_of(path), kind, payload["metadata"])
    if register_as:
        register(record)
    return record


def register(record: WeightsRecord) -> None:
    """Add or replace ``record`` in the manifest of the folder its file lives in."""
    folder = record.file.parent
    manifest_path = folder / MANIFEST
    entries = _manifest_entries(manifest_path)
    entries[record.name] = {
        "file": record.file.name,
        "sha256": record.sha256,
        "kind": record.kind,
        "metadata": record.metadata,
    }
    text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    atomic_write(manifest_path, text)


def vgg19_weights_path() -> Path:
    """Where the user puts torchvision's VGG19 ImageNet weights for the paper-faithful encoder."""
    return user_weights_dir() / VGG19_FILENAME
