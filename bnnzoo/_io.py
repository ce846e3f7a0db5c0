"""Writing files so that a reader never sees half of one: the one atomic write of bnnzoo; and
where bnnzoo keeps its cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` through a temporary file in the same
    folder and a rename, so a reader sees the old file or the new one, never a partial one.

    The temporary file is removed if the write fails (a full disk, an interrupt). An existing
    file keeps its permissions; a new one gets 0644.

    Example:
        >>> write_atomically("runs/a/config.json", '{"epochs": 3}')
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, mode)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def cache_root() -> Path:
    """bnnzoo's cache: ``$BNNZOO_CACHE``, default ``~/.cache/bnnzoo`` (downloaded weights, the
    digits split)."""
    return Path(os.environ.get("BNNZOO_CACHE") or Path.home() / ".cache" / "bnnzoo")
