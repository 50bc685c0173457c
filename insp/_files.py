"""Writing files like a careful plain write: atomic replace, links followed, permissions kept (a leaf).

:func:`atomic_write` is the one way insp writes a file (fields, operators,
checkpoints, images): the bytes go to a temporary file in the target's
directory, which is flushed, synced and renamed over the target
(``os.replace``); then the directory is synced.  A failed write leaves no
partial file and does not touch an existing one.  A symbolic link is followed
(its target is replaced, the link kept); a read-only target is refused; a new
file gets the mode the umask allows, an existing one keeps its mode; errors
name the target, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "check_writable"]


def check_writable(path) -> Path:
    """The file to write: ``path`` with symbolic links followed, after checking that it can be written.

    Call it before long work whose result goes to ``path`` (a fit, a render),
    so that a missing directory or a read-only file fails first, not after.
    """
    path = Path(os.fspath(path))
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # replace the link's target, keep the link
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the directory of path {str(path)!r} does not exist")
    # the mode bits as well as access(): root may write anything, but a read-only file is a user's "keep this"
    if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise PermissionError(errno.EACCES, f"path {str(path)!r} is not writable (read-only file); "
                                            "change its permissions or save elsewhere")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"the directory of path {str(path)!r} is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, chunks) -> Path:
    """Write the byte strings of ``chunks`` to ``path`` atomically (see the module notes); returns the path."""
    path = check_writable(path)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None and str(tmp) in str(exc):
            raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
        raise
    _sync_directory(path.parent)
    return path


def _sync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory: the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
