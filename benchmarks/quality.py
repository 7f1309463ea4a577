"""Quality of the methods: "x strongest natural photo" score, high-frequency share and dead count.

    /tmp/venv/bin/python benchmarks/quality.py                      # 2 filters of all 13 layers, 256 steps
    /tmp/venv/bin/python benchmarks/quality.py --layers block1_conv1,block3_conv1 --steps 64 --size 96

Pictures are saved in benchmarks/out/ (one PNG per picture, a contact sheet and quality.json).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from common import add_model_arguments, format_table, load, median
from PIL import Image, ImageDraw

import vizcore
from vizcore import metrics
from vizcore.models import LoadedModel

OUT = Path(__file__).parent / "out"


@dataclass
class Picture:
    """One rendered filter and its numbers."""

    method: str
    layer: str
    filter: int
    score: float | None   # None: the filter never fires on natural photos
    hf_share: float
    activation: float     # final mean activation of the picture as displayed
    seconds: float        # render time of the layer's batch, shared out per picture


def pick_filters(model: LoadedModel, layer: str, count: int, seed: int) -> list[int]:
    """A fixed, seed-picked choice of ``count`` filters of ``layer``."""
    layer_index = [info.name for info in model.layers].index(layer)
    rng = np.random.default_rng([seed, layer_index])
    return sorted(int(f) for f in rng.choice(model.layer(layer).filters, size=count, replace=False))


def render_layer(engine: vizcore.Engine, layer: str, filters: list[int], method: str, args) -> list[Picture]:
    """Render the filters of one layer as one batch and measure every picture."""
    settings = engine.settings(vizcore.channels(layer, filters), method, steps=args.steps, size=args.size,
                               seed=args.seed)
    start = time.perf_counter()
    result = engine.render(settings)
    seconds = (time.perf_counter() - start) / len(filters)
    scores = metrics.quality_scores(engine.model, layer, filters, list(result.images))
    pictures = []
    for i, f in enumerate(filters):
        pictures.append(Picture(method, layer, f, scores[i], metrics.high_frequency_share(result.images[i]),
                                float(result.activation[i]), seconds))
        save_png(result.images[i], OUT / method / f"{layer}_f{f}.png")
    return pictures


def save_png(image: np.ndarray, path: Path) -> None:
    """Write one picture (benchmark output, not a cache: a plain write is fine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def contact_sheet(pictures: list[Picture], methods: list[str], layers: list[str], size: int) -> Image.Image:
    """One row per layer: each method's pictures side by side, labelled."""
    per_row = max(sum(1 for p in pictures if p.layer == layers[0] and p.method == m) for m in methods)
    label, gap = 110, 6
    width = label + len(methods) * (per_row * (size + gap) + gap * 3)
    sheet = Image.new("RGB", (width, 18 + len(layers) * (size + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, method in enumerate(methods):
        draw.text((label + column * (per_row * (size + gap) + gap * 3), 2), method, fill="black")
    for row, layer in enumerate(layers):
        top = 18 + row * (size + gap)
        draw.text((4, top + size // 2), layer, fill="black")
        for column, method in enumerate(methods):
            chosen = [p for p in pictures if p.layer == layer and p.method == method]
            for k, p in enumerate(chosen):
                left = label + column * (per_row * (size + gap) + gap * 3) + k * (size + gap)
                image = Image.open(OUT / method / f"{layer}_f{p.filter}.png").resize((size, size))
                sheet.paste(image, (left, top))
    return sheet


def layer_rows(pictures: list[Picture], methods: list[str], layers: list[str]) -> list[list[object]]:
    """Per layer and method: filters with their scores, median hf share and dead count."""
    rows = []
    for layer in layers:
        row: list[object] = [layer]
        for method in methods:
            chosen = [p for p in pictures if p.layer == layer and p.method == method]
            row.append(" ".join(f"{p.filter}:{'n/a' if p.score is None else f'{p.score:.1f}'}" for p in chosen))
            row += [median([p.hf_share for p in chosen]), sum(p.activation <= 0 for p in chosen)]
        rows.append(row)
    return rows


def summary_rows(pictures: list[Picture], methods: list[str]) -> list[list[object]]:
    """Per method: median score, median hf share, dead count, filters without a score, seconds per picture."""
    rows = []
    for method in methods:
        chosen = [p for p in pictures if p.method == method]
        rows.append([method, len(chosen), median([p.score for p in chosen]), median([p.hf_share for p in chosen]),
                     sum(p.activation <= 0 for p in chosen), sum(p.score is None for p in chosen),
                     median([p.seconds for p in chosen])])
    return rows


def main() -> None:
    """Render, measure, print the tables and save the pictures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--steps", type=int, default=256, help="iterations per picture (default: 256)")
    parser.add_argument("--size", type=int, default=128, help="picture size in pixels (default: 128)")
    parser.add_argument("--filters-per-layer", type=int, default=2, help="filters per layer (default: 2)")
    parser.add_argument("--methods", default="robust,classic", help="comma-separated (default: robust,classic)")
    parser.add_argument("--seed", type=int, default=0, help="render seed; also picks the filters (default: 0)")
    args = parser.parse_args()
    model, layers = load(args)
    methods = [m.strip() for m in args.methods.split(",")]
    engine = vizcore.Engine(model, cache=None)  # always render: the recipes change while they are tuned
    metrics.natural_reference(model)
    pictures: list[Picture] = []
    for layer in layers:
        filters = pick_filters(model, layer, args.filters_per_layer, args.seed)
        for method in methods:
            pictures += render_layer(engine, layer, filters, method, args)
            done = pictures[-len(filters):]
            print(f"  {layer:13s} {method:8s} " + "  ".join(
                f"f{p.filter}: score {'n/a' if p.score is None else f'{p.score:.2f}'} hf {p.hf_share:.2f}"
                for p in done) + f"  ({done[0].seconds * len(filters):.0f} s)", flush=True)
    header = ["layer"] + [f"{m} {c}" for m in methods for c in ("filter:score", "hf", "dead")]
    print(f"\n{args.steps} steps, {args.size} px, seed {args.seed}\n")
    print(format_table(header, layer_rows(pictures, methods, layers)))
    print()
    print(format_table(["method", "pictures", "median score", "median hf", "dead", "no natural response",
                        "s/picture"], summary_rows(pictures, methods)))
    contact_sheet(pictures, methods, layers, args.size).save(OUT / "sheet.png")
    (OUT / "quality.json").write_text(json.dumps({"settings": vars(args), "pictures": [asdict(p) for p in pictures]},
                                                  indent=1))
    print(f"\npictures: {OUT}/<method>/<layer>_f<filter>.png, all in {OUT / 'sheet.png'}")


if __name__ == "__main__":
    main()
