"""The command line's objectives on the offline VGG16: --objective neuron or a whole objective, and `vizcore diversity`
with `main([...])` in this process (the real commands without another TensorFlow start), and their bad input
(exit code 2, one plain `error:` line, no file)."""
import json
from pathlib import Path

import pytest
from PIL import Image
from test_cli import FAST, assert_bad_input, run_main

from vizcore import cli, cli_render
from vizcore.validate import DEFAULT_DIVERSITY

pytestmark = pytest.mark.slow


def render_args(out: Path, *extra: str) -> list[str]:
    return ["render", "--layer", "block1_conv1", "--filter", "3", *FAST, "--out", str(out), *extra]


def objective_args(out: Path, spec: str, *extra: str) -> list[str]:
    return ["render", "--objective", spec, *FAST, "--out", str(out), *extra]


def diversity_args(out: Path, *extra: str) -> list[str]:
    return ["diversity", "--layer", "block1_conv1", "--filter", "3", *FAST, "--out", str(out), *extra]


@pytest.mark.parametrize("args, words", [
    (lambda out: render_args(out, "--objective", "fun"), ["Give either a whole objective", "not both"]),
    (lambda out: objective_args(out, "fun"), ["objective 'fun' cannot be read", "ends too early"]),
    (lambda out: objective_args(out, "block1_conv1:3 + block1_conv1:64"), ["Filter 64 does not exist", "0 to 63"]),
    (lambda out: objective_args(out, "block1_conv1:3 - block9_conv1:1"), ["Unknown layer 'block9_conv1'"]),
    (lambda out: ["render", "--layer", "block1_conv1", *FAST, "--out", str(out)], ["Choose what to render"]),
    (lambda out: diversity_args(out, "--copies", "1"), ["--copies must be from 2 to 8", "got 1"]),
    (lambda out: diversity_args(out, "--copies", "9"), ["--copies must be from 2 to 8"]),
    (lambda out: diversity_args(out, "--strength", "-1"), ["Diversity strength", "from 0 to 100"]),
])
def test_bad_objectives_and_diversity_options_fail_with_a_plain_message(cache_folder, tmp_path, capsys, args, words):
    out = tmp_path / "x.png"
    code = cli.main(args(out))
    assert_bad_input(code, capsys.readouterr().err, *words)
    assert not out.exists()


def test_render_a_blend_of_two_centre_neurons(cache_folder, tmp_path, capsys):
    out = tmp_path / "blend.png"
    spec = "0.75*neuron(block1_conv1:12) + 0.25*neuron(block1_conv1:40)"
    done = run_main(capsys, *objective_args(out, spec, "--json", "--no-cache"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["objective"], report["layer"], report["filter"], report["quality"]) == (spec, "block1_conv1", 12,
                                                                                           None)
    assert "block1_conv1 0.75 × filter 12 · centre neuron + 0.25 × filter 40 · centre neuron | robust" in done.stderr
    assert Image.open(out).size == (64, 64)


def test_render_a_difference_of_two_layers(cache_folder, tmp_path, capsys):
    out = tmp_path / "difference.png"
    done = run_main(capsys, *objective_args(out, "block2_conv1:7 - block1_conv1:3", "--no-cache"))
    assert done.returncode == 0, done.stderr
    assert "block2_conv1 filter 7 - block1_conv1 filter 3 | robust" in done.stdout
    assert Image.open(out).size == (64, 64)


def test_grid_takes_the_neuron_objective(cache_folder, tmp_path, capsys):
    out = tmp_path / "grid.png"
    done = run_main(capsys, "grid", "--layer", "block1_conv1", "--filters", "0-1", "--objective", "neuron", *FAST,
                    "--out", str(out), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "block1_conv1 2 filters | robust" in done.stdout


def test_diversity_writes_one_row_and_prints_each_activation(cache_folder, tmp_path, capsys):
    out = tmp_path / "row.png"
    done = run_main(capsys, *diversity_args(out, "--copies", "3", "--no-cache"))
    assert done.returncode == 0, done.stderr
    margin, label = cli_render.GRID_MARGIN, cli_render.GRID_LABEL_HEIGHT
    assert Image.open(out).size == (margin + 3 * (64 + margin), 64 + label + 2 * margin)
    activations = [float(line.split()[-1]) for line in done.stdout.splitlines() if " activation " in line]
    assert len(activations) == 3 and all(value > 0 for value in activations)
    assert (f"block1_conv1 filter 3 x3 | robust | weights hed-vgg16 | diversity {DEFAULT_DIVERSITY:g} | "
            "style similarity 0.") in done.stdout
