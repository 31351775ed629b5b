"""Atomic file output: write a temporary file in the target's folder, then rename.

A reader (or a crash) never sees a half-written file at the target path, and
no temporary file is left behind on failure. The file gets the usual mode
(0666 minus the umask), not mkstemp's private 0600.

What is replaced: only a regular file, or nothing. A path that names a
device, a FIFO or a socket (``/dev/null``, ``/dev/stdout``), or a symlink to
one, is refused with a one-line error: a rename would replace the special
file itself. A symlink to a regular file (or a dangling one) keeps the link:
its target is replaced atomically, in the target's folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path) -> Path:
    """``path`` as a Path, if a file can be written there: its folder exists and
    it is not itself a folder nor a special file. Raises FileNotFoundError,
    IsADirectoryError or ValueError naming the path the user gave (not a
    temporary name). A symlink is followed (see the module doc)."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    folder = target.parent  # Path("a.png").parent is Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    if target.exists() and not target.is_file():
        raise ValueError(f"cannot write {path}: it is a special file (a device, FIFO or socket), "
                         "not a regular file; choose a file name")
    return path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path next to ``path``; it replaces ``path`` when the
    block ends without an exception, and is deleted otherwise.

    suffix: the temporary file's ending (a video writer needs ".mp4" to pick
    its container).
    """
    given = check_output_path(path)
    path = given.resolve() if given.is_symlink() else given  # keep a link: replace what it points to
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except PermissionError:
        raise PermissionError(f"cannot write {given}: the folder {path.parent} is not writable") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
