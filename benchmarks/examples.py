"""Natural-image examples: seconds to find a filter's top photo crops the first time for a layer (every
bundled photo through the network) and for another filter of the same layer (maps already in memory).

    /tmp/venv/bin/python benchmarks/examples.py --layers block1_conv1,block3_conv1,block5_conv3

Each layer starts with an empty map cache; the first row also pays for compiling. On a shared machine,
read the rows of one run as ratios.
"""
from __future__ import annotations

import argparse
import os
import time

from common import add_model_arguments, format_table, load

from vizcore import examples
from vizcore.models import LoadedModel


def timed_search(finder: examples.ExampleFinder, model: LoadedModel, layer: str, index: int,
                 photos: examples.PhotoSet) -> tuple[float, int]:
    """Wall time of one search and how many examples it found."""
    start = time.perf_counter()
    found = finder.top_examples(model, layer, index, photos)
    return time.perf_counter() - start, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.set_defaults(layers="block1_conv1,block3_conv1,block5_conv3")
    args = parser.parse_args()
    model, layers = load(args)
    photos = examples.bundled_photos()
    print(f"{len(photos)} photos, {sum(p.pixels.shape[0] * p.pixels.shape[1] for p in photos.photos):,} pixels, "
          f"longer side {examples.WORK_SIDE} px")
    rows = []
    for layer in layers:
        finder = examples.ExampleFinder()
        first, _ = timed_search(finder, model, layer, 0, photos)
        again, found = timed_search(finder, model, layer, 1, photos)
        megabytes = sum(maps.nbytes for maps in finder.layer_maps(model, layer, photos)) / 2**20
        rows.append([layer, first, again * 1000, found, megabytes, os.getloadavg()[0]])
    print(format_table(["layer", "filter 0 s (first)", "filter 1 ms (in memory)", "filter 1 crops", "maps MB",
                        "load avg"], rows))


if __name__ == "__main__":
    main()
