"""The cache folder: damaged render entries count as missing (written here byte by byte, then read by the real
`vizcore render` on a tiny model file), a cache that cannot be written costs only a note, renders and uploads
stay under their size limits (least recently used first out), and `vizcore cache` shows and clears them."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from model_files import save_tiny
from test_startup import RUN_CLI, run_python

from vizcore import cli, uploads
from vizcore.cache import MB, CachedPicture, RenderCache
from vizcore.errors import InputError

SIZE, STEPS = 32, 3
RENDER = ["render", "--layer", "conv_b", "--filter", "1", "--method", "classic", "--size", str(SIZE),
          "--steps", str(STEPS)]


# ---------------------------------------------------------------- damage, written byte by byte


def npz(image: np.ndarray | None = None, loss_history: np.ndarray | None = None,
        activation: np.ndarray | None = None) -> bytes:
    """An entry's bytes: a well-formed picture of the test's render, with the given arrays instead."""
    buffer = io.BytesIO()
    np.savez(buffer, image=np.zeros((SIZE, SIZE, 3), np.uint8) if image is None else image,
             loss_history=np.zeros(STEPS, np.float32) if loss_history is None else loss_history,
             activation=np.float32(1.0) if activation is None else activation)
    return buffer.getvalue()


def absurd_size() -> bytes:
    """An entry whose image header claims 100000 x 100000 pixels (30 GB), followed by a few bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (100000, 100000, 3)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("image.npy", np.lib.format.magic(1, 0) + header.getvalue() + bytes(100))
    return buffer.getvalue()


def corrupt_compressed() -> bytes:
    """A compressed entry (np.savez_compressed) whose image member's deflate stream is overwritten midway."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, image=np.arange(SIZE * SIZE * 3, dtype=np.uint8).reshape(SIZE, SIZE, 3),
                        loss_history=np.zeros(STEPS, np.float32), activation=np.float32(1.0))
    data = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("image.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10:start + 40] = b"\xff" * 30
    return bytes(data)


def as_folder(path: Path) -> None:
    """The entry's file replaced by a folder with a file in it."""
    path.unlink()
    path.mkdir()
    (path / "inside").write_bytes(b"x")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2]),
    "garbage": lambda path: path.write_bytes(bytes(range(256)) * 40),
    "empty": lambda path: path.write_bytes(b""),
    "wrong shape": lambda path: path.write_bytes(npz(image=np.zeros((16, 16, 3), np.uint8))),
    "wrong dtype": lambda path: path.write_bytes(npz(image=np.zeros((SIZE, SIZE, 3), np.float32))),
    "short loss history": lambda path: path.write_bytes(npz(loss_history=np.zeros(STEPS - 1, np.float32))),
    "3-element activation": lambda path: path.write_bytes(npz(activation=np.ones(3, np.float32))),
    "corrupt compressed member": lambda path: path.write_bytes(corrupt_compressed()),
    "absurd image size": lambda path: path.write_bytes(absurd_size()),
    "replaced by a folder": as_folder,
}


def entry_file(cache: RenderCache, key: str) -> Path:
    """Where the store keeps ``key``'s bytes."""
    with cache.store.get(key, read=True) as handle:
        return Path(handle.name)


def picture(value: int = 7) -> CachedPicture:
    """A picture of the test's render size and steps."""
    return CachedPicture(np.full((SIZE, SIZE, 3), value, np.uint8), np.arange(STEPS, dtype=np.float32), 0.5)


# ---------------------------------------------------------------- the store itself (no model)


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_entry_counts_as_missing_and_is_removed(tmp_path, damage):
    cache = RenderCache(tmp_path)
    cache.put("k" * 32, picture())
    DAMAGES[damage](entry_file(cache, "k" * 32))
    tracemalloc.start()
    try:
        assert cache.get("k" * 32, SIZE, STEPS) is None
        assert tracemalloc.get_traced_memory()[1] < 10 * MB  # the 30 GB image header allocated nothing
    finally:
        tracemalloc.stop()
    assert len(cache.store) == 0
    cache.put("k" * 32, picture(9))
    assert cache.get("k" * 32, SIZE, STEPS).image[0, 0, 0] == 9


UNPICKLED = []


class Planted:
    """A value that records it if it is ever unpickled."""

    def __reduce__(self):
        return UNPICKLED.append, ("unpickled",)


def test_a_pickled_entry_is_never_unpickled(tmp_path):
    cache = RenderCache(tmp_path)
    cache.store.set("k" * 32, Planted())
    assert cache.get("k" * 32, SIZE, STEPS) is None
    assert UNPICKLED == [] and len(cache.store) == 0


def test_a_damaged_index_is_emptied_and_made_afresh(tmp_path):
    cache = RenderCache(tmp_path)
    cache.put("k" * 32, picture())
    cache.store.close()
    (tmp_path / "cache.db").write_bytes(b"not a database" * 100)
    reopened = RenderCache(tmp_path)
    assert reopened.problem is None and reopened.get("k" * 32, SIZE, STEPS) is None
    assert reopened.put("k" * 32, picture()) is None and reopened.get("k" * 32, SIZE, STEPS) is not None


def test_least_recently_used_pictures_are_evicted_beyond_the_limit(tmp_path):
    cache = RenderCache(tmp_path, limit=150_000)  # the index and about 30 pictures of 3.4 kB
    keys = [f"{i:032d}" for i in range(40)]
    for key in keys:
        cache.put(key, picture())
        assert cache.get(keys[0], SIZE, STEPS) is not None  # the first one is read after every put: recently used
        assert cache.store.volume() <= 150_000
    kept = [key for key in keys if cache.get(key, SIZE, STEPS) is not None]
    assert keys[0] in kept and keys[1] not in kept and keys[-1] in kept
    assert 20 <= len(kept) < len(keys)


def test_the_render_limit_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_RENDER_CACHE_MB", "0.5")
    assert RenderCache(tmp_path).use().limit == MB // 2
    monkeypatch.setenv("VIZCORE_RENDER_CACHE_MB", "-1")
    with pytest.raises(InputError, match="VIZCORE_RENDER_CACHE_MB must be a number of megabytes"):
        RenderCache(tmp_path)


# ---------------------------------------------------------------- uploads


def test_uploads_are_pruned_oldest_first_and_a_new_upload_is_never_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    monkeypatch.setenv("VIZCORE_UPLOAD_CACHE_MB", str(25_000 / MB))
    stored = []
    for i in range(3):
        stored.append(uploads.store_upload(bytes([i]) * 10_000, f"model{i}.keras"))
        os.utime(stored[-1], (1000 + i, 1000 + i))  # distinct ages, whatever the clock's resolution
    assert [path.exists() for path in stored] == [False, True, True]
    assert uploads.store_upload(bytes([1]) * 10_000, "again.keras") == stored[1]  # used again: now the newest
    assert uploads.store_upload(bytes([3]) * 10_000, "model3.keras").exists()
    assert [path.exists() for path in stored] == [False, True, False]
    monkeypatch.setenv("VIZCORE_UPLOAD_CACHE_MB", "0")
    assert uploads.store_upload(bytes([4]) * 10_000, "model4.keras").exists()  # larger than the limit: kept
    assert len(list(uploads.uploads_dir().iterdir())) == 1


# ---------------------------------------------------------------- the real `vizcore render` and `vizcore cache`


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="module")
def filled(tmp_path_factory, model_file) -> tuple[Path, bytes]:
    """A cache folder holding the test render's picture, and that picture's PNG bytes."""
    folder = tmp_path_factory.mktemp("filled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIZCORE_CACHE", str(folder / "cache"))
        assert cli.main([*RENDER, "--model-file", str(model_file), "--out", str(folder / "x.png")]) == 0
    return folder / "cache", (folder / "x.png").read_bytes()


def render(model_file: Path, cache: Path, out: Path, capsys, monkeypatch) -> str:
    """`vizcore render` of the test's picture with ``cache`` as the cache folder: exit 0, the same picture
    as a clean render; returns stderr."""
    monkeypatch.setenv("VIZCORE_CACHE", str(cache))
    code = cli.main([*RENDER, "--model-file", str(model_file), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    return err


def only_key(cache: RenderCache) -> str:
    [key] = list(cache.store)
    return key


@pytest.mark.parametrize("damage", DAMAGES)
def test_render_redoes_a_damaged_entry(model_file, filled, tmp_path, capsys, monkeypatch, damage):
    folder, png = filled
    shutil.copytree(folder, tmp_path / "cache")
    cache = RenderCache(tmp_path / "cache" / "renders")
    key = only_key(cache)
    DAMAGES[damage](entry_file(cache, key))
    err = render(model_file, tmp_path / "cache", tmp_path / "x.png", capsys, monkeypatch)
    assert "render cache" not in err
    assert (tmp_path / "x.png").read_bytes() == png
    assert only_key(cache) == key and cache.get(key, SIZE, STEPS) is not None  # stored again, readable


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """``folder`` and all in it cannot be changed during the block, even by root (immutable files)."""
    lock, unlock = (["chattr", "-R", "+i"], ["chattr", "-R", "-i"]) if os.geteuid() == 0 else \
        (["chmod", "-R", "a-w"], ["chmod", "-R", "u+w"])
    if subprocess.run([*lock, str(folder)], capture_output=True).returncode:
        pytest.skip(f"{lock[0]} cannot lock {folder}")
    try:
        yield
    finally:
        subprocess.run([*unlock, str(folder)], check=True)


@contextlib.contextmanager
def full_disk(folder: Path) -> Iterator[None]:
    """A small file system mounted as ``folder``'s renders, with a render cache on it, then filled up."""
    renders = folder / "renders"
    renders.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(renders)],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small file system needs root")
    try:
        RenderCache(renders).store.close()
        with contextlib.suppress(OSError), open(renders / "filler", "wb") as filler:
            filler.write(bytes(MB))
        yield
    finally:
        subprocess.run(["umount", "-l", str(renders)], check=True)


@pytest.mark.parametrize("lock", [unwritable, full_disk])
def test_a_cache_that_cannot_be_written_costs_only_a_note(model_file, filled, tmp_path, capsys, monkeypatch, lock):
    cache = tmp_path / "cache"
    shutil.copytree(filled[0], cache)
    with lock(cache):
        err = render(model_file, cache, tmp_path / "x.png", capsys, monkeypatch)
    assert (tmp_path / "x.png").read_bytes() == filled[1]
    notes = [line for line in err.splitlines() if "render cache" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "not kept for next time" in notes[0], err


def test_cache_command_shows_and_clears_renders_and_uploads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    renders = RenderCache()
    renders.put("a" * 32, picture())
    renders.put("b" * 32, picture())
    uploads.store_upload(bytes(20_000), "m.keras")
    assert cli.main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"cache folder: {tmp_path}" in out
    assert "renders: 2 pictures" in out and "of 1024 MB" in out
    assert "uploads: 1 model files, 0.0 MB of 2048 MB" in out
    assert cli.main(["cache", "--clear", "renders"]) == 0
    out = capsys.readouterr().out
    assert "renders: 0 pictures" in out and "uploads: 1 model files" in out
    assert cli.main(["cache", "--clear"]) == 0
    assert "uploads: 0 model files" in capsys.readouterr().out
    assert list(uploads.uploads_dir().iterdir()) == []


def test_cache_command_answers_without_tensorflow(tmp_path):
    done = run_python(f"import os; os.environ['VIZCORE_CACHE'] = {str(tmp_path)!r}\n" + RUN_CLI, "cache")
    assert "renders: 0 pictures" in done.stdout, done.stderr
    assert done.stdout.splitlines()[-1] == "imported: False False", done.stderr


def test_bad_cache_limit_is_a_plain_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    monkeypatch.setenv("VIZCORE_UPLOAD_CACHE_MB", "lots")
    assert cli.main(["cache"]) == 2
    assert capsys.readouterr().err.strip() == ("error: VIZCORE_UPLOAD_CACHE_MB must be a number of megabytes, "
                                               "0 or more (got 'lots').")
