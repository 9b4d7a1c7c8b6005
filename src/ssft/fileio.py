"""Crash-safe file writes shared by the run directory and the feature cache."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ssft.errors import SsftError

#: Called as ``write_hook(path, nbytes)`` before each write of ssft's file helpers and of cache
#: extraction; None in normal use. Tests set it to raise ``OSError(ENOSPC)``, a full disk.
write_hook: Callable[[Path, int], None] | None = None


class DiskFullError(SsftError, OSError):
    """No space left on the device while writing one of ssft's files."""

    def __str__(self) -> str:  # the message alone, as every other ssft error
        return str(self.strerror)


def before_write(path: Path, nbytes: int) -> None:
    """Run :data:`write_hook` (if set) for a write of ``nbytes`` to ``path``."""
    if write_hook is not None:
        write_hook(Path(path), nbytes)


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and ``os.replace``: readers see old or new, never half.
    The data and the folder entry are flushed to disk before returning."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            before_write(path, len(data))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)  # our own temp file: nobody else writes it
        if is_disk_full(e):
            raise DiskFullError(
                errno.ENOSPC,
                f"no space left on the device writing {path}; the previous {path.name} (if any) is intact: "
                "free some space (or write elsewhere) and run again, with --resume for a run",
            ) from None
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where the platform cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not supported on every platform (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
