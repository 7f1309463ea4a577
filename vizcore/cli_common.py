"""What the command line's commands share: checks of the output path and numbers before anything loads, the
chosen model, the progress bar, atomic PNG writes and ``note:`` lines.

Nothing here imports TensorFlow when the module is imported (`vizcore --help` and `layers` stay without it):
the engine's modules are imported inside the functions that need them.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from PIL import Image

from vizcore import validate
from vizcore.atomic import write_bytes_atomic
from vizcore.cache import RenderCache
from vizcore.errors import InputError
from vizcore.models import LoadedModel, load_model

if TYPE_CHECKING:  # the engine's modules import TensorFlow
    from vizcore.render import Engine

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


def check_batch(batch: int) -> None:
    """Batch size from 1 to the engine's maximum."""
    validate.whole_in_range(batch, 1, validate.MAX_BATCH, f"--batch must be from 1 to {validate.MAX_BATCH} "
                                                          f"(got {batch}).")


# ---------------------------------------------------------------- model


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


def prepare_natural_reference(model: LoadedModel) -> None:
    """Measure every filter on natural photos now if that is not saved yet (once per weights), saying so."""
    from vizcore.metrics import natural_reference, reference_path

    if not reference_path(model).exists():
        print("note: measuring every filter on natural photos once, for the quality score (about a minute)",
              file=sys.stderr)
    natural_reference(model)


# ---------------------------------------------------------------- output


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


def print_notes(notes: Sequence[str]) -> None:
    """Each distinct note as a `note:` line on stderr."""
    for note in dict.fromkeys(notes):
        print(f"note: {note}", file=sys.stderr)
