"""The commands that render feature-visualisation pictures: ``vizcore render`` (one filter or any objective,
optionally with a GIF and a JSON report), ``grid`` (many filters of a layer) and ``diversity`` (different
pictures of one filter).

The input is checked before the engine's modules (and TensorFlow) are imported inside the commands.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from vizcore import options, validate
from vizcore.cli_common import (
    ProgressBar,
    check_batch,
    check_numbers,
    check_output_path,
    open_engine,
    prepare_natural_reference,
    print_notes,
    save_png,
    write_file,
)
from vizcore.errors import InputError
from vizcore.models import LayerInfo, LoadedModel

if TYPE_CHECKING:  # the engine's modules import TensorFlow
    from vizcore import animation
    from vizcore.algebra import Objective
    from vizcore.render import Engine, RenderResult, Settings

GRID_MARGIN, GRID_LABEL_HEIGHT = 4, 12


# ---------------------------------------------------------------- commands


def run_render(args: argparse.Namespace) -> int:
    """Render one picture to a PNG; print a summary line, and a JSON report on stdout with --json."""
    out = check_output_path(args.out)
    gif = None if args.gif is None else check_output_path(args.gif, ".gif")
    check_numbers(args)
    if args.filter is not None:
        parse_filter(args.filter)
    from vizcore import animation  # the engine's modules (and TensorFlow) once the input is checked
    from vizcore.spec import describe

    engine = open_engine(args)
    objective, random_note = render_objective(args, engine)
    settings = settings_for(engine, args, [objective])
    recorder = None if gif is None else animation.Recorder(settings.steps)
    [result], seconds = render_all(engine, [settings], f"{settings.layer} {describe(objective)}", recorder)
    save_png(out, Image.fromarray(result.images[0]))
    if gif is not None:
        write_file(gif, animation.gif_bytes(recorder.timelines()[0], settings.steps))
    notes = ([random_note] if random_note else []) + result.notes
    if args.json:
        print(json.dumps(render_report(engine.model, result, out, seconds, notes, random_note is not None)))
    print_notes(notes)
    print(summary(engine.model, settings, describe(objective), f"activation {float(result.activation[0]):.4g}",
                  f"{seconds:.1f} s -> {out}"), file=sys.stderr if args.json else sys.stdout)
    return 0


def render_report(model: LoadedModel, result: RenderResult, out: Path, seconds: float, notes: list[str],
                  filter_random: bool) -> dict:
    """Everything about one render as plain JSON values."""
    s = result.settings
    losses = [float(v) for v in result.loss_history[:, 0]]
    return {
        "layer": s.layer, "filter": s.filters[0], "filter_random": filter_random, "objective": str(s.objectives[0]),
        "method": s.method, "steps": s.steps, "size": s.size, "lr": s.learning_rates[0], "seed": s.seed,
        "weights": model.weights, "weights_description": model.weights_description, "fingerprint": model.fingerprint,
        "activation": float(result.activation[0]),
        "quality": quality(model, s.layer, s.filters[0], result.images[0]) if s.whole_filter else None,
        "loss_first": losses[0], "loss_last": losses[-1], "loss_history": losses,
        "seconds": round(seconds, 3), "out": str(out), "notes": notes,
    }


def quality(model: LoadedModel, layer: str, filter_index: int, image: np.ndarray) -> float | None:
    """The quality score ("x the strongest natural photo")."""
    from vizcore.metrics import quality_score

    prepare_natural_reference(model)
    return quality_score(model, layer, filter_index, image)


def run_grid(args: argparse.Namespace) -> int:
    """Render several filters of one layer in batches and save them as one labelled grid PNG."""
    out = check_output_path(args.out)
    check_numbers(args)
    check_grid_layout(args)
    ranges = None if args.filters is None else parse_filter_ranges(args.filters)
    engine = open_engine(args)
    layer = engine.model.layer(args.layer)
    filters = expand_filters(ranges, layer)
    batches = [settings_for(engine, args, per_filter(args, filters[i:i + args.batch]))
               for i in range(0, len(filters), args.batch)]
    results, seconds = render_all(engine, batches, f"{layer.name} {len(filters)} filters")
    images = np.concatenate([result.images for result in results])
    save_png(out, grid_picture(images, [str(i) for i in filters], args.columns))
    print_notes([note for result in results for note in result.notes])
    print(summary(engine.model, batches[0], f"{len(filters)} filters", f"{seconds:.1f} s -> {out}"))
    return 0


def run_diversity(args: argparse.Namespace) -> int:
    """Render different pictures of one filter in one batch, save them as one row PNG, print each activation."""
    out = check_output_path(args.out)
    check_numbers(args)
    validate.whole_in_range(args.copies, validate.MIN_COPIES, validate.MAX_COPIES,
                            f"--copies must be from {validate.MIN_COPIES} to {validate.MAX_COPIES} "
                            f"(got {args.copies}).")
    validate.check_diversity(args.strength)
    from vizcore.objectives import with_diversity  # the engine (and TensorFlow) once the input is checked
    from vizcore.spec import describe

    engine = open_engine(args)
    settings = settings_for(engine, args, [with_diversity(per_filter(args, [args.filter])[0], args.strength)],
                            copies=args.copies)
    [result], seconds = render_all(engine, [settings], f"{settings.layer} filter {settings.filters[0]} "
                                                       f"x{settings.copies}")
    save_png(out, grid_picture(result.images, [f"copy {i + 1}: {value:.3g}" for i, value in
                                               enumerate(result.activation)], settings.copies))
    print_notes(result.notes)
    for i, value in enumerate(result.activation):
        print(f"copy {i + 1} activation {value:.4g}")
    print(summary(engine.model, settings, f"{describe(settings.objectives[0])} x{settings.copies}",
                  f"diversity {args.strength:g}", f"style similarity {result.similarity:.3f}",
                  f"{seconds:.1f} s -> {out}"))
    return 0


# ---------------------------------------------------------------- what to render


def parse_filter(text: str) -> int | None:
    """A filter number, or None for 'random'."""
    if text.strip().lower() == "random":
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--filter must be a whole number or 'random' (got '{text}').") from None


def parse_filter_ranges(text: str) -> list[tuple[int, int]]:
    """'0-63', '0,3,7' or '0-7,12' -> inclusive (first, last) ranges."""
    ranges = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            ranges.append((int(first), int(last) if dash else int(first)))
        except ValueError:
            raise InputError(f"--filters must look like 0-63, 0,3,7 or 0-7,12 (got '{text}').") from None
        if ranges[-1][1] < ranges[-1][0]:
            raise InputError(f"The filter range {part.strip()} runs backwards: write {last}-{first}.")
    return ranges


def expand_filters(ranges: list[tuple[int, int]] | None, layer: LayerInfo) -> list[int]:
    """Every filter in the ranges (all of the layer's if None), in order, without repeats."""
    if ranges is None:
        return list(range(layer.filters))
    for first, last in ranges:
        validate.check_filters(layer, [first, last])
    return list(dict.fromkeys(i for first, last in ranges for i in range(first, last + 1)))


def check_grid_layout(args: argparse.Namespace) -> None:
    """Batch size from 1 to the engine's maximum; at least one column."""
    check_batch(args.batch)
    validate.whole_in_range(args.columns, 1, math.inf, f"--columns must be at least 1 (got {args.columns}).")


def settings_for(engine: Engine, args: argparse.Namespace, objectives: Sequence[Objective],
                 copies: int = 1) -> Settings:
    """Validated engine settings for these objectives from the shared rendering options."""
    return engine.settings(objectives, method=args.method, steps=args.steps, size=args.size,
                           learning_rates=None if args.lr is None else [args.lr], seed=args.seed, copies=copies)


def per_filter(args: argparse.Namespace, filters: Sequence[int]) -> list[Objective]:
    """One objective of the ``--objective`` kind (channel or neuron) per filter of ``--layer``."""
    from vizcore.objectives import PER_FILTER

    return [PER_FILTER[args.objective](args.layer, index) for index in filters]


def render_objective(args: argparse.Namespace, engine: Engine) -> tuple[Objective, str | None]:
    """The render command's objective: ``--objective`` written out, or its kind for ``--layer``/``--filter``
    (a random filter when asked: then also a note saying which)."""
    from vizcore.spec import parse

    if args.objective not in options.OBJECTIVES:
        if args.layer is not None or args.filter is not None:
            raise InputError("Give either a whole objective with --objective, or --layer and --filter, not both.")
        return parse(args.objective), None
    if args.layer is None or args.filter is None:
        raise InputError("Choose what to render: --layer and --filter, or a whole objective with --objective "
                         "(e.g. --objective 'block3_conv1:12 + 0.5*block3_conv1:40').")
    chosen = parse_filter(args.filter)
    if chosen is not None:
        return per_filter(args, [chosen])[0], None
    layer = engine.model.layer(args.layer)
    index = random.SystemRandom().randrange(layer.filters)
    return per_filter(args, [index])[0], f"Filter {index} was picked at random from 0-{layer.filters - 1}."


# ---------------------------------------------------------------- rendering and its results


def render_all(engine: Engine, batches: Sequence[Settings], label: str,
               recorder: animation.Recorder | None = None) -> tuple[list[RenderResult], float]:
    """Render the batches in turn under one progress bar over all pictures; also return the seconds taken.

    With a recorder, each run is fresh and the recorder sees every frame (for an animation).
    """
    bar = ProgressBar(sum(len(s.filters) * s.steps for s in batches), label)
    results: list[RenderResult] = []
    done = 0
    try:
        for settings in batches:
            frames = (engine.run(settings, preview_every=settings.steps) if recorder is None
                      else recorder.run(engine, settings))
            for frame in frames:
                if recorder is not None:
                    recorder.take(frame)
                bar.update(done + frame.step * len(settings.filters))
            results.append(frame.result)
            done += len(settings.filters) * settings.steps
    finally:
        bar.close()
    return results, time.monotonic() - bar.start


def grid_picture(images: Sequence[np.ndarray], labels: Sequence[str], columns: int) -> Image.Image:
    """Tiles in rows of ``columns`` with small margins, each labelled above."""
    size = images[0].shape[0]
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell_width, cell_height = size + GRID_MARGIN, size + GRID_LABEL_HEIGHT + GRID_MARGIN
    canvas = Image.new("RGB", (GRID_MARGIN + columns * cell_width, GRID_MARGIN + rows * cell_height), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (image, label) in enumerate(zip(images, labels)):
        row, column = divmod(i, columns)
        x, y = GRID_MARGIN + column * cell_width, GRID_MARGIN + row * cell_height
        draw.text((x, y), label, fill="black")
        canvas.paste(Image.fromarray(image), (x, y + GRID_LABEL_HEIGHT))
    return canvas


def summary(model: LoadedModel, settings: Settings, what: str, *details: str) -> str:
    """One line: layer and filters, method, weights, then the details."""
    return " | ".join([f"{settings.layer} {what}", settings.method, f"weights {model.weights}", *details])
