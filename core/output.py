"""Where results are written, and what is never written over: one policy for the CLI and the app.

A result goes beside its photo as ``<name>-colour.<ext>``, into a chosen folder under that name, or
to one named file. The rules:

- An input (a photo or a reference of the run) is never written over, not even with ``overwrite``.
- An existing file is never replaced unless ``overwrite`` is given. Beside a photo or in a folder
  the next free name is taken instead (``-1``, ``-2``, ...); a named file that exists is refused.
- Two photos whose results would share a name (``a.jpg`` and ``a.png``) never share it: the later
  one takes the next free name, and its :class:`Target` says so (``collision``).
- The write itself creates the file exclusively (:meth:`OutputPlan.save`), so two runs writing
  into one folder cannot both take one name; the loser moves on to the next free name.

    plan = OutputPlan.create(output, photos, references, suffix=".png", overwrite=False)
    plan.check_writable()                       # before computing anything
    for target in plan.targets(photos):
        rgb = ...                               # compute
        written = plan.save(target, lambda path, replace: save_image(path, rgb, overwrite=replace))

Qt-free; the desktop's batch export uses it too.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from core.imageio import SUPPORTED_SAVE_SUFFIXES, ImageExistsError

OUTPUT_TAG = "-colour"
FORMAT_SUFFIXES = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}
# Earlier results in a folder ("x-colour.jpg", "x-colour-2.png") are not colorized again.
EARLIER_RESULT = re.compile(re.escape(OUTPUT_TAG) + r"(-\d+)?$")
_MAX_NUMBER = 10_000  # "x-colour-9999.png" is the last name tried
_INPUT = "one of the originals given (a photo or a reference)"

T = TypeVar("T")


class OutputError(ValueError):
    """A result cannot be written where asked; the message is one sentence that says what to do."""


class TargetExistsError(OutputError):
    """The target name exists (or appeared while the result was being written)."""


def is_earlier_result(path: os.PathLike | str) -> bool:
    return EARLIER_RESULT.search(Path(path).stem) is not None


def _key(path: os.PathLike | str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _identity(path: os.PathLike | str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


@dataclass(frozen=True)
class Inputs:
    """The files of a run that are never written over: compared by resolved name and, for files
    that exist, by identity (a hard link or another spelling of the same file)."""

    keys: frozenset[str] = frozenset()
    identities: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def of(cls, paths: Iterable[os.PathLike | str]) -> "Inputs":
        paths = list(paths)
        identities = {_identity(p) for p in paths} - {None}
        return cls(frozenset(_key(p) for p in paths), frozenset(identities))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        return _key(path) in self.keys or _identity(path) in self.identities


@dataclass(frozen=True)
class Target:
    """Where one photo's result goes.

    ``replaces``: an existing file is replaced (only ever with ``overwrite``). ``collision``: a
    sentence saying the result took another name because another photo of the run made the first
    choice (empty otherwise).
    """

    photo: Path
    path: Path
    replaces: bool = False
    collision: str = ""


@dataclass(frozen=True)
class OutputPlan:
    """Where results go: one named ``file``, a ``folder``, or beside each photo (both None)."""

    file: Path | None = None
    folder: Path | None = None
    suffix: str | None = None  # forced format (".png", ".jpg", ".tif"); None: the photo's own
    overwrite: bool = False
    inputs: Inputs = field(default_factory=Inputs)

    @classmethod
    def create(
        cls,
        output: os.PathLike | str | None,
        photos: Iterable[os.PathLike | str],
        references: Iterable[os.PathLike | str] = (),
        *,
        suffix: str | None = None,
        overwrite: bool = False,
        folder: bool = False,
    ) -> "OutputPlan":
        """The plan for ``output`` (None: beside each photo; a folder; or a file when it has a
        suffix and is not a folder, unless ``folder`` says it is one, as a folder chooser does).
        OutputError when a file is named for several photos, or in a format that cannot be saved
        or that contradicts ``suffix``."""
        photos = [Path(p) for p in photos]
        inputs = Inputs.of([*photos, *references])
        if suffix is not None and suffix not in SUPPORTED_SAVE_SUFFIXES:
            raise OutputError(f"results can be saved as .png, .jpg or .tif only, not {suffix}")
        if output is None:
            return cls(suffix=suffix, overwrite=overwrite, inputs=inputs)
        output = Path(output)
        if folder or output.is_dir() or output.suffix == "":
            return cls(folder=output, suffix=suffix, overwrite=overwrite, inputs=inputs)
        if len(photos) > 1:
            raise OutputError(f"{output} names a file, but there are {len(photos)} photos; give a folder instead")
        if output.suffix.lower() not in SUPPORTED_SAVE_SUFFIXES:
            raise OutputError(f"{output}: results can be saved as .png, .jpg or .tif only")
        if suffix is not None and _canonical(output.suffix) != suffix:
            raise OutputError(f"{output} does not end in {suffix}, the format asked for")
        return cls(file=output, overwrite=overwrite, inputs=inputs)

    # -- names --------------------------------------------------------------------------------
    def folder_for(self, photo: os.PathLike | str) -> Path:
        if self.file is not None:
            return self.file.parent
        return self.folder if self.folder is not None else Path(photo).parent

    def folders(self, photos: Iterable[os.PathLike | str]) -> list[Path]:
        """Every folder results will be written into, once each, in order."""
        unique: dict[str, Path] = {}
        for photo in photos:
            folder = self.folder_for(photo)
            unique.setdefault(_key(folder), folder)
        return list(unique.values())

    def candidates(self, photo: os.PathLike | str) -> Iterator[Path]:
        """The names a result may take, in order of preference (one for a named file)."""
        if self.file is not None:
            yield self.file
            return
        photo = Path(photo)
        suffix = self.suffix or _canonical_or_png(photo.suffix)
        stem = photo.stem + OUTPUT_TAG
        folder = self.folder_for(photo)
        yield folder / f"{stem}{suffix}"
        for number in range(1, _MAX_NUMBER):
            yield folder / f"{stem}-{number}{suffix}"

    def targets(self, photos: Iterable[os.PathLike | str]) -> list[Target]:
        """Every photo's target, decided before anything is computed; no two share a name.
        OutputError for a named file that is an input, or that exists (without ``overwrite``)."""
        taken: dict[str, Path] = {}  # target key -> the photo it was given to
        targets = []
        for photo in map(Path, photos):
            target = self._first_free(photo, taken)
            taken[_key(target.path)] = photo
            targets.append(target)
        return targets

    def _first_free(self, photo: Path, taken: dict[str, Path]) -> Target:
        first = None
        for path in self.candidates(photo):
            first = first or path
            owner = taken.get(_key(path))
            if path in self.inputs:
                if self.file is not None:
                    raise OutputError(f"{path} is {_INPUT}; Heirloom never writes over an original")
                continue
            if owner is not None:
                if self.file is not None:
                    raise OutputError(f"{path} is already the result of {owner}")
                continue
            exists = os.path.lexists(path)
            if exists and not self.overwrite:
                if self.file is not None:
                    raise TargetExistsError(f"{path} already exists; add --overwrite to replace it")
                continue
            return Target(photo, path, replaces=exists, collision=self._collision(photo, first, path, taken))
        raise OutputError(f"no free name is left for the result of {photo} in {self.folder_for(photo)}")

    @staticmethod
    def _collision(photo: Path, first: Path, chosen: Path, taken: dict[str, Path]) -> str:
        owner = taken.get(_key(first))
        if owner is None:
            return ""
        return f"{photo} and {owner} both make {first.name}; the result of {photo} is {chosen.name}"

    # -- checks and writing -------------------------------------------------------------------
    def check_writable(self, photos: Iterable[os.PathLike | str]) -> None:
        """Create the output folders and prove each accepts a file, before anything is computed.
        OutputError names the first that does not."""
        for folder in self.folders(photos):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".heirloom-probe-")
                probe.close()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise OutputError(f"{folder}: results cannot be written into this folder ({reason})") from None

    def save(self, target: Target, write: Callable[[Path, bool], T]) -> T:
        """Write ``target`` with ``write(path, replace)``, which must create the file exclusively
        when ``replace`` is False and raise ``FileExistsError`` or
        :class:`core.imageio.ImageExistsError` when the name is taken (``save_image`` does both). A name another run took meanwhile moves the result on to the next free
        name (or fails with TargetExistsError for a named file). Returns what ``write`` returns."""
        path, replace = target.path, target.replaces
        later = self._later_candidates(target)
        while True:
            if path in self.inputs:  # checked again at the last moment: a name can change meaning
                raise OutputError(f"{path} is {_INPUT}; Heirloom never writes over an original")
            try:
                return write(path, replace)
            except (FileExistsError, ImageExistsError, TargetExistsError):
                if self.file is not None:
                    raise TargetExistsError(f"{path} already exists; add --overwrite to replace it") from None
            path, replace = next(later, None), False
            if path is None:
                raise OutputError(f"no free name is left for the result of {target.photo}")

    def _later_candidates(self, target: Target) -> Iterator[Path]:
        seen = False
        for path in self.candidates(target.photo):
            if seen and path not in self.inputs and not os.path.lexists(path):
                yield path
            seen = seen or _key(path) == _key(target.path)


def _canonical(suffix: str) -> str | None:
    return FORMAT_SUFFIXES.get(suffix.lower().lstrip("."))


def _canonical_or_png(suffix: str) -> str:
    return suffix if suffix.lower() in SUPPORTED_SAVE_SUFFIXES else ".png"


__all__ = [
    "EARLIER_RESULT",
    "FORMAT_SUFFIXES",
    "OUTPUT_TAG",
    "Inputs",
    "OutputError",
    "OutputPlan",
    "Target",
    "TargetExistsError",
    "is_earlier_result",
]
