"""How good the dashboard's time estimates are: the renders a visitor makes in one session, each announced with
the estimate the dashboard would show and then timed.

    .venv/bin/python benchmarks/estimates.py     # about 3-5 min on a quiet 2-core machine

The estimate is ``StepClock.render_seconds``, exactly what the pages show ("takes about ..."): iterations x a
guess from the layer's depth and the picture's size, scaled by how this machine compared with the guess on
the renders measured so far, or the last measurement of the same settings; plus the compile time measured so far
when the render's steps were not compiled yet. The true time is the render's wall time, compiling included
(what the visitor waits for). Target: true / estimate within 1/1.5 and 1.5 once
one render was measured (the first render of a session has only the guess).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from common import format_table

import vizcore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the dashboard is not an installed package
from dashboard.estimates import StepClock, timed  # noqa: E402

# (what, layer, filters, learning rates): the Single filter tab at growing depth, a Layer grid page,
# Compare with three learning rates, and a repeat of a measured setting.
SESSION = [
    ("single", "block1_conv1", [3], None),
    ("single", "block2_conv2", [20], None),
    ("single", "block3_conv3", [60], None),
    ("single", "block4_conv3", [50], None),
    ("single", "block5_conv3", [123], None),
    ("grid of 16", "block3_conv1", list(range(16)), None),
    ("compare 3 rates", "block4_conv1", [3], [0.05, 0.1, 0.2]),
    ("single again", "block5_conv3", [7], None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="auto", help="auto, imagenet or hed-vgg16 (default: auto)")
    args = parser.parse_args()
    model = vizcore.load_model(args.model)
    print(f"weights: {model.weights_description}; load average {os.getloadavg()[0]:.1f}")
    engine, clock, rows = vizcore.Engine(model, cache=None), StepClock(), []
    for what, layer, filters, rates in SESSION:
        settings = engine.settings(vizcore.channels(layer, filters), learning_rates=rates)
        estimate = clock.render_seconds(settings, engine)
        start, durations = time.perf_counter(), []
        for _, seconds in timed(engine.run(settings, preview_every=10)):
            durations.append(seconds)
        true = time.perf_counter() - start
        clock.record(settings, engine, durations)
        rows.append([what, f"{layer} {','.join(map(str, filters[:3]))}{'…' if len(filters) > 3 else ''}",
                     estimate, true, true / estimate, f"{os.getloadavg()[0]:.1f}"])
        print("  " + "  ".join(str(cell) for cell in rows[-1]), flush=True)
    print()
    print(format_table(["render", "layer, filters", "estimate s", "true s", "true / estimate", "load"], rows))


if __name__ == "__main__":
    main()
