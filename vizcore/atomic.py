"""Atomic file writes and the cache folder: a reader never sees a half-written file."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vizcore.errors import InputError


def cache_root() -> Path:
    """Where the cache folder is ($VIZCORE_CACHE, else ~/.cache/vizcore), without creating it."""
    return Path(os.environ.get("VIZCORE_CACHE", Path.home() / ".cache" / "vizcore"))


def cache_dir() -> Path:
    """Folder for converted weights, natural-photo references, finished renders and uploads (created)."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target`` in one step."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # keep the full suffix (".weights.h5", ".png") so writers that check extensions are happy
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix="".join(target.suffixes))
    os.close(handle)
    os.unlink(name)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def writable_folder(path: str | os.PathLike) -> Path:
    """The folder, created if missing; InputError if it is a file or cannot be written into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"The output {path} is a file: give a folder for the pictures.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise InputError(f"Cannot write into the folder {path} ({error.strerror or error}).") from None
    return path
