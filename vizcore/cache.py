"""Disk cache of finished renders, one ``.npz`` file per picture, written atomically.

The key covers the model's weights fingerprint and every setting that changes the picture, so a
changed setting never returns a stale picture. A corrupt entry is deleted and treated as missing.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vizcore.atomic import cache_dir, write_bytes_atomic

CACHE_VERSION = 2  # bump when the maths changes so old pictures are not reused


@dataclass
class CachedPicture:
    """One stored picture with its loss history and final activation."""

    image: np.ndarray
    loss_history: np.ndarray
    activation: float


class RenderCache:
    """Finished pictures on disk, keyed by model fingerprint and settings."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else cache_dir() / "renders"

    def key(self, fingerprint: str, **settings: object) -> str:
        """A stable hash of the fingerprint and settings."""
        text = json.dumps({"version": CACHE_VERSION, "model": fingerprint, **settings}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives."""
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> CachedPicture | None:
        """The stored picture, or None if it is missing or unreadable (an unreadable file is removed)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                picture = CachedPicture(data["image"], data["loss_history"], float(data["activation"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)
            return None
        if picture.image.dtype != np.uint8 or picture.image.ndim != 3 or picture.loss_history.ndim != 1:
            path.unlink(missing_ok=True)
            return None
        return picture

    def put(self, key: str, picture: CachedPicture) -> None:
        """Store a picture atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, image=picture.image, loss_history=picture.loss_history,
                 activation=np.float32(picture.activation))
        write_bytes_atomic(self.path(key), buffer.getvalue())
