"""``vizcore atlas``: every filter of some layers into a resumable atlas folder, here or on Ray workers, with
a progress line per finished batch when stderr is a log."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vizcore.cli_common import (
    ProgressBar,
    announce_weights,
    check_batch,
    check_numbers,
    model_factory,
    open_model,
    prepare_natural_reference,
    print_notes,
)

if TYPE_CHECKING:  # the engine's modules import TensorFlow
    from vizcore import atlas


def run_atlas(args: argparse.Namespace) -> int:
    """Render every filter of the chosen layers into an atlas folder (resumable), here or on Ray workers."""
    check_numbers(args)
    check_batch(args.batch)
    from vizcore import atlas  # the engine's modules (and TensorFlow) once the input is checked
    from vizcore.render import Engine

    if args.ray and args.ray != "local":
        atlas.check_ray_address(args.ray)  # before loading anything: a typo fails at once
    model = open_model(args)
    announce_weights(model, sys.stderr)
    engine = Engine(model)  # no render cache: the atlas folder is the cache
    layers = atlas.choose_layers(model, args.layers)
    parameters = atlas.atlas_parameters(engine, args.method, args.steps, args.size, args.lr, args.seed)
    book = atlas.open_atlas(args.out, model, parameters)
    batch = book.choose_batch(args.batch)
    print_notes(book.notes)
    if not args.no_quality:  # here, once: not in every Ray worker at the same time
        prepare_natural_reference(model)
    total = sum(model.layer(name).filters for name in layers)
    bar = ProgressBar(total, f"atlas {', '.join(layers)}", unit="filter")
    before = finished_filters(book, layers)

    def progress(counts: dict[str, tuple[int, int]]) -> None:
        finished = sum(done for done, _ in counts.values())
        bar.update(finished)
        if not bar.live:  # a log gets a line per finished batch, with the counts of the unfinished layers
            print(f"{finished}/{total} filters{layer_counts(counts)}", file=sys.stderr, flush=True)

    workers = (atlas.ray_renderer(args.ray, model_factory(args), model.fingerprint)
               if args.ray else contextlib.nullcontext(atlas.local_renderer(engine)))
    try:
        with workers as renderer:
            book.build(renderer, layers, batch, progress, not args.no_quality)
    finally:
        bar.close()
    print(f"atlas {', '.join(layers)} | {parameters.method} {parameters.steps} steps {parameters.size} px "
          f"| weights {model.weights} | {finished_filters(book, layers) - before} filters rendered in "
          f"{time.monotonic() - bar.start:.1f} s -> {book.folder}")
    return 0


def finished_filters(book: atlas.Atlas, layers: Sequence[str]) -> int:
    """How many filters of these layers the atlas has finished."""
    return sum(done for done, _ in book.counts(layers).values())


def layer_counts(counts: dict[str, tuple[int, int]]) -> str:
    """E.g. ' · 1/2 layers complete · block2_conv1 8/128': the layers still in progress with their counts."""
    complete = sum(done == total for done, total in counts.values())
    parts = [f"{complete}/{len(counts)} layers complete"] if len(counts) > 1 else []
    parts += [f"{name} {done}/{total}" for name, (done, total) in counts.items() if done < total]
    return "".join(f" · {part}" for part in parts)
