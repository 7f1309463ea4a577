"""What the cache folder keeps, under size limits: finished renders (a ``diskcache`` store of one ``.npz``
file per picture, least recently used pictures evicted first) and uploaded model files (pruned oldest first).

The render key covers the model's weights fingerprint and every setting that changes the picture, so a
changed setting never returns a stale picture. A damaged entry counts as missing and is removed; a cache
that cannot be read or written never stops a render, it only says so (``RenderCache.problem``).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import diskcache
import numpy as np

from vizcore import options
from vizcore.atomic import cache_root
from vizcore.errors import InputError

CACHE_VERSION = 3  # bump when the maths changes so old pictures are not reused
MB = 1024 * 1024
RENDERS, UPLOADS = "renders", "uploads"  # the kinds of things kept, and their folders in the cache folder


@dataclass
class CachedPicture:
    """One stored picture with its loss history and final activation."""

    image: np.ndarray
    loss_history: np.ndarray
    activation: float


@dataclass
class Use:
    """How much one kind of cached thing takes on disk, and its limit."""

    kind: str
    entries: int
    bytes: int
    limit: int

    def __str__(self) -> str:
        noun = "pictures" if self.kind == RENDERS else "model files"
        return f"{self.kind}: {self.entries} {noun}, {self.bytes / MB:.1f} MB of {self.limit / MB:g} MB"


STORE_ERRORS = (OSError, sqlite3.Error, diskcache.Timeout)  # a folder or index that cannot be read or written


def reason(error: Exception) -> str:
    """The short reason of an OS or database error, e.g. 'Permission denied'."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def size_limit(kind: str) -> int:
    """The byte limit of ``kind`` (renders or uploads): its environment variable in MB, else the default."""
    variable, default = options.CACHE_LIMITS[kind]
    text = os.environ.get(variable, "").strip()
    try:
        megabytes = float(text) if text else default
    except ValueError:
        megabytes = math.nan
    if not 0 <= megabytes < math.inf:
        raise InputError(f"{variable} must be a number of megabytes, 0 or more (got '{text}').")
    return int(megabytes * MB)


# ---------------------------------------------------------------- renders


class NpzDisk(diskcache.Disk):
    """diskcache's storage, reading every entry as a file of bytes and never unpickling one."""

    def filename(self, key: object = diskcache.core.UNKNOWN, value: object = diskcache.core.UNKNOWN) -> tuple[str, str]:
        """diskcache's random file name, ending ``.npz`` like what it holds."""
        name, full_path = super().filename(key, value)
        return name.removesuffix(".val") + ".npz", full_path.removesuffix(".val") + ".npz"

    def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> BinaryIO:
        """An open file of the entry's bytes; ValueError if the entry is not one file of bytes (diskcache takes
        OSError to mean a file deleted while it was read, and keeps the entry)."""
        if mode == diskcache.core.MODE_BINARY and filename:
            try:
                return open(os.path.join(self._directory, filename), "rb")  # the caller closes it
            except IsADirectoryError as error:
                raise ValueError("a folder instead of an entry's file") from error
        if mode == diskcache.core.MODE_RAW and isinstance(value, bytes):
            return io.BytesIO(value)
        raise ValueError("not a render cache entry")


def open_store(folder: Path, limit: int) -> diskcache.Cache:
    """The diskcache store in ``folder``; one whose index is damaged is emptied and made afresh."""
    if not (folder / "cache.db").exists():
        for old in folder.glob("??/*.npz"):  # the format before the store: one file per key, no index
            old.unlink()
    # no memory map of the index: a file damaged while mapped would end the process (SIGBUS)
    settings = dict(size_limit=limit, eviction_policy="least-recently-used", disk=NpzDisk, disk_min_file_size=0,
                    sqlite_mmap_size=0)
    try:
        return diskcache.Cache(folder, **settings)
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError):  # locked, read-only or full: not damage
            raise
    shutil.rmtree(folder)
    return diskcache.Cache(folder, **settings)


def encode(picture: CachedPicture) -> bytes:
    """A picture as ``.npz`` bytes: uint8 image, float32 loss history and activation."""
    buffer = io.BytesIO()
    np.savez(buffer, image=np.asarray(picture.image, np.uint8),
             loss_history=np.asarray(picture.loss_history, np.float32), activation=np.float32(picture.activation))
    return buffer.getvalue()


def decode(handle: BinaryIO, size: int, steps: int) -> CachedPicture:
    """The picture of a render of ``size`` pixels and ``steps`` iterations; any exception means damage."""
    with zipfile.ZipFile(handle) as archive:
        image = read_array(archive, "image", np.uint8, (size, size, 3))
        losses = read_array(archive, "loss_history", np.float32, (steps,))
        activation = read_array(archive, "activation", np.float32, ())
    return CachedPicture(image, losses, float(activation))


def read_array(archive: zipfile.ZipFile, name: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """One ``.npy`` member whose header says exactly ``dtype`` and ``shape``: the header is checked before
    any data is read, so a damaged one (e.g. claiming a picture of 100000 x 100000) never allocates."""
    with archive.open(f"{name}.npy") as member:
        if np.lib.format.read_magic(member) != (1, 0):
            raise ValueError(f"{name}: unknown .npy version")
        header = np.lib.format.read_array_header_1_0(member)
        if header != (shape, False, np.dtype(dtype)):
            raise ValueError(f"{name}: {header} instead of {shape} {np.dtype(dtype)}")
        expected = math.prod(shape) * np.dtype(dtype).itemsize
        data = member.read(expected + 1)
    if len(data) != expected:
        raise ValueError(f"{name}: {len(data)} bytes instead of {expected}")
    return np.frombuffer(data, dtype).reshape(shape)


class RenderCache:
    """Finished pictures on disk, keyed by model fingerprint and settings, kept under a size limit."""

    def __init__(self, folder: str | Path | None = None, limit: int | None = None):
        self.folder = Path(folder) if folder else cache_root() / RENDERS
        self.limit = size_limit(RENDERS) if limit is None else limit
        self.problem: str | None = None  # why pictures cannot be kept, in plain words
        try:
            self.store: diskcache.Cache | None = open_store(self.folder, self.limit)
        except STORE_ERRORS as error:
            self.store = None
            self.unusable(error)

    def unusable(self, error: Exception) -> str:
        """Remember and return the note that pictures cannot be kept because of ``error``."""
        self.problem = (f"The render cache in {self.folder} cannot be written ({reason(error)}), so this "
                        "picture is not kept for next time.")
        return self.problem

    def key(self, fingerprint: str, **settings: object) -> str:
        """A stable hash of the fingerprint and settings."""
        text = json.dumps({"version": CACHE_VERSION, "model": fingerprint, **settings}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def get(self, key: str, size: int, steps: int) -> CachedPicture | None:
        """The stored picture of ``size`` pixels and ``steps`` iterations, or None if it is missing or cannot
        be read (a damaged entry is removed)."""
        if self.store is None:
            return None
        try:
            handle = self.store.get(key, read=True)
            if handle is None:
                return None
            with handle:
                return decode(handle, size, steps)
        except Exception:  # whatever fails to read (damaged file or index, locked store) counts as missing
            self.discard(key)
            return None

    def discard(self, key: str) -> None:
        """Remove an entry if the store allows it."""
        with contextlib.suppress(*STORE_ERRORS):  # a read-only store keeps it; it is refused again next time
            self.store.delete(key)

    def put(self, key: str, picture: CachedPicture) -> str | None:
        """Store a picture (atomically: diskcache commits its index after the file is written); a note in
        plain words if it cannot be kept."""
        if self.store is None:
            return self.problem
        try:
            self.store.set(key, encode(picture))
        except STORE_ERRORS as error:
            return self.unusable(error)
        return None

    def use(self) -> Use:
        """How many pictures are kept and how many bytes they take."""
        if self.store is None:
            return Use(RENDERS, 0, 0, self.limit)
        return Use(RENDERS, len(self.store), self.store.volume(), self.limit)

    def clear(self) -> None:
        """Delete every picture."""
        if self.store is not None:
            self.store.clear()


# ---------------------------------------------------------------- uploads


def uploads_dir() -> Path:
    """Where uploaded model files are kept, named by their SHA-256."""
    return cache_root() / UPLOADS


def upload_files() -> list[Path]:
    """The stored upload files, most recently stored or used first (files being written are skipped)."""
    files = [path for path in uploads_dir().glob("*.keras") if path.is_file()]
    return sorted(files, key=lambda path: path.stat().st_mtime, reverse=True)


def prune_uploads(keep: Path) -> None:
    """Delete the least recently stored or used upload files beyond the uploads' size limit; never ``keep``."""
    limit, total = size_limit(UPLOADS), 0
    for path in sorted(upload_files(), key=lambda path: path != keep):  # stable: keep first, then newest first
        total += path.stat().st_size
        if total > limit and path != keep:
            path.unlink(missing_ok=True)


def uploads_use() -> Use:
    """How many upload files are kept and how many bytes they take."""
    files = upload_files()
    return Use(UPLOADS, len(files), sum(path.stat().st_size for path in files), size_limit(UPLOADS))


def clear_uploads() -> None:
    """Delete every upload file."""
    for path in upload_files():
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- both


def clear_cache(kind: str, renders: RenderCache) -> None:
    """Delete the renders, the uploads or ``all``; InputError if the folder does not allow it."""
    try:
        if kind in (RENDERS, "all"):
            renders.clear()
        if kind in (UPLOADS, "all"):
            clear_uploads()
    except STORE_ERRORS as error:
        raise InputError(f"Cannot clear the cache in {cache_root()} ({reason(error)}).") from None
