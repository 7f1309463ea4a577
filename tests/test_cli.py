"""The command line: real subprocess runs of `python -m vizcore` on the offline VGG16 (a render, bad input,
Ctrl-C), other commands with `main([...])` in-process (the model stays loaded), and bad input (exit code 2,
one plain `error:` line, no traceback, no file written)."""
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vizcore import animation, cli, cli_common, cli_render
from vizcore.errors import InputError
from vizcore.models import LayerInfo
from vizcore.validate import MAX_STEPS

FAST = ["--model", "hed-vgg16", "--size", "64", "--steps", "10"]
BLOCK1 = LayerInfo("block1_conv1", 64, 1, 3)


def run_cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """`python -m vizcore ARGS` in a fresh process using ``cache`` as its cache folder."""
    env = {**os.environ, "VIZCORE_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "vizcore", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def run_main(capsys: pytest.CaptureFixture, *args: str) -> subprocess.CompletedProcess:
    """`vizcore ARGS` in this process (the model stays loaded between tests): exit code, stdout and stderr."""
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["vizcore", *args], code, captured.out, captured.err)


def error_line(stderr: str) -> str:
    """The single `error: ...` line (TensorFlow may log other lines before it)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_bad_input(code: int, stderr: str, *words: str) -> None:
    """Exit code 2, one error line naming the problem, no traceback."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    line = error_line(stderr)
    for word in words:
        assert word in line, line


# ---------------------------------------------------------------- pure helpers (no model)


def test_filter_ranges_expand_in_order_without_repeats():
    ranges = cli_render.parse_filter_ranges("0-3, 7,2,10-11")
    assert cli_render.expand_filters(ranges, BLOCK1) == [0, 1, 2, 3, 7, 10, 11]
    assert cli_render.expand_filters(None, BLOCK1) == list(range(64))


@pytest.mark.parametrize("text, words", [("a-b", "0-63, 0,3,7"), ("5-2", "2-5"), ("-3", "0-63"), ("", "0-63")])
def test_bad_filter_ranges_say_how_to_write_them(text, words):
    with pytest.raises(InputError, match=words):
        cli_render.parse_filter_ranges(text)


def test_filter_range_beyond_the_layer_names_the_range():
    with pytest.raises(InputError, match="from 0 to 63"):
        cli_render.expand_filters(cli_render.parse_filter_ranges("60-70"), BLOCK1)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_off_a_terminal_names_the_work_then_prints_one_plain_line_when_done(capsys):
    stream = io.StringIO()
    bar = cli_common.ProgressBar(1000, "block1_conv1 filter 3", stream)
    for done in range(1, 1001):
        bar.update(done)
    bar.close()
    assert re.fullmatch(r"block1_conv1 filter 3 \(1000 steps\)\n1000/1000 - \d+s - \d+us/step\n", stream.getvalue())
    assert capsys.readouterr().out == ""  # stdout carries the results (e.g. --json) only


def test_progress_bar_on_a_terminal_is_redrawn_in_place_and_ends_its_line(capsys):
    stream = Terminal()
    bar = cli_common.ProgressBar(40, "grid", stream, unit="filter")
    for done in range(1, 41):
        bar.update(done)
    text = stream.getvalue()
    assert text.startswith("grid (40 filters)\n") and text.endswith("\n") and text.count("\n") == 2
    assert "\r" in text and "40/40" in text and "/filter" in text
    assert capsys.readouterr().out == ""


def test_an_unfinished_bar_on_a_terminal_ends_its_line_on_close():
    stream = Terminal()
    bar = cli_common.ProgressBar(10, "render", stream)
    bar.update(3)
    bar.close()
    assert stream.getvalue().endswith("\n") and not stream.getvalue().endswith("\n\n")


def test_grid_picture_has_margins_and_label_rows():
    tiles = np.zeros((5, 32, 32, 3), np.uint8)
    picture = cli_render.grid_picture(tiles, [str(i) for i in range(5)], columns=3)
    margin, label = cli_render.GRID_MARGIN, cli_render.GRID_LABEL_HEIGHT
    assert picture.size == (margin + 3 * (32 + margin), margin + 2 * (32 + label + margin))


# ---------------------------------------------------------------- bad input, in-process


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "x.png"


def render_args(out: Path, *extra: str) -> list[str]:
    return ["render", "--layer", "block1_conv1", "--filter", "3", *FAST, "--out", str(out), *extra]


@pytest.mark.parametrize("extra, words", [
    (["--steps", "0"], ["Iterations", f"1 to {MAX_STEPS}"]),
    (["--steps", "99999999"], ["Iterations", "99999999"]),
    (["--lr", "nan"], ["Learning rate", "nan"]),
    (["--lr", "-1"], ["Learning rate", "above 0"]),
    (["--lr", "0"], ["Learning rate", "above 0"]),
    (["--lr", "1e9"], ["Learning rate", "at most"]),
    (["--size", "8"], ["Image size", "32 to 512"]),
    (["--size", "5000"], ["Image size", "32 to 512"]),
    (["--seed", "-1"], ["Seed"]),
    (["--filter", "twelve"], ["--filter", "whole number", "random"]),
    (["--weights", "/nonexistent/vgg.weights.h5"], ["Weights file not found", "/nonexistent/vgg.weights.h5"]),
])
def test_bad_render_settings_fail_with_a_plain_message(out, capsys, extra, words):
    code = cli.main(render_args(out, *extra))
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: tmp / "missing-folder" / "x.png", ["does not exist"]),
    (lambda tmp: tmp, ["is a folder"]),
    (lambda tmp: tmp / "x.jpg", [".png"]),
    (lambda tmp: Path("/proc/vizcore-test.png"), ["not writable"]),  # even root cannot create files in /proc
])
def test_unusable_output_paths_are_refused_before_rendering(tmp_path, capsys, make_path, words):
    path = make_path(tmp_path)
    code = cli.main(render_args(path))
    assert_bad_input(code, capsys.readouterr().err, str(path), *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    code = cli.main(render_args(folder / "x.png"))
    assert_bad_input(code, capsys.readouterr().err, "not writable")


@pytest.mark.parametrize("extra, words", [
    (["--filters", "7-3"], ["runs backwards", "3-7"]),
    (["--filters", "x"], ["--filters", "0-63"]),
    (["--batch", "0"], ["--batch", "from 1 to 64"]),
    (["--columns", "0"], ["--columns"]),
])
def test_bad_grid_settings_fail_with_a_plain_message(out, capsys, extra, words):
    code = cli.main(["grid", "--layer", "block1_conv1", *FAST, "--out", str(out), *extra])
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()


def test_unknown_model_is_an_argparse_usage_error(out, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["layers", "--model", "alexnet"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'alexnet'" in capsys.readouterr().err


def test_corrupt_weights_file_is_named_in_the_message(tmp_path, out, capsys):
    weights = tmp_path / "x.weights.h5"
    weights.write_bytes(os.urandom(4096))
    code = cli.main(render_args(out, "--weights", str(weights)))
    assert_bad_input(code, capsys.readouterr().err, str(weights), "corrupt")
    assert not out.exists()


# ---------------------------------------------------------------- with the real VGG16, in-process


@pytest.mark.slow
@pytest.mark.parametrize("command, words", [
    (["render", "--layer", "block9_conv9", "--filter", "0"], ["block9_conv9", "Valid layers", "block5_conv3"]),
    (["render", "--layer", "block1_conv1", "--filter", "64"], ["Filter 64", "from 0 to 63"]),
    (["render", "--layer", "block2_conv1", "--filter", "-1"], ["Filter -1", "from 0 to 127"]),
    (["grid", "--layer", "block1_conv1", "--filters", "60-70"], ["Filter 70", "from 0 to 63"]),
])
def test_unknown_layer_and_missing_filters_are_named(cache_folder, out, capsys, command, words):
    code = cli.main([*command, *FAST, "--out", str(out)])
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()


@pytest.mark.slow
def test_random_filter_is_in_range_and_reported(cache_folder, out, capsys):
    code = cli.main(["render", "--layer", "block1_conv2", "--filter", "random", *FAST, "--out", str(out),
                     "--json", "--no-cache"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["filter_random"] is True
    assert 0 <= report["filter"] < 64
    assert f"Filter {report['filter']} was picked at random from 0-63." in report["notes"]
    assert f"block1_conv2 filter {report['filter']} | robust | weights hed-vgg16" in captured.err
    assert Image.open(out).size == (64, 64)


# ---------------------------------------------------------------- real subprocess runs


@pytest.mark.slow
def test_layers_lists_13_conv_layers_with_4224_filters(cache_folder, capsys):
    done = run_main(capsys, "layers", "--model", "hed-vgg16")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("block")]
    assert [row[0] for row in rows][:3] == ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert len(rows) == 13
    assert sum(int(row[1]) for row in rows) == 4224
    assert rows[-1][1:4] == ["512", "16", "196"]  # block5_conv3: filters, stride, receptive field
    assert "weights: HED-VGG16 (offline)" in done.stdout
    assert "13 conv layers, 4224 filters in total" in done.stdout


@pytest.mark.slow
def test_render_writes_a_png_and_a_json_report(cache_folder, tmp_path):
    out = tmp_path / "filter3.png"
    done = run_cli("render", "--layer", "block1_conv1", "--filter", "3", *FAST, "--out", str(out), "--json",
                   "--no-cache", cache=cache_folder)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"layer", "filter", "method", "steps", "size", "lr", "seed", "weights", "fingerprint", "activation",
            "quality", "loss_history", "loss_first", "loss_last", "seconds", "out", "notes"} <= report.keys()
    assert (report["layer"], report["filter"], report["method"], report["steps"], report["size"]) == \
        ("block1_conv1", 3, "robust", 10, 64)
    assert (report["lr"], report["seed"], report["weights"], report["out"]) == (0.15, 0, "hed-vgg16", str(out))
    assert len(report["loss_history"]) == 10 and report["loss_last"] == report["loss_history"][-1]
    assert report["activation"] > 0
    assert report["quality"] is None or report["quality"] > 0
    picture = Image.open(out)
    assert (picture.format, picture.size, picture.mode) == ("PNG", (64, 64), "RGB")
    assert "block1_conv1 filter 3 (10 steps)" in done.stderr and "10/10 - " in done.stderr
    assert "oneDNN" not in done.stderr and "cuInit" not in done.stderr, done.stderr  # TensorFlow starts quietly
    assert "block1_conv1 filter 3 | robust | weights hed-vgg16 | activation" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["filter3.png"]  # no temporary files left


def test_render_with_gif_writes_the_picture_and_its_animation(cache_folder, tmp_path, capsys):
    out, gif = tmp_path / "f3.png", tmp_path / "f3.gif"
    assert cli.main(render_args(out, "--gif", str(gif))) == 0, capsys.readouterr().err
    animated = Image.open(gif)
    assert animated.format == "GIF" and animated.n_frames == len(animation.capture_steps(10)) > 5
    animated.seek(animated.n_frames - 1)
    last = np.asarray(animated.convert("RGB"))[:64 * 3:3, :64 * 3:3]  # 64 px enlarged 3x, minus the caption
    assert np.abs(last.astype(int) - np.asarray(Image.open(out)).astype(int)).mean() < 6  # GIF palette only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f3.gif", "f3.png"]


@pytest.mark.parametrize("name, words", [("anim.png", [".gif"]), ("missing/anim.gif", ["does not exist"])])
def test_bad_gif_paths_are_refused_before_rendering(tmp_path, capsys, name, words):
    out = tmp_path / "x.png"
    code = cli.main(render_args(out, "--gif", str(tmp_path / name)))
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_grid_of_four_filters_writes_a_labelled_png(cache_folder, tmp_path, capsys):
    out = tmp_path / "grid.png"
    done = run_main(capsys, "grid", "--layer", "block1_conv1", "--filters", "0-2,5", *FAST, "--batch", "3",
                    "--columns", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    margin, label = cli_render.GRID_MARGIN, cli_render.GRID_LABEL_HEIGHT
    assert Image.open(out).size == (margin + 2 * (64 + margin), margin + 2 * (64 + label + margin))
    assert "block1_conv1 4 filters | robust | weights hed-vgg16" in done.stdout
    assert "(40 steps)" in done.stderr and "40/40 - " in done.stderr  # one bar over both batches: 4 filters x 10


@pytest.mark.slow
def test_bad_input_through_the_real_entry_point(cache_folder, tmp_path):
    out = tmp_path / "x.png"
    done = run_cli(*render_args(out, "--lr", "nan"), cache=cache_folder)
    assert_bad_input(done.returncode, done.stderr, "Learning rate")
    weights = tmp_path / "x.weights.h5"
    weights.write_bytes(b"not an hdf5 file" * 100)
    done = run_cli("layers", "--weights", str(weights), cache=cache_folder)
    assert_bad_input(done.returncode, done.stderr, str(weights), "corrupt")
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_exits_130_without_traceback_or_partial_file(cache_folder, tmp_path):
    out = tmp_path / "x.png"
    process = subprocess.Popen(
        [sys.executable, "-m", "vizcore", *render_args(out, "--steps", str(MAX_STEPS), "--no-cache")],
        env={**os.environ, "VIZCORE_CACHE": str(cache_folder)}, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if our parent ignores Ctrl-C
    seen = []
    for line in process.stderr:  # wait until the progress bar has started
        seen.append(line)
        if "(5000 steps)" in line:
            break
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert "interrupted" in rest and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
