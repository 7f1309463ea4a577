"""The command line: ``vizcore layers``, ``render``, ``grid``, ``diversity``, ``atlas``, ``dream``, ``examples``
and ``cache``.

A mistake in the input ends as one ``error: ...`` line on stderr and exit code 2, never a traceback;
Ctrl-C ends as ``interrupted`` and exit code 130. Output files are written atomically, so an
interrupted or failed run never leaves a half-written picture.

This module is the entry point (the parser, ``main``, exit codes) and the commands that answer without
rendering; the others live by job in ``cli_render`` (render, grid, diversity), ``cli_atlas``, ``cli_photos``
(dream, examples), with what they share in ``cli_common``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vizcore import options, validate
from vizcore.atomic import cache_root
from vizcore.cache import RENDERS, UPLOADS, RenderCache, clear_cache, uploads_use
from vizcore.cli_atlas import run_atlas
from vizcore.cli_common import DEFAULT_SIZE, open_model, print_notes
from vizcore.cli_photos import run_dream, run_examples
from vizcore.cli_render import run_diversity, run_grid, run_render
from vizcore.errors import VizError
from vizcore.models import PREPROCESSING, VGG16_CATALOG, built_in_weights

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
MODEL_CHOICES = ("auto", "imagenet", "hed-vgg16")


# ---------------------------------------------------------------- commands that answer without rendering


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
