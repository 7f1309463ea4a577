"""The filter atlas on a tiny model: files and index, resuming after an interruption, a new folder per
setting, a corrupt or hostile index, damaged pictures, sorting, Ray workers equal to one process, and the
command line's bad input."""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_models import tiny_model

from vizcore import Engine, cli
from vizcore.atlas import (
    INDEX,
    MAX_INDEX_BYTES,
    AtlasParameters,
    Job,
    build_atlas,
    find_atlas,
    local_renderer,
    open_atlas,
    ray_renderer,
)
from vizcore.cache import CACHE_VERSION
from vizcore.errors import InputError

TESTS = Path(__file__).resolve().parent
LAYERS = ["conv1", "conv2"]  # 4 + 6 filters
TINY = AtlasParameters("robust", steps=6, size=32, lr=0.05, seed=3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    """The tiny model, with the natural-photo reference (quality score) cached in a private folder."""
    os.environ.setdefault("VIZCORE_CACHE", str(tmp_path_factory.mktemp("vizcore-cache")))
    return Engine(tiny_model())


@pytest.fixture(scope="module")
def reference(engine, tmp_path_factory) -> Path:
    """An atlas built in one go, in batches of 4: the result every other way must reproduce."""
    return build_atlas(engine, tmp_path_factory.mktemp("reference"), LAYERS, TINY, batch=4).folder


def files(folder: Path) -> dict[str, bytes]:
    """Every visible file of an atlas folder (temporary files start with a dot) with its contents."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("[!.]*"))
            if path.is_file()}


class Interrupt(Exception):
    """Stands for Ctrl-C arriving after some batches."""


def interrupt_after(batches: int):
    """A progress callback that stops the build once ``batches`` batches are saved."""
    calls = []

    def progress(counts: dict[str, tuple[int, int]]) -> None:
        calls.append(counts)
        if len(calls) > batches:
            raise Interrupt
    return progress


def test_atlas_has_a_png_and_a_record_per_filter(engine, reference):
    index = json.loads((reference / INDEX).read_text())
    assert reference.name == TINY.fingerprint(engine.model.fingerprint) == index["fingerprint"]
    assert index["model"]["fingerprint"] == engine.model.fingerprint
    assert index["parameters"] == {"method": "robust", "steps": 6, "size": 32, "lr": 0.05, "seed": 3,
                                   "cache_version": CACHE_VERSION}
    assert {layer: list(entry["done"]) for layer, entry in index["layers"].items()} == {
        "conv1": ["0", "1", "2", "3"], "conv2": ["0", "1", "2", "3", "4", "5"]}
    for layer, entry in index["layers"].items():
        assert entry["filters"] == {"conv1": 4, "conv2": 6}[layer]
        for number, record in entry["done"].items():
            assert np.asarray(Image.open(reference / layer / f"{number}.png")).shape == (32, 32, 3)
            assert record["activation"] > 0 and np.isfinite(record["loss"])
            assert record["quality"] is None or record["quality"] > 0
    assert any(record["quality"] for entry in index["layers"].values() for record in entry["done"].values())


def test_an_interrupted_build_resumes_to_the_identical_atlas(engine, reference, tmp_path):
    with pytest.raises(Interrupt):
        build_atlas(engine, tmp_path, LAYERS, TINY, batch=4, progress=interrupt_after(1))
    folder = tmp_path / reference.name
    assert list(json.loads((folder / INDEX).read_text())["layers"]) == ["conv1"]
    # what a kill in the middle of an atomic write leaves behind: a half-written temporary file
    (folder / f".{INDEX}.x1y2.json").write_text('{"fingerprint": "half')
    (folder / "conv2").mkdir()
    (folder / "conv2" / ".0.png.x1y2.png").write_bytes(b"\x89PNG half")
    seen = []
    build_atlas(engine, tmp_path, LAYERS, TINY, batch=4, progress=seen.append)
    assert seen[0] == {"conv1": (4, 4), "conv2": (0, 6)}  # conv1 was not rendered again
    assert seen[-1] == {"conv1": (4, 4), "conv2": (6, 6)}
    assert files(folder) == files(reference)


def test_a_resume_with_another_batch_size_keeps_the_first_one_and_the_identical_atlas(engine, reference,
                                                                                      tmp_path):
    with pytest.raises(Interrupt):
        build_atlas(engine, tmp_path, LAYERS, TINY, batch=4, progress=interrupt_after(1))
    folder = tmp_path / reference.name
    assert json.loads((folder / INDEX).read_text())["batch"] == 4
    atlas = open_atlas(tmp_path, engine.model, TINY)
    assert atlas.choose_batch(1) == 4
    assert atlas.notes == ["This atlas was started with batches of 4 filters; it continues with 4 (not 1) so that "
                           "every picture is made the same way."]
    build_atlas(engine, tmp_path, LAYERS, TINY, batch=1)
    assert files(folder) == files(reference)


def test_a_png_without_record_or_a_record_without_png_is_redone(engine, reference, tmp_path):
    folder = tmp_path / reference.name
    shutil.copytree(reference, folder)
    (folder / "conv2" / "4.png").unlink()
    index = json.loads((folder / INDEX).read_text())
    del index["layers"]["conv1"]["done"]["2"]
    (folder / INDEX).write_text(json.dumps(index))
    (folder / "conv1" / "2.png").write_bytes(b"not the finished picture")
    atlas = open_atlas(tmp_path, engine.model, TINY)
    assert atlas.notes == ["1 filters of the index had lost their PNG and will be rendered again."]
    assert [job.filters for job in atlas.jobs(LAYERS, batch=4)] == [(2,), (4,)]
    build_atlas(engine, tmp_path, LAYERS, TINY, batch=4)
    assert json.loads((folder / INDEX).read_text()) == json.loads((reference / INDEX).read_text())
    for name in ("conv1/2.png", "conv2/4.png"):  # rendered alone, not in its original batch of 4
        difference = np.asarray(Image.open(folder / name), int) - np.asarray(Image.open(reference / name), int)
        assert np.abs(difference).max() <= 2


def test_other_settings_go_to_another_folder(engine, reference, tmp_path):
    shutil.copytree(reference, tmp_path / reference.name)
    before = files(tmp_path / reference.name)
    other = AtlasParameters("robust", steps=3, size=32, lr=0.05, seed=3)
    atlas = build_atlas(engine, tmp_path, ["conv1"], other)
    assert atlas.folder != tmp_path / reference.name
    assert json.loads((atlas.folder / INDEX).read_text())["parameters"]["steps"] == 3
    assert files(tmp_path / reference.name) == before
    assert len({TINY.fingerprint("a"), TINY.fingerprint("b"), other.fingerprint("a"),
                AtlasParameters("robust", 6, 32, 0.05, 4).fingerprint("a")}) == 4


@pytest.mark.parametrize("damage", [b'{"fingerprint": "abc", "lay', b"\xff\xfe", b'{"layers": []}',
                                    b"[1, 2]", b"[" * 100_000], ids=["cut", "utf16", "layers", "list", "nested"])
def test_a_corrupt_index_is_set_aside_and_its_filters_redone(engine, reference, tmp_path, damage):
    folder = tmp_path / reference.name
    shutil.copytree(reference, folder)
    (folder / INDEX).write_bytes(damage)
    assert find_atlas(tmp_path, engine.model, TINY) is None  # the dashboard's lookup
    atlas = open_atlas(tmp_path, engine.model, TINY)
    assert len(atlas.notes) == 1 and "unusable" in atlas.notes[0] and "rendered again" in atlas.notes[0]
    assert (folder / f"{INDEX}.corrupt").read_bytes() == damage
    build_atlas(engine, tmp_path, LAYERS, TINY, batch=4)
    assert files(folder) == {**files(reference), f"{INDEX}.corrupt": damage}


def done_entry(record: str) -> str:
    """An index of this atlas (fingerprint FP) whose conv1 has one finished filter 0 with this record."""
    return '{"fingerprint": "FP", "layers": {"conv1": {"filters": 4, "done": {"0": ' + record + "}}}}"


@pytest.mark.parametrize("damage, words", [
    ('{"fingerprint": "FP", "batch": 1' + "0" * 5000 + "}", "not valid JSON"),  # more digits than Python converts
    (done_entry('{"loss": 1' + "0" * 400 + ', "activation": 1, "quality": null}'), "OverflowError"),
    (done_entry('{"loss": "1", "activation": 1, "quality": null}'), "'1' is not a number"),
    (done_entry('{"loss": 1, "activation": true, "quality": null}'), "True is not a number"),
    (done_entry('{"loss": 1, "activation": 1}'), "KeyError"),
    (done_entry("[1, 2, 3]"), "TypeError"),
    (done_entry("null"), "TypeError"),
    ('{"fingerprint": "FP", "layers": {"conv1": {"done": {"zero": {}}}}}', "ValueError"),
    ('{"fingerprint": "FP", "layers": {"conv1": 7}}', "TypeError"),
    ('{"fingerprint": "FP", "layers": {"conv1": {"done": []}}}', "AttributeError"),
    ('{"fingerprint": "FP", "layers": {"conv9": {"done": {}}}}', "unknown layer 'conv9'"),
    ('{"fingerprint": "FP", "layers": {}, "batch": 100000}', "batch 100000 is not a whole number from 1 to 64"),
    ('{"fingerprint": "FP", "layers": {}, "batch": 4.0}', "batch 4.0 is not"),
    ('{"fingerprint": "FP", "layers": {}}' + " " * MAX_INDEX_BYTES, "larger than 32 MB"),
], ids=["digits", "huge", "text", "bool", "missing", "list", "null", "key", "entry", "done", "layer", "batch",
        "float-batch", "enormous"])
def test_a_hostile_index_is_set_aside_with_a_note(engine, tmp_path, damage, words):
    fingerprint = TINY.fingerprint(engine.model.fingerprint)
    folder = tmp_path / fingerprint
    folder.mkdir()
    damage = damage.replace("FP", fingerprint).encode()
    (folder / INDEX).write_bytes(damage)
    assert find_atlas(tmp_path, engine.model, TINY) is None
    [note] = open_atlas(tmp_path, engine.model, TINY).notes
    assert "unusable" in note and words in note and len(note) < 500, note
    assert (folder / f"{INDEX}.corrupt").read_bytes() == damage and not (folder / INDEX).exists()


def test_an_index_that_is_not_a_file_is_set_aside(engine, tmp_path):
    folder = tmp_path / TINY.fingerprint(engine.model.fingerprint)
    folder.mkdir()
    os.mkfifo(folder / INDEX)  # reading it would wait for a writer forever
    assert find_atlas(tmp_path, engine.model, TINY) is None
    [note] = open_atlas(tmp_path, engine.model, TINY).notes
    assert "it is not a file" in note and (folder / f"{INDEX}.corrupt").is_fifo()


def test_an_index_that_cannot_be_set_aside_is_a_plain_message(engine, tmp_path):
    folder = tmp_path / TINY.fingerprint(engine.model.fingerprint)
    (folder / f"{INDEX}.corrupt").mkdir(parents=True)
    (folder / f"{INDEX}.corrupt" / "kept").write_text("a folder in the way")
    (folder / INDEX).write_text("[" * 100_000)
    with pytest.raises(InputError, match="is unusable and could not be set aside: Is a directory"):
        open_atlas(tmp_path, engine.model, TINY)
    assert (folder / INDEX).read_text() == "[" * 100_000


def test_nan_and_infinite_numbers_in_the_index_load_and_sort_last(engine, reference, tmp_path):
    folder = tmp_path / reference.name
    shutil.copytree(reference, folder)
    index = json.loads((folder / INDEX).read_text())
    done = index["layers"]["conv2"]["done"]
    done["0"]["activation"], done["1"]["activation"], done["2"]["quality"] = float("nan"), float("inf"), float("nan")
    (folder / INDEX).write_text(json.dumps(index))  # json writes NaN and Infinity
    atlas = find_atlas(tmp_path, engine.model, TINY)
    assert open_atlas(tmp_path, engine.model, TINY).notes == []
    by_activation = [number for number, _, _ in atlas.tiles("conv2", "activation")]
    assert by_activation[0] == 1 and by_activation[-1] == 0
    assert 2 not in [number for number, _, record in atlas.tiles("conv2", "quality") if record["quality"] is not None
                     and not np.isnan(record["quality"])]


def damage_pictures(folder: Path) -> None:
    """Spoil the four pictures of conv1 (one batch of 4) in four ways: cut short, garbage, empty, wrong size."""
    picture = (folder / "conv1" / "0.png").read_bytes()
    (folder / "conv1" / "0.png").write_bytes(picture[:len(picture) // 2])
    (folder / "conv1" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / "conv1" / "2.png").write_bytes(b"")
    Image.new("RGB", (16, 16)).save(folder / "conv1" / "3.png")


def test_damaged_pictures_of_finished_filters_are_rendered_again(engine, reference, tmp_path):
    folder = tmp_path / reference.name
    shutil.copytree(reference, folder)
    damage_pictures(folder)
    found = find_atlas(tmp_path, engine.model, TINY)  # what the dashboard shows: damaged filters as missing
    assert found.tiles("conv1") == [] and not found.has_pictures("conv1") and found.record("conv1", 0) is None
    assert [number for number, _, _ in found.tiles("conv2", "quality")] != [] and found.has_pictures("conv2")
    atlas = open_atlas(tmp_path, engine.model, TINY)
    assert atlas.notes == ["4 damaged pictures (cut short or unreadable PNG files) will be rendered again."]
    assert [(job.layer, job.filters) for job in atlas.jobs(LAYERS, batch=4)] == [("conv1", (0, 1, 2, 3))]
    build_atlas(engine, tmp_path, LAYERS, TINY, batch=4)
    assert files(folder) == files(reference)  # the same batch again: byte for byte the clean build


def test_tiles_sort_by_score_best_first_with_missing_scores_last(engine, reference):
    atlas = find_atlas(reference.parent, engine.model, TINY)
    by_number = atlas.tiles("conv2")
    assert [number for number, _, _ in by_number] == list(range(6))
    by_activation = atlas.tiles("conv2", "activation")
    assert [r["activation"] for _, _, r in by_activation] == sorted((r["activation"] for _, _, r in by_number),
                                                                     reverse=True)
    qualities = [r["quality"] for _, _, r in atlas.tiles("conv2", "quality")]
    known = [q for q in qualities if q is not None]
    assert qualities == known + [None] * (len(qualities) - len(known))
    assert known == sorted(known, reverse=True)


def tiny_atlas_model():
    """The model factory the Ray workers call: the same tiny model, built in the worker."""
    return tiny_model()


@pytest.fixture
def local_ray(monkeypatch):
    """A local Ray instance with 2 CPUs whose workers can import this module; never hangs (150 s limit)."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))

    def give_up(signum, frame):
        raise TimeoutError("Ray did not finish within 150 s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(150)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield ray
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        ray.shutdown()


def test_ray_workers_build_the_same_atlas(engine, reference, tmp_path, local_ray):
    with ray_renderer("local", tiny_atlas_model, engine.model.fingerprint) as renderer:
        build_atlas(engine, tmp_path, LAYERS, TINY, batch=4, renderer=renderer)
    folder = tmp_path / reference.name
    assert files(folder).keys() == files(reference).keys()
    for layer, size in (("conv1", 4), ("conv2", 6)):
        for number in range(size):
            name = f"{layer}/{number}.png"
            difference = np.asarray(Image.open(folder / name), int) - np.asarray(Image.open(reference / name), int)
            assert np.abs(difference).max() <= 2, name
    got, want = (json.loads((f / INDEX).read_text())["layers"] for f in (folder, reference))
    for layer, entry in want.items():
        for number, record in entry["done"].items():
            assert got[layer]["done"][number] == pytest.approx(record, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("extra, words", [
    (["--layers", "block9_conv1"], ["Unknown layer 'block9_conv1'", "block1_conv1"]),
    (["--layers", ","], ["--layers needs"]),
    (["--batch", "0"], ["--batch must be from 1 to 64"]),
    (["--steps", "0"], ["Iterations"]),
    (["--lr", "nan"], ["Learning rate"]),
    (["--layers", "block1_conv1", "--ray", "127.0.0.1:1"], ["Nothing answers at the Ray address"]),
])
def test_bad_atlas_input_fails_with_a_plain_message(engine, tmp_path, capsys, extra, words):
    code = cli.main(["atlas", "--model", "hed-vgg16", "--out", str(tmp_path), *extra])
    stderr = capsys.readouterr().err
    assert code == 2 and "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    for word in words:
        assert word in line, line
    assert not any(tmp_path.iterdir())


def test_an_unwritable_atlas_folder_fails_with_a_plain_message(engine, tmp_path, capsys):
    code = cli.main(["atlas", "--model", "hed-vgg16", "--layers", "block1_conv1", "--out", "/proc/vizcore-atlas"])
    stderr = capsys.readouterr().err
    assert code == 2 and "Traceback" not in stderr
    assert "error: Cannot write into the folder /proc/vizcore-atlas/" in stderr  # even root cannot write in /proc


def test_a_failed_save_is_a_plain_message(engine, tmp_path):
    atlas = open_atlas(tmp_path, engine.model, TINY)
    [done] = local_renderer(engine)([Job("conv1", (0,), TINY, quality=False)])
    atlas.folder.rename(tmp_path / "moved")  # the folder vanished under a running build
    (tmp_path / atlas.folder.name).write_text("a file where the atlas folder was")
    with pytest.raises(InputError, match="Could not save the atlas in"):
        atlas.save(done)


def test_the_command_line_builds_an_atlas_and_a_rerun_has_nothing_left_to_do(engine, tmp_path, capsys):
    command = ["atlas", "--model", "hed-vgg16", "--layers", "block1_conv1", "--steps", "2", "--size", "32",
               "--batch", "32", "--no-quality", "--out", str(tmp_path)]
    assert cli.main(command) == 0
    out, err = capsys.readouterr()
    assert "64 filters rendered" in out and "64/64 filters" in err
    assert "32/64 filters · block1_conv1 32/64" in err  # per-layer counts while it runs
    [folder] = tmp_path.iterdir()
    index = json.loads((folder / INDEX).read_text())
    assert len(index["layers"]["block1_conv1"]["done"]) == 64 and len(list(folder.glob("block1_conv1/*.png"))) == 64
    assert cli.main(command) == 0
    assert "0 filters rendered" in capsys.readouterr().out
    assert json.loads((folder / INDEX).read_text()) == index


def test_the_command_line_renders_damaged_pictures_and_a_nested_index_again(engine, tmp_path, capsys):
    command = ["atlas", "--model", "hed-vgg16", "--layers", "block1_conv1", "--steps", "2", "--size", "32",
               "--batch", "32", "--no-quality", "--out", str(tmp_path)]
    assert cli.main(command) == 0
    capsys.readouterr()
    [folder] = tmp_path.iterdir()
    picture = (folder / "block1_conv1" / "5.png").read_bytes()
    (folder / "block1_conv1" / "5.png").write_bytes(picture[:100])
    (folder / "block1_conv1" / "6.png").write_bytes(b"not a picture")
    assert cli.main(command) == 0
    out, err = capsys.readouterr()
    assert "note: 2 damaged pictures (cut short or unreadable PNG files) will be rendered again." in err
    assert "2 filters rendered" in out and "Traceback" not in err
    for number in (5, 6):
        assert Image.open(folder / "block1_conv1" / f"{number}.png").size == (32, 32)
    (folder / INDEX).write_text("[" * 100_000)
    assert cli.main(command) == 0
    out, err = capsys.readouterr()
    assert "unusable: it is nested too deeply. It was set aside as index.json.corrupt" in err
    assert "64 filters rendered" in out and "Traceback" not in err
    assert len(json.loads((folder / INDEX).read_text())["layers"]["block1_conv1"]["done"]) == 64
