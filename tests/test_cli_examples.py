"""`vizcore examples`: in-process runs of the command line on the offline VGG16 (one model load per session)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_examples import strongest_patch

from vizcore import cli, examples
from vizcore.models import LoadedModel

pytestmark = pytest.mark.slow
LAYER, FILTER = "block1_conv1", 20
TABLE_ROW = re.compile(r"^\s*(\d+)\s+(.+?)\s+([-\d.e+]+)\s+([\d.]+)\s+(\(\d+, \d+, \d+, \d+\))\s+(.+)$")


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(["examples", "--model", "hed-vgg16", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_crops_and_heat_maps_are_written_and_listed(vgg16: LoadedModel, tmp_path: Path, capsys) -> None:
    planted = np.full((100, 140, 3), 128, np.uint8)
    planted[40:43, 70:73] = strongest_patch(vgg16, LAYER, FILTER)
    photo = tmp_path / "my photo.png"
    Image.fromarray(planted).save(photo)
    out = tmp_path / "new" / "examples"

    code, stdout, stderr = run(capsys, "--layer", LAYER, "--filter", str(FILTER), "--photos", str(photo),
                               "--count", "4", "--out", str(out))

    assert code == 0, stderr
    rows = [TABLE_ROW.match(line).groups() for line in stdout.splitlines()[1:-1]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0][1] == "my photo.png" and rows[0][4] == "(40, 70, 43, 73)"
    assert rows[0][5] == "01-my_photo-crop.png, 01-my_photo-context.png, 01-my_photo-overlay.png"
    activations, relative = [float(row[2]) for row in rows], [float(row[3]) for row in rows]
    assert activations == sorted(activations, reverse=True) and activations[-1] > 0
    assert relative == sorted(relative, reverse=True) and relative[0] > 1
    assert relative[1] == pytest.approx(relative[0] * activations[1] / activations[0], abs=0.1)
    written = sorted(path.name for path in out.iterdir())
    assert len(written) == 12 and written[:3] == ["01-my_photo-context.png", "01-my_photo-crop.png",
                                                  "01-my_photo-overlay.png"]
    with Image.open(out / "01-my_photo-overlay.png") as overlay:
        assert overlay.size == (140, 100)
    with Image.open(out / "01-my_photo-crop.png") as crop:
        assert crop.size == (96, 96)  # the 3 px receptive field, enlarged 32 times
    with Image.open(out / "01-my_photo-context.png") as context:
        shown = np.asarray(context.convert("RGB"))
    # a 64 px window around the place (rows 9-72, columns 39-102), enlarged 4 times, the place outlined
    assert shown.shape == (256, 256, 3)
    assert np.array_equal(shown[124:136:4, 124:136:4], planted[40:43, 70:73])
    assert tuple(shown[123, 130]) == tuple(shown[130, 136]) == examples.BOX_COLOUR
    assert np.array_equal(shown[:120:4, :120:4], planted[9:39, 39:69])


def test_a_silent_filter_says_so(vgg16: LoadedModel, tmp_path: Path, capsys) -> None:
    code, stdout, stderr = run(capsys, "--layer", "block2_conv1", "--filter", "7", "--out", str(tmp_path))
    assert code == 0
    assert "note: This filter does not respond to any of these photos." in stderr
    assert "0 examples in 8 photos" in stdout
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("make", "args", "words"), [
    (lambda folder: (folder / "notes.png").write_text("not a picture"), ["--photos", "{folder}/notes.png"],
     "notes.png is not a JPEG or PNG photo"),
    (lambda folder: None, ["--photos", "{folder}/missing.jpg"], "There is no file"),
    (lambda folder: None, ["--count", "0"], "from 1 to 24"),
    (lambda folder: None, ["--filter", "64"], "Filter 64 does not exist in block1_conv1"),
    (lambda folder: (folder / "file.txt").write_text("x"), ["--out", "{folder}/file.txt"], "is a file"),
])
def test_bad_input_is_one_plain_error_line(vgg16: LoadedModel, tmp_path: Path, capsys, make, args, words) -> None:
    make(tmp_path)
    given = {"--layer": LAYER, "--filter": "0", "--out": str(tmp_path / "out")}
    extra = []
    for key, value in zip(args[::2], args[1::2]):
        value = value.format(folder=tmp_path)
        if key in given:
            given[key] = value
        else:
            extra += [key, value]
    code, _, stderr = run(capsys, *[part for pair in given.items() for part in pair], *extra)
    assert code == 2
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_too_many_own_photos_are_refused(vgg16: LoadedModel, tmp_path: Path, capsys) -> None:
    paths = []
    for i in range(examples.MAX_OWN_PHOTOS + 1):
        paths.append(tmp_path / f"mine{i}.png")
        Image.fromarray(np.full((20, 30, 3), i, np.uint8)).save(paths[-1])
    code, _, stderr = run(capsys, "--layer", LAYER, "--filter", "0", "--out", str(tmp_path / "out"),
                          "--photos", *map(str, paths))
    assert code == 2 and f"error: At most {examples.MAX_OWN_PHOTOS} photos of your own" in stderr
