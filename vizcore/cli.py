"""The command line: ``vizcore layers``, ``render``, ``grid``, ``diversity``, ``atlas``, ``dream``, ``examples``
and ``cache``.

A mistake in the input ends as one ``error: ...`` line on stderr and exit code 2, never a traceback;
Ctrl-C ends as ``interrupted`` and exit code 130. Output files are written atomically, so an
interrupted or failed run never leaves a half-written picture.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
from PIL import Image, ImageDraw

from vizcore import options, validate
from vizcore.atomic import cache_root, writable_folder, write_bytes_atomic
from vizcore.cache import RENDERS, UPLOADS, RenderCache, clear_cache, uploads_use
from vizcore.errors import InputError, VizError
from vizcore.models import PREPROCESSING, VGG16_CATALOG, LayerInfo, LoadedModel, built_in_weights, load_model

if TYPE_CHECKING:  # the engine's modules import TensorFlow: the commands that render import them when they run
    from vizcore import animation, atlas
    from vizcore.algebra import Objective
    from vizcore.render import Engine, RenderResult, Settings

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
MODEL_CHOICES = ("auto", "imagenet", "hed-vgg16")
GRID_MARGIN, GRID_LABEL_HEIGHT = 4, 12
DEFAULT_SIZE = 128


# ---------------------------------------------------------------- progress


class ProgressBar:
    """Keras's ``Progbar`` on stderr after a line naming the work: redrawn in place on a terminal, one line
    when done otherwise. (Keras writes to stdout, which carries the commands' results.)"""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, unit: str = "step"):
        import keras  # only commands that render get here: `vizcore --help` and `layers` stay without Keras

        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.start = time.monotonic()
        self.total, self.done = total, 0
        print(f"{label} ({total} {unit}s)", file=self.stream, flush=True)
        self.bar = keras.utils.Progbar(total, verbose=1 if self.live else 2, unit_name=unit)
        self.update(0)

    def update(self, done: int) -> None:
        """Show that ``done`` of ``total`` units are finished."""
        self.done = done
        with contextlib.redirect_stdout(self.stream):
            self.bar.update(done)

    def close(self) -> None:
        """End a bar left unfinished (an error or Ctrl-C) so later output starts on a fresh line."""
        if self.live and self.done < self.total:
            print(file=self.stream, flush=True)


# ---------------------------------------------------------------- input checks


def check_output_path(path: Path, suffix: str = ".png") -> Path:
    """The output must be a ``suffix`` file in an existing, writable folder (checked before rendering)."""
    if path.is_dir():
        raise InputError(f"The output path {path} is a folder: give a file name such as {path / ('picture' + suffix)}.")
    if path.suffix.lower() != suffix:
        raise InputError(f"The output must be a {suffix} file (got {path}).")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"Cannot write {path}: the folder {folder} does not exist.")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"Cannot write {path}: the folder {folder} is not writable ({error.strerror}).") from None
    return path


def check_numbers(args: argparse.Namespace) -> None:
    """Check the numeric settings before the model loads, so a typo fails at once."""
    if args.steps is not None:
        validate.check_steps(args.steps)
    if args.size is not None:  # None: the model's own size, known once it is loaded
        validate.check_size(args.size)
    if args.lr is not None:
        validate.check_learning_rates([args.lr])
    validate.check_seed(args.seed)


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


def check_batch(batch: int) -> None:
    """Batch size from 1 to the engine's maximum."""
    validate.whole_in_range(batch, 1, validate.MAX_BATCH, f"--batch must be from 1 to {validate.MAX_BATCH} "
                                                          f"(got {batch}).")


def check_grid_layout(args: argparse.Namespace) -> None:
    """Batch size from 1 to the engine's maximum; at least one column."""
    check_batch(args.batch)
    validate.whole_in_range(args.columns, 1, math.inf, f"--columns must be at least 1 (got {args.columns}).")


# ---------------------------------------------------------------- model, rendering, files


@functools.cache
def named_model(source: str) -> LoadedModel:
    """A model by source name, loaded once per process (weights files are loaded fresh every time)."""
    return load_model(source)


def open_model(args: argparse.Namespace) -> LoadedModel:
    """The model chosen by --model-file / --weights / --model; an unset --size becomes the model's own size."""
    model = model_factory(args)()
    if getattr(args, "size", DEFAULT_SIZE) is None:
        args.size = model.input_size or DEFAULT_SIZE
    return model


def model_factory(args: argparse.Namespace) -> functools.partial:
    """A picklable function that loads the chosen model (for this process or for Ray workers)."""
    from vizcore.uploads import load_model_file

    if args.model_file:  # checked in a child process first, then loaded with Keras's safe mode
        return functools.partial(load_model_file, args.model_file, args.preprocess)
    if args.weights:
        return functools.partial(load_model, weights_path=args.weights)
    return functools.partial(named_model, args.model)


def open_engine(args: argparse.Namespace) -> Engine:
    """An engine on the chosen model, with the disk cache unless --no-cache; announces the weights on stderr."""
    from vizcore.render import Engine

    model = open_model(args)
    announce_weights(model, sys.stderr)
    return Engine(model, None if args.no_cache else RenderCache())


def announce_weights(model: LoadedModel, stream: TextIO) -> None:
    """Which weights are in use, and why if it was a fallback."""
    print(f"weights: {model.weights_description}", file=stream)
    if model.notice:
        print(f"note: {model.notice}", file=stream)


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


def save_png(path: Path, picture: Image.Image) -> None:
    """Write the picture as PNG atomically."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    write_file(path, buffer.getvalue())


def write_file(path: Path, data: bytes) -> None:
    """Write the file atomically; a failure is a plain InputError."""
    try:
        write_bytes_atomic(path, data)
    except OSError as error:
        raise InputError(f"Could not write {path}: {error.strerror or error}.") from None


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


# ---------------------------------------------------------------- subcommands


def run_layers(args: argparse.Namespace) -> int:
    """Print the conv layer catalog and the weights in use (for the built-in VGG16 without loading it)."""
    if args.model_file or args.weights:  # a file is read (and checked) by loading it
        model = open_model(args)
        layers, description, notice = model.layers, model.weights_description, model.notice
    else:  # the layers are a fact of the architecture; the weights are chosen as loading would choose them
        layers, (description, notice) = VGG16_CATALOG, built_in_weights(args.model)
    print(f"weights: {description}")
    if notice:
        print(f"note: {notice}")
    print(f"{'layer':<14}{'filters':>8}{'stride':>8}{'receptive field':>17}")
    for info in layers:
        print(f"{info.name:<14}{info.filters:>8}{info.stride:>8}{info.receptive_field:>14} px")
    print(f"{len(layers)} conv layers, {sum(i.filters for i in layers)} filters in total")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """Print what the cache folder keeps (renders, uploads) against its limits; empty it first with --clear."""
    renders = RenderCache()
    if args.clear:
        clear_cache(args.clear, renders)
        print(f"cleared: {args.clear}")
    print(f"cache folder: {cache_root()}")
    print(renders.use())
    print(uploads_use())
    print_notes([renders.problem] if renders.problem else [])
    return 0


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


def prepare_natural_reference(model: LoadedModel) -> None:
    """Measure every filter on natural photos now if that is not saved yet (once per weights), saying so."""
    from vizcore.metrics import natural_reference, reference_path

    if not reference_path(model).exists():
        print("note: measuring every filter on natural photos once, for the quality score (about a minute)",
              file=sys.stderr)
    natural_reference(model)


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


def run_dream(args: argparse.Namespace) -> int:
    """DeepDream on a photo (or a bundled sample): amplify a layer or one filter, octave by octave."""
    from vizcore import dream

    out = check_output_path(args.out)
    photo = dream.load_photo(args.photo, args.size)
    model = open_model(args)
    announce_weights(model, sys.stderr)
    frames = dream.dream(model, photo, args.layer, args.filter, args.octaves, steps_per_octave=args.steps,
                         step_size=args.strength, seed=args.seed)
    what = f"{args.layer} {'whole layer' if args.filter is None else f'filter {args.filter}'}"
    bar = ProgressBar(args.octaves * args.steps, f"dream {what}")
    try:
        for frame in frames:
            if frame.step == 1:
                first_objective = frame.objective
            bar.update(frame.step)
    finally:
        bar.close()
    print_notes([note for note in [dream.nothing_to_amplify(args.filter, first_objective)] if note])
    save_png(out, Image.fromarray(frame.picture))
    print(f"dream {what} | {args.octaves} octaves x {args.steps} steps, strength {args.strength:g} "
          f"| {photo.shape[1]} x {photo.shape[0]} px | weights {model.weights} "
          f"| {time.monotonic() - bar.start:.1f} s -> {out}")
    return 0


def run_examples(args: argparse.Namespace) -> int:
    """Find the photo crops that excite one filter most; save crops, small places in context and heat maps,
    print a table (``x mean``: the response over the filter's mean response over every place of the photos)."""
    from vizcore import examples

    examples.check_count(args.count)
    out = writable_folder(args.out)
    photos = examples.with_own_photos([examples.photo_file(path) for path in args.photos])  # before the model
    model = open_model(args)
    announce_weights(model, sys.stderr)
    started = time.monotonic()
    found = examples.top_examples(model, args.layer, args.filter, photos, args.count)
    seconds = time.monotonic() - started
    if found:
        print(f"{'rank':>4}  {'photo':<24}{'activation':>11}{'x mean':>8}  box (top, left, bottom, right)  files")
    else:
        print_notes([examples.SILENT_NOTE])
    for rank, example in enumerate(found, 1):
        stem = f"{rank:02d}-{safe_stem(example.photo)}"
        pictures = {f"{stem}-{kind}.png": picture for kind, picture in
                    (("crop", example.crop), ("context", example.context), ("overlay", example.overlay))
                    if picture is not None}
        for name, picture in pictures.items():
            save_png(out / name, Image.fromarray(picture))
        print(f"{rank:>4}  {example.photo:<24}{example.activation:>11.4g}{example.relative:>8.1f}  "
              f"{str(example.box.as_tuple()):<31} {', '.join(pictures)}")
    print(f"{args.layer} filter {args.filter} | weights {model.weights} | {len(found)} examples in {len(photos)} "
          f"photos, {seconds:.1f} s -> {out}")
    return 0


def safe_stem(name: str) -> str:
    """A photo name as a safe part of a file name, e.g. 'my cat.jpg' -> 'my_cat'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:40] or "photo"


def finished_filters(book: atlas.Atlas, layers: Sequence[str]) -> int:
    """How many filters of these layers the atlas has finished."""
    return sum(done for done, _ in book.counts(layers).values())


def layer_counts(counts: dict[str, tuple[int, int]]) -> str:
    """E.g. ' · 1/2 layers complete · block2_conv1 8/128': the layers still in progress with their counts."""
    complete = sum(done == total for done, total in counts.values())
    parts = [f"{complete}/{len(counts)} layers complete"] if len(counts) > 1 else []
    parts += [f"{name} {done}/{total}" for name, (done, total) in counts.items() if done < total]
    return "".join(f" · {part}" for part in parts)


def print_notes(notes: Sequence[str]) -> None:
    """Each distinct note as a `note:` line on stderr."""
    for note in dict.fromkeys(notes):
        print(f"note: {note}", file=sys.stderr)


def summary(model: LoadedModel, settings: Settings, what: str, *details: str) -> str:
    """One line: layer and filters, method, weights, then the details."""
    return " | ".join([f"{settings.layer} {what}", settings.method, f"weights {model.weights}", *details])


# ---------------------------------------------------------------- parser and entry point


def method_defaults(defaults: dict[str, float]) -> str:
    """E.g. 'robust 0.05, classic 4' for the methods' default learning rates."""
    return ", ".join(f"{name} {value:g}" for name, value in defaults.items())


def add_picture_options(group: argparse._ArgumentGroup) -> None:
    """The settings that change a picture: --method, --steps, --size, --lr, --seed."""
    group.add_argument("--method", choices=options.METHODS, default="robust",
                       help="robust: clean Lucid-style pictures, coarse to fine (default); lucid: the same recipe at "
                       "full size all the way (about twice the time); classic: the original notebook's loop")
    group.add_argument("--steps", type=int, help=f"iterations, 1-{validate.MAX_STEPS} "
                       f"(default: the method's: {method_defaults(options.METHODS_DEFAULT_STEPS)})")
    group.add_argument("--size", type=int,
                       help=f"picture size in pixels, {validate.MIN_SIZE}-{validate.MAX_SIZE} (default "
                       f"{DEFAULT_SIZE}, or the model's own size if it takes only one)")
    group.add_argument("--lr", type=float,
                       help=f"learning rate (default: the method's: {method_defaults(options.METHODS_DEFAULT_LR)})")
    group.add_argument("--seed", type=int, default=0, help="random seed of the start image and transforms (default 0)")


LAYER_HELP = "conv layer name, e.g. block3_conv1 (see `vizcore layers`)"
KIND_HELP = "channel: each filter's whole map (default); neuron: only its centre neuron"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; options shared by several subcommands are defined once, as parent parsers."""
    model_options = argparse.ArgumentParser(add_help=False)
    group = model_options.add_argument_group("model")
    group.add_argument("--model", choices=MODEL_CHOICES, default="auto",
                       help="weights to use: auto = ImageNet if reachable, else the offline hed-vgg16 (default)")
    group.add_argument("--weights", metavar="PATH", help="a local VGG16 weights file (.weights.h5 or .h5); "
                       "overrides --model")
    group.add_argument("--model-file", metavar="PATH.keras", help="your own Keras 3 model file (.keras); it is "
                       "checked in a separate process first (no Lambda layers, no custom objects); overrides "
                       "--model and --weights")
    group.add_argument("--preprocess", choices=list(PREPROCESSING), default="none",
                       help="what your model expects as input (with --model-file): " + "; ".join(
                           p.description for p in PREPROCESSING.values()) + " (default none)")

    render_options = argparse.ArgumentParser(add_help=False)
    group = render_options.add_argument_group("rendering")
    add_picture_options(group)
    group.add_argument("--out", type=Path, required=True, help="output .png file (written atomically)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache of renders")
    layer_options = argparse.ArgumentParser(add_help=False)
    group = layer_options.add_argument_group("what to render")
    group.add_argument("--layer", required=True, help=LAYER_HELP)
    group.add_argument("--objective", choices=options.OBJECTIVES, default="channel", help=KIND_HELP)

    parser = argparse.ArgumentParser(prog="vizcore", description="See what a filter of VGG16 (or your own Keras "
                                     "model) responds to: render the picture that excites it most (feature "
                                     "visualisation).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    layers = commands.add_parser("layers", parents=[model_options], help="list the conv layers and the weights")
    layers.set_defaults(run=run_layers)
    render = commands.add_parser("render", parents=[model_options, render_options], help="render one filter "
                                 "(or any objective)")
    group = render.add_argument_group("what to render: --layer and --filter, or --objective")
    group.add_argument("--layer", help=LAYER_HELP)
    group.add_argument("--filter", help="filter number, or 'random' (picked with the system's random source, "
                       "independent of --seed; the choice is reported)")
    group.add_argument("--objective", default="channel", help=KIND_HELP + "; or a whole objective instead of "
                       "--layer and --filter, e.g. 'block3_conv1:12 + 0.5*block3_conv1:40' (a blend), "
                       "'block4_conv1:7 - block3_conv3:12', 'neuron(block4_conv1:7)', 'dream(block4_conv2)' "
                       "(README: Objectives)")
    render.add_argument("--gif", type=Path, metavar="PATH", help="also save an animated GIF of the picture "
                        "forming (renders afresh, ignoring the cache)")
    render.add_argument("--json", action="store_true", help="print a JSON report on stdout (includes the quality "
                        "score: the picture's activation x the strongest natural photo)")
    render.set_defaults(run=run_render)
    diverse = commands.add_parser("diversity", parents=[model_options, layer_options, render_options],
                                  help="render different pictures of one filter as one row")
    diverse.add_argument("--filter", type=int, required=True, help="filter number")
    diverse.add_argument("--copies", type=int, default=validate.DEFAULT_COPIES,
                         help=f"how many pictures, {validate.MIN_COPIES}-{validate.MAX_COPIES} "
                              f"(default {validate.DEFAULT_COPIES}); each starts from its own noise (seed + i)")
    diverse.add_argument("--strength", type=float, default=validate.DEFAULT_DIVERSITY,
                         help=f"how strongly the pictures are pushed to differ in style, 0-{validate.MAX_DIVERSITY:g} "
                              f"(default {validate.DEFAULT_DIVERSITY:g}; 0 = independent pictures)")
    diverse.set_defaults(run=run_diversity)
    grid = commands.add_parser("grid", parents=[model_options, layer_options, render_options],
                               help="render many filters as a grid")
    grid.add_argument("--filters", help="filters as 0-63, 0,3,7 or 0-7,12 (default: every filter of the layer)")
    grid.add_argument("--batch", type=int, default=16, help="filters optimised together as one batch (default 16)")
    grid.add_argument("--columns", type=int, default=8, help="pictures per row of the grid (default 8)")
    grid.set_defaults(run=run_grid)
    book = commands.add_parser("atlas", parents=[model_options], help="render every filter of some layers into "
                               "a resumable atlas folder (PNGs + index.json)")
    group = book.add_argument_group("rendering")
    group.add_argument("--layers", default="all", help="'all' (default) or layer names, e.g. "
                       "block1_conv1,block2_conv1")
    add_picture_options(group)
    group.add_argument("--out", type=Path, required=True, help="atlas folder; the pictures go to a subfolder "
                       "named by the weights and settings, so other settings never mix with them")
    group.add_argument("--batch", type=int, default=options.ATLAS_DEFAULT_BATCH, help="filters optimised "
                       f"together as one batch (default {options.ATLAS_DEFAULT_BATCH}: about twice as fast per filter "
                       "as one at a time on block1 layers)")
    group.add_argument("--no-quality", action="store_true", help="skip the quality score (saves measuring "
                       "natural photos once, about a minute)")
    group.add_argument("--ray", metavar="ADDRESS", help="render batches as Ray tasks: 'local' starts Ray on "
                       "this machine, else a cluster address (every node needs vizcore and the weights)")
    book.set_defaults(run=run_atlas)
    add_dream_parser(commands, model_options)
    found = commands.add_parser("examples", parents=[model_options], help="the natural-photo crops that excite "
                                "one filter most, with heat maps of where it fires")
    group = found.add_argument_group("examples")
    group.add_argument("--layer", required=True, help="conv layer name, e.g. block3_conv1 (see `vizcore layers`)")
    group.add_argument("--filter", type=int, required=True, help="filter number")
    group.add_argument("--photos", nargs="+", default=[], metavar="FILE", help="your own JPEG/PNG photos "
                       f"(up to {options.EXAMPLES_MAX_OWN_PHOTOS}), searched as well as the bundled sample photos")
    group.add_argument("--count", type=int, default=options.EXAMPLES_DEFAULT_COUNT, help="how many crops, at "
                       f"most {options.EXAMPLES_PER_PHOTO} per photo (default {options.EXAMPLES_DEFAULT_COUNT}, up to "
                       f"{options.EXAMPLES_MAX_COUNT})")
    group.add_argument("--out", type=Path, required=True, help="folder for the crop and heat-map PNGs "
                       "(created if missing; files written atomically)")
    found.set_defaults(run=run_examples)
    add_cache_parser(commands)
    return parser


def add_cache_parser(commands: argparse._SubParsersAction) -> None:
    """The `vizcore cache` subcommand."""
    limits = "; ".join(f"{kind} {default} MB, set by {variable}" for kind, (variable, default)
                       in options.CACHE_LIMITS.items())
    command = commands.add_parser("cache", help="show how much disk the cache folder's renders and uploaded "
                                  "models take, or clear them", description="The cache folder ($VIZCORE_CACHE, "
                                  "default ~/.cache/vizcore) keeps finished renders and uploaded model files, each "
                                  f"under a size limit, least recently used first out ({limits}).")
    command.add_argument("--clear", nargs="?", const="all", choices=(RENDERS, UPLOADS, "all"),
                         help="delete the renders, the uploaded models or all (the default) first")
    command.set_defaults(run=run_cache)


def add_dream_parser(commands: argparse._SubParsersAction, model_options: argparse.ArgumentParser) -> None:
    """The `vizcore dream` subcommand."""
    command = commands.add_parser("dream", parents=[model_options], help="DeepDream on a photo: amplify what a "
                                "layer (or one filter) sees in it")
    command.add_argument("photo", help=f"a JPEG or PNG file, or a bundled sample: "
                       f"{', '.join(options.DREAM_SAMPLE_PREFIX + name for name in options.DREAM_SAMPLE_PHOTOS)}")
    command.add_argument("--layer", required=True, help="conv layer name, e.g. block4_conv3 (see `vizcore layers`)")
    command.add_argument("--filter", type=int, help="amplify only this filter (default: the whole layer)")
    command.add_argument("--octaves", type=int, default=options.DREAM_DEFAULT_OCTAVES, help="scales to dream at, "
                       f"small to full size, {options.DREAM_MIN_OCTAVES}-{options.DREAM_MAX_OCTAVES} "
                       f"(default {options.DREAM_DEFAULT_OCTAVES})")
    command.add_argument("--steps", type=int, default=options.DREAM_DEFAULT_STEPS, help="steps per octave, "
                       f"{options.DREAM_MIN_STEPS}-{options.DREAM_MAX_STEPS} (default {options.DREAM_DEFAULT_STEPS})")
    command.add_argument("--strength", type=float, default=options.DREAM_DEFAULT_STEP_SIZE, help="step size in pixel "
                       f"levels (0-255), above 0 and at most {options.DREAM_MAX_STEP_SIZE:g} "
                       f"(default {options.DREAM_DEFAULT_STEP_SIZE:g})")
    command.add_argument("--size", type=int, default=options.DREAM_DEFAULT_SIDE, help="the photo's longer side is "
                       f"shrunk to this, {options.DREAM_MIN_SIDE}-{options.DREAM_MAX_SIDE} px "
                       f"(default {options.DREAM_DEFAULT_SIDE}; larger is slower)")
    command.add_argument("--seed", type=int, default=0, help="random seed of the rolls (default 0)")
    command.add_argument("--out", type=Path, required=True, help="output .png file (written atomically)")
    command.set_defaults(run=run_dream)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code: 0 done, 2 bad input, 130 interrupted."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except VizError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
