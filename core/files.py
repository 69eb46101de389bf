"""Writing files so that nothing is ever half-written or silently replaced.

Every file Heirloom writes (images, edits, weights, checkpoints, caches) goes through
:func:`atomic_output`: the bytes go to a temporary file beside the target, which is moved into place
only once complete. ``exclusive=True`` also refuses a target that exists, atomically: two processes
racing for one name cannot both win, and neither replaces a file that appeared in between.
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, Iterator


@contextmanager
def atomic_output(path: os.PathLike | str, *, exclusive: bool = False) -> Iterator[BinaryIO]:
    """A binary stream onto a temporary file beside ``path``, moved onto ``path`` on success.

    Raises ``FileExistsError`` when ``exclusive`` and ``path`` exists (before or after writing), and
    ``OSError`` when the file cannot be written; the temporary file is removed either way.
    """
    path = Path(path)
    if exclusive and path.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # "x" refuses an existing name; unlike tempfile.mkstemp (owner-only), the new file gets the
    # usual permissions for the user's umask.
    stream = open(temporary, "xb")  # noqa: SIM115 - closed by the with statement below
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        if exclusive:
            _link_exclusively(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        with suppress(OSError):
            os.unlink(temporary)


def atomic_write(path: os.PathLike | str, data: bytes | str, *, exclusive: bool = False) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` all at once: readers see the old file or the new,
    never half of it. See :func:`atomic_output` for ``exclusive``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_output(path, exclusive=exclusive) as stream:
        stream.write(data)


def _link_exclusively(temporary: Path, path: Path) -> None:
    """Give the finished ``temporary`` the name ``path`` unless that name exists (atomically where
    the file system has hard links; by claiming the name first where it has not)."""
    try:
        os.link(temporary, path)
        return
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)  # claims the name
    os.close(descriptor)
    os.replace(temporary, path)
