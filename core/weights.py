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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

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
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"The weights list {path} is unreadable ({exc}); delete or repair it.") from exc
    return {
        name: WeightsRecord(name, folder / entry["file"], entry.get("sha256"), entry.get("kind", ""), entry.get("metadata", {}))
        for name, entry in data.items()
    }


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
    return data


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    record = WeightsRecord(register_as or path.stem, path, sha256_of(path), kind, payload["metadata"])
    if register_as:
        register(record)
    return record


def register(record: WeightsRecord) -> None:
    """Add or replace ``record`` in the manifest of the folder its file lives in."""
    folder = record.file.parent
    manifest_path = folder / MANIFEST
    entries: dict[str, Any] = {}
    if manifest_path.is_file():
        entries = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries[record.name] = {
        "file": record.file.name,
        "sha256": record.sha256,
        "kind": record.kind,
        "metadata": record.metadata,
    }
    text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, manifest_path)


def vgg19_weights_path() -> Path:
    """Where the user puts torchvision's VGG19 ImageNet weights for the paper-faithful encoder."""
    return user_weights_dir() / VGG19_FILENAME
