"""Small helpers shared by the benchmark scripts: layer selection, model loading and table printing."""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import vizcore
from vizcore.models import LoadedModel


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--layers`` flags."""
    parser.add_argument("--model", default="auto", help="auto, imagenet or hed-vgg16 (default: auto)")
    parser.add_argument("--layers", default="all",
                        help="comma-separated layer names, or 'all' for the 13 conv layers (default: all)")


def load(args: argparse.Namespace) -> tuple[LoadedModel, list[str]]:
    """The model and the chosen layer names (checked against the model's catalog)."""
    model = vizcore.load_model(args.model)
    print(f"weights: {model.weights_description}" + (f"  ({model.notice})" if model.notice else ""))
    if args.layers == "all":
        return model, [info.name for info in model.layers]
    names = [name.strip() for name in args.layers.split(",") if name.strip()]
    for name in names:
        model.layer(name)
    return model, names


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that exist (None when there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def cell(value: object, digits: int = 2) -> str:
    """A number rounded for a table, '-' for None."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with right-aligned columns (first column left-aligned)."""
    text = [[str(h) for h in header]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(line[i]) for line in text) for i in range(len(header))]

    def line(values: list[str]) -> str:
        padded = [v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(text[0]), rule] + [line(row) for row in text[1:]])
