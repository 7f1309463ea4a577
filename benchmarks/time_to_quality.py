"""Time to a good picture: the default recipe against the seed notebook's compiled loop and today's
full-size recipe ('lucid'), on the same (layer, filter) pairs in the same run.

    .venv/bin/python benchmarks/time_to_quality.py            # 28 pairs over all 13 layers, then the atlas
    .venv/bin/python benchmarks/time_to_quality.py --quick    # 8 pairs, no atlas
    .venv/bin/python benchmarks/time_to_quality.py --atlas-only

Each pair is rendered alone (one filter, the dashboard's Single filter case) by every recipe in turn, so a
change of the machine's load hits them alike; the time of a render includes compiling its steps the first
time a layer is used, as a user meets it. The seed's loop: uniform noise, the channel mean, the
l2-normalised gradient times 4, 256 steps, 128 px, compiled with ``tf.function``, min-max for display.
The atlas part times ``vizcore atlas --layers block1_conv1`` (a fresh process, defaults) against 64 x the
seed's loop on one block1_conv1 filter.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from common import format_table, median

import vizcore
from vizcore import metrics
from vizcore.methods import min_max_uint8
from vizcore.models import LoadedModel

SEED_STEPS, SEED_LR, SIZE = 256, 4.0, 128
# Two filters per layer, plus filters that are silent on the starting image (block2_conv1 7, 11, 33, 51;
# block5_conv3 7). Filters never excited by natural photos have no score but count for "zero response".
PAIRS = [("block1_conv1", 5), ("block1_conv1", 40), ("block1_conv2", 5), ("block1_conv2", 40),
         ("block2_conv1", 7), ("block2_conv1", 11), ("block2_conv1", 33), ("block2_conv1", 51),
         ("block2_conv1", 90), ("block2_conv2", 20), ("block2_conv2", 100),
         ("block3_conv1", 12), ("block3_conv1", 200), ("block3_conv2", 20), ("block3_conv2", 100),
         ("block3_conv3", 60), ("block3_conv3", 150), ("block4_conv1", 3), ("block4_conv1", 300),
         ("block4_conv2", 77), ("block4_conv2", 400), ("block4_conv3", 50), ("block4_conv3", 200),
         ("block5_conv1", 10), ("block5_conv1", 250), ("block5_conv2", 66), ("block5_conv3", 7),
         ("block5_conv3", 123)]
QUICK = [PAIRS[i] for i in (0, 5, 6, 13, 21, 23, 26, 27)]
ATLAS_LAYER = "block1_conv1"


def load_text() -> str:
    """The 1-minute load average, for every timing printed."""
    return f"{os.getloadavg()[0]:.1f}"


class SeedLoop:
    """The seed notebook's render, compiled once per layer."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self._steps: dict[str, tf.types.experimental.GenericFunction] = {}

    def step_for(self, layer: str):
        if layer not in self._steps:
            sub_model = keras.Model(self.model.keras_model.inputs, self.model.keras_model.get_layer(layer).output)

            @tf.function
            def step(image: tf.Tensor, filter_index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    loss = tf.reduce_mean(sub_model(image)[:, :, :, filter_index])
                grads = tf.math.l2_normalize(tape.gradient(loss, image))
                return loss, image + grads * SEED_LR

            self._steps[layer] = step
        return self._steps[layer]

    def render(self, layer: str, filter_index: int) -> np.ndarray:
        """256 steps from uniform noise; the picture min-max scaled to uint8."""
        step = self.step_for(layer)
        image = tf.random.uniform((1, SIZE, SIZE, 3), seed=filter_index)
        index = tf.constant(filter_index)
        for _ in range(SEED_STEPS):
            loss, image = step(image, index)
        float(loss)
        return min_max_uint8(image.numpy())[0]


def measure(model: LoadedModel, layer: str, filter_index: int, render) -> dict[str, float | None]:
    """Time one render and measure its picture."""
    start = time.perf_counter()
    image = render()
    seconds = time.perf_counter() - start
    [score] = metrics.quality_scores(model, layer, [filter_index], [image])
    response = float(metrics.channel_means(model, layer)(metrics.prepare_image(image))[filter_index])
    return {"seconds": seconds, "score": score, "hf": metrics.high_frequency_share(image), "response": response}


def pair_benchmark(model: LoadedModel, pairs: list[tuple[str, int]], methods: list[str]) -> None:
    """Render every pair with the seed loop and each method; print per-pair rows and the summary."""
    engine = vizcore.Engine(model, cache=None)
    seed = SeedLoop(model)
    recipes = {"seed (compiled)": lambda layer, f: seed.render(layer, f)}
    for method in methods:
        recipes[method] = (lambda m: lambda layer, f:
                           engine.render(engine.settings(vizcore.channel(layer, f), m)).images[0])(method)
    results: dict[str, list[dict]] = {name: [] for name in recipes}
    rows = []
    for layer, f in pairs:
        row: list[object] = [f"{layer}:{f}"]
        for name, render in recipes.items():
            result = measure(model, layer, f, lambda: render(layer, f))  # noqa: B023 (called at once)
            results[name].append(result)
            row += [result["seconds"], result["score"]]
        rows.append(row + [load_text()])
        print("  " + "  ".join(str(v) if not isinstance(v, float) else f"{v:.1f}" for v in rows[-1]), flush=True)
    header = ["pair"] + [f"{name} {column}" for name in recipes for column in ("s", "score")] + ["load"]
    print("\nper pair: seconds (compile included on a layer's first pair) and score (x strongest natural photo; "
          "'-' = no natural photo excites the filter)\n")
    print(format_table(header, rows))
    seed_total = sum(r["seconds"] for r in results["seed (compiled)"])
    summary = []
    for name, measured in results.items():
        total = sum(r["seconds"] for r in measured)
        summary.append([name, total, total / seed_total, median([r["score"] for r in measured]),
                        median([r["hf"] for r in measured]), sum(r["response"] <= 0 for r in measured)])
    print(f"\n{len(pairs)} pairs, {SIZE} px, load average now {load_text()}\n")
    print(format_table(["recipe", "total s", "x seed", "median score", "median hf share", "zero response"],
                       summary))


def atlas_benchmark(model: LoadedModel) -> None:
    """``vizcore atlas --layers block1_conv1`` at the defaults against 64 x the seed loop on one filter."""
    seed = SeedLoop(model)
    seed.render(ATLAS_LAYER, 0)  # compile outside the timing: the atlas is compared with the steady loop
    start = time.perf_counter()
    seed.render(ATLAS_LAYER, 1)
    seed_seconds = time.perf_counter() - start
    seed_load = load_text()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for method in ("robust", "lucid"):
            out = Path(folder) / method
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "vizcore", "atlas", "--layers", ATLAS_LAYER, "--out", str(out),
                            "--method", method, "--model", model.weights],
                           check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            [index] = list(out.glob("*/index.json"))
            records = json.loads(index.read_text())["layers"][ATLAS_LAYER]["done"].values()
            rows.append([method, seconds, seconds / (64 * seed_seconds), median([r["quality"] for r in records]),
                         sum((r["activation"] or 0) <= 0 for r in records), load_text()])
    print(f"\nwhole layer {ATLAS_LAYER} (64 filters): seed loop on one filter {seed_seconds:.2f} s "
          f"(load {seed_load}), x 64 = {64 * seed_seconds:.0f} s\n")
    print(format_table(["atlas method", "process s", "x (64 x seed)", "median score", "zero response", "load"],
                       rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="auto", help="auto, imagenet or hed-vgg16 (default: auto)")
    parser.add_argument("--methods", default="robust,lucid", help="recipes besides the seed (default: robust,lucid)")
    parser.add_argument("--quick", action="store_true", help="8 pairs, no atlas")
    parser.add_argument("--atlas-only", action="store_true", help="only the whole-layer part")
    args = parser.parse_args()
    model = vizcore.load_model(args.model)
    print(f"weights: {model.weights_description}; load average {load_text()}")
    metrics.natural_reference(model)
    if not args.atlas_only:
        pair_benchmark(model, QUICK if args.quick else PAIRS, [m.strip() for m in args.methods.split(",")])
    if not args.quick:
        atlas_benchmark(model)


if __name__ == "__main__":
    main()
