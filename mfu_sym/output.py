"""Writing output files: all or nothing.

A regular file is written to a temporary file beside it and renamed into place only when
every byte is written, so a full disk, a missing directory or an error half-way leaves no
partial file (and an existing file untouched). A device or a pipe (/dev/stdout,
/dev/full) is written directly: there is nothing to rename, and renaming over it would
replace the device.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import UsageError


def _error(path, exc):
    reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
    return UsageError(path, None, f"cannot write: {reason}")


@contextlib.contextmanager
def target(path):
    """A path to write to; on success it becomes `path`, on any error nothing is left."""
    path = Path(path)
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise UsageError(path, None, "cannot write: is a directory")
        yield path  # a device or a pipe
        return
    directory = path.parent
    if not directory.is_dir():
        raise UsageError(path, None, f"cannot write: no such directory {str(directory)!r}")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp",
                                             dir=directory)
        os.close(handle)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise _error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def write_text(path, chunks):
    """Write text (a string, or an iterable of strings) to `path`, all or nothing."""
    if isinstance(chunks, str):
        chunks = (chunks,)
    with target(path) as temporary:
        try:
            with open(temporary, "w", encoding="utf-8", newline="") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        except OSError as exc:
            raise _error(path, exc) from None


def write_bytes(path, chunks):
    """Write an iterable of bytes to `path`, all or nothing."""
    with target(path) as temporary:
        try:
            with open(temporary, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        except OSError as exc:
            raise _error(path, exc) from None
