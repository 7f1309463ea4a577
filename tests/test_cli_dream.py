"""`vizcore dream`: a real subprocess run on the offline VGG16 (photo file and bundled sample), and bad input
in-process (exit code 2, one plain `error:` line, no traceback, no file written)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli import assert_bad_input

from vizcore import cli

SMALL = ["--model", "hed-vgg16", "--size", "128", "--octaves", "2", "--steps", "3"]


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    """A 300 x 200 PNG photo with smooth colour gradients."""
    y, x = np.mgrid[0:200, 0:300]
    picture = np.stack([x * 255 // 299, y * 255 // 199, (x + y) * 255 // 498], axis=-1).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(picture).save(path)
    return path


@pytest.mark.slow
def test_dream_writes_a_png_of_the_photo_size_and_reports_progress(cache_folder, photo_file, tmp_path):
    out = tmp_path / "dream.png"
    env = {**os.environ, "VIZCORE_CACHE": str(cache_folder)}
    done = subprocess.run([sys.executable, "-m", "vizcore", "dream", str(photo_file), "--layer", "block3_conv1",
                           "--filter", "7", *SMALL, "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "(6 steps)" in done.stderr and "6/6 - " in done.stderr and "Traceback" not in done.stderr
    assert "dream block3_conv1 filter 7 | 2 octaves x 3 steps" in done.stdout
    with Image.open(out) as picture:
        assert (picture.format, picture.size) == ("PNG", (128, 85))  # the photo shrunk to 128 px
        dreamed = np.asarray(picture)
    original = np.asarray(Image.open(photo_file).resize((128, 85), Image.Resampling.LANCZOS))
    assert np.abs(dreamed.astype(int) - original.astype(int)).mean() > 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.slow
def test_dream_on_a_bundled_sample_amplifies_the_whole_layer(cache_folder, tmp_path, capsys):
    out = tmp_path / "cat.png"
    code = cli.main(["dream", "sample:chelsea", "--layer", "block2_conv1", *SMALL, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "dream block2_conv1 whole layer" in captured.out and "128 x 85 px" in captured.out
    assert Image.open(out).size == (128, 85)


@pytest.mark.parametrize("photo, extra, words", [
    ("sample:dog", [], ["no sample photo 'dog'", "chelsea"]),
    ("sample:chelsea", ["--size", "5000"], ["photo size", "128 to 768"]),
    ("missing.png", [], ["There is no file", "missing.png"]),
])
def test_bad_photos_fail_before_the_model_loads(tmp_path, capsys, photo, extra, words):
    out = tmp_path / "x.png"
    source = photo if photo.startswith("sample:") else str(tmp_path / photo)
    code = cli.main(["dream", source, "--layer", "block1_conv1", *extra, "--out", str(out)])
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()


def test_a_file_that_is_not_a_photo_is_named(tmp_path, capsys):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("not really a photo")
    code = cli.main(["dream", str(fake), "--layer", "block1_conv1", "--out", str(tmp_path / "x.png")])
    assert_bad_input(code, capsys.readouterr().err, "holiday.jpg is not a JPEG or PNG photo")


def test_the_output_must_be_a_png_path(tmp_path, capsys):
    code = cli.main(["dream", "sample:chelsea", "--layer", "block1_conv1", "--out", str(tmp_path / "x.jpg")])
    assert_bad_input(code, capsys.readouterr().err, "must be a .png file")


@pytest.mark.slow
@pytest.mark.parametrize("extra, words", [
    (["--layer", "block9_conv9"], ["Unknown layer 'block9_conv9'", "Valid layers"]),
    (["--layer", "block1_conv1", "--filter", "64"], ["Filter 64", "from 0 to 63"]),
    (["--layer", "block1_conv1", "--octaves", "7"], ["Octaves", "from 1 to 6"]),
    (["--layer", "block1_conv1", "--steps", "0"], ["Steps per octave", "from 1 to 200"]),
    (["--layer", "block1_conv1", "--strength", "nan"], ["Strength", "above 0"]),
    (["--layer", "block1_conv1", "--octaves", "6", "--size", "128"], ["too small for 6 octaves"]),
])
def test_bad_dream_settings_fail_with_a_plain_message(cache_folder, tmp_path, capsys, extra, words):
    out = tmp_path / "x.png"
    code = cli.main(["dream", "sample:chelsea", "--model", "hed-vgg16", *extra, "--out", str(out)])
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()
