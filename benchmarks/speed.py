"""Speed per layer: the seed notebook's loop (eager and compiled) against our classic and robust methods.

    /tmp/venv/bin/python benchmarks/speed.py            # all 13 layers at 96 and 128 px, batch rows, grid time
    /tmp/venv/bin/python benchmarks/speed.py --quick    # two layers, fewer steps, grid time estimated only

Milliseconds per optimisation step (median over repeats, methods interleaved so load changes hit all
alike). On a shared machine, compare columns as ratios within one run.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial

import keras
import numpy as np
import tensorflow as tf
from common import add_model_arguments, format_table, load

import vizcore
from vizcore.models import LoadedModel

QUICK_LAYERS = "block1_conv2,block5_conv3"
BATCH_LAYERS = ("block1_conv2", "block5_conv3")  # one shallow, one deep
GRID_LAYER, GRID_FILTERS, GRID_STEPS, GRID_SIZE = "block1_conv1", 64, 256, 128
SEED_LR = 4.0


def seed_step(sub_model: keras.Model, image: tf.Tensor, filter_index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One step of the seed notebook: ascend the channel mean along the L2-normalised gradient."""
    with tf.GradientTape() as tape:
        tape.watch(image)
        activation = sub_model(image)
        loss = tf.reduce_mean(activation[:, :, :, filter_index])
    grads = tape.gradient(loss, image)
    grads = tf.math.l2_normalize(grads)
    image += grads * SEED_LR
    return loss, image


class SeedLoop:
    """The notebook's loop on a Keras sub-model per layer, eager or under ``tf.function``."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self._sub_models: dict[str, keras.Model] = {}
        self._compiled: dict[str, Callable] = {}

    def steps(self, layer: str, size: int, compiled: bool) -> Iterator[float]:
        """Run steps forever from a uniform [0, 1] start; yield the time of each step in seconds."""
        if layer not in self._sub_models:
            keras_model = self.model.keras_model
            self._sub_models[layer] = keras.Model(keras_model.inputs, keras_model.get_layer(layer).output)
            self._compiled[layer] = tf.function(seed_step)
        step = self._compiled[layer] if compiled else seed_step
        image = tf.random.uniform((1, size, size, 3))
        filter_index = tf.constant(0)
        while True:
            start = time.perf_counter()
            loss, image = step(self._sub_models[layer], image, filter_index)
            float(loss)
            yield time.perf_counter() - start


def engine_steps(engine: vizcore.Engine, layer: str, size: int, method: str, batch: int,
                 count: int) -> list[float]:
    """Durations of ``count`` steps of one Engine render of ``batch`` filters (first and last step left out)."""
    settings = engine.settings(vizcore.channels(layer, range(batch)), method, steps=count + 2, size=size)
    stamps = [time.perf_counter()]
    for _ in engine.run(settings, preview_every=count + 2):
        stamps.append(time.perf_counter())
    return list(np.diff(stamps)[1:-1])


def take(steps: Iterator[float], count: int) -> list[float]:
    """The next ``count`` step durations."""
    return [next(steps) for _ in range(count)]


def step_flops(model: LoadedModel, layer: str, size: int) -> float:
    """FLOPs of one step: conv MACs up to ``layer`` x 2 FLOPs, x 2 for the backward pass to the input."""
    shape, macs = (1, size, size, 3), 0
    for keras_layer in model.keras_model.layers[1:]:
        output = keras_layer.compute_output_shape(shape)
        if isinstance(keras_layer, keras.layers.Conv2D):
            kh, kw = keras_layer.kernel_size
            macs += output[1] * output[2] * output[3] * kh * kw * shape[3]
        if keras_layer.name == layer:
            return 4.0 * macs
        shape = output
    raise ValueError(f"{layer} is not in the model")


def matmul_peak(trials: int = 3, n: int = 2048) -> float:
    """The machine's float32 GFLOP/s right now: best of a few ``n`` x ``n`` matmuls under tf.function."""
    a = tf.random.uniform((n, n))
    matmul = tf.function(tf.linalg.matmul, autograph=False)
    matmul(a, a).numpy()
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        matmul(a, a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def measure(timers: dict[object, Callable[[], list[float]]], repeats: int) -> dict[object, float]:
    """Warm every timer up, then run them interleaved ``repeats`` times; median ms per step of each."""
    for timer in timers.values():
        timer()
    samples: dict[object, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            samples[name].append(statistics.median(timer()))
    return {name: 1000 * statistics.median(values) for name, values in samples.items()}


def layer_rows(model: LoadedModel, engine: vizcore.Engine, layers: list[str], sizes: list[int],
               count: int, repeats: int) -> tuple[list[list[object]], float]:
    """One row per (layer, size): ms/step of the four loops, FLOPs, FLOP bound, GFLOP/s, ratio to the compiled seed.

    The machine's peak is the best matmul rate seen between rows (load changes during the run).
    """
    seed, rows, peak = SeedLoop(model), [], 0.0
    for layer in layers:
        for size in sizes:
            peak = max(peak, matmul_peak())
            eager, compiled = seed.steps(layer, size, False), seed.steps(layer, size, True)
            ms = measure({"eager": partial(take, eager, count), "compiled": partial(take, compiled, count),
                          "classic": partial(engine_steps, engine, layer, size, "classic", 1, count),
                          "robust": partial(engine_steps, engine, layer, size, "robust", 1, count)}, repeats)
            gflop = step_flops(model, layer, size) / 1e9
            rows.append([layer, size, gflop, ms["eager"], ms["compiled"], ms["classic"], ms["robust"],
                         1000 * gflop / ms["classic"], 1000 * gflop / ms["robust"], ms["robust"] / ms["compiled"]])
            print("  " + " ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in rows[-1]), flush=True)
    return [row[:3] + [1000 * row[2] / peak] + row[3:] for row in rows], peak


def batch_rows(engine: vizcore.Engine, layers: list[str], size: int, count: int, repeats: int) -> list[list[object]]:
    """ms per picture-step for one filter alone and four filters as one batch."""
    rows = []
    for layer in layers:
        for method in ("classic", "robust"):
            ms = measure({batch: partial(engine_steps, engine, layer, size, method, batch, count)
                          for batch in (1, 4)}, repeats)
            rows.append([layer, method, size, ms[1], ms[4] / 4, 4 * ms[1] / ms[4]])
    return rows


def grid_rows(engine: vizcore.Engine, count: int, repeats: int, full: bool) -> tuple[list[list[object]], str]:
    """Whole-grid time per batch size (from a few steps), and the real time of the best one if ``full``."""
    rows = []
    for batch in (1, 8, 16, 32, 64) if full else (1, 16):
        ms = measure({batch: partial(engine_steps, engine, GRID_LAYER, GRID_SIZE, "robust", batch, count)},
                     repeats)[batch]
        rows.append([batch, ms, ms / batch, ms * GRID_STEPS * (GRID_FILTERS // batch) / 1000])
    best = min(rows, key=lambda row: row[3])[0]
    if not full:
        return rows, f"best batch {best} (estimate only: --quick)"
    start = time.perf_counter()
    for first in range(0, GRID_FILTERS, best):
        engine.render(engine.settings(vizcore.channels(GRID_LAYER, range(first, first + best)), "robust",
                                      steps=GRID_STEPS, size=GRID_SIZE))
    return rows, f"measured: whole grid in batches of {best}: {time.perf_counter() - start:.0f} s"


def main() -> None:
    """Time everything and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--sizes", default="96,128", help="picture sizes in px (default: 96,128)")
    parser.add_argument("--quick", action="store_true", help=f"short run: {QUICK_LAYERS} unless --layers, "
                        "fewer steps, grid time estimated instead of measured")
    args = parser.parse_args()
    if args.quick and args.layers == "all":
        args.layers = QUICK_LAYERS
    count, repeats = (3, 2) if args.quick else (8, 3)
    model, layers = load(args)
    engine = vizcore.Engine(model, cache=None)
    sizes = [int(s) for s in args.sizes.split(",")]

    rows, peak = layer_rows(model, engine, layers, sizes, count, repeats)
    print(f"\nms per step (median of {repeats} x {count} steps after warm-up); FLOPs count convs only; "
          f"bound = FLOPs at the best matmul rate seen, {peak:.0f} GFLOP/s\n")
    print(format_table(["layer", "px", "GFLOP/step", "bound ms", "seed eager", "seed compiled", "classic",
                        "robust", "classic GFLOP/s", "robust GFLOP/s", "robust/compiled seed"], rows))
    print("\nbatching: ms per picture-step\n")
    print(format_table(["layer", "method", "px", "1 filter", "4 filters (per picture)", "speed-up"],
                       batch_rows(engine, list(BATCH_LAYERS), max(sizes), count, repeats)))
    grid, verdict = grid_rows(engine, count, 1 if args.quick else repeats, full=not args.quick)
    print(f"\n{GRID_LAYER} grid: {GRID_FILTERS} filters, robust, {GRID_STEPS} steps, {GRID_SIZE} px\n")
    print(format_table(["batch", "ms/step", "ms per picture-step", "estimated grid s"], grid))
    print(verdict)


if __name__ == "__main__":
    main()
