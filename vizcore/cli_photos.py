"""The commands that work on photos: ``vizcore dream`` (DeepDream on a photo) and ``examples`` (the natural-photo
crops that excite one filter most, with heat maps)."""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from PIL import Image

from vizcore.atomic import writable_folder
from vizcore.cli_common import ProgressBar, announce_weights, check_output_path, open_model, print_notes, save_png


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
