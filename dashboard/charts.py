"""The loss curves' data and Vega-Lite chart spec, without Streamlit."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def loss_columns(losses: np.ndarray, labels: Sequence[str]) -> dict[str, list]:
    """Loss history ``[steps, batch]`` in long form: columns Iteration, curve (the label) and value."""
    losses = np.asarray(losses, np.float64).reshape(len(losses), -1)
    steps = list(range(1, len(losses) + 1))
    return {"Iteration": steps * len(labels),
            "curve": [label for label in labels for _ in steps],
            "value": [value for i in range(len(labels)) for value in losses[:, i].tolist()]}


def loss_chart_spec(labels: Sequence[str], y_title: str, title: str = "", steps: int | None = None) -> dict:
    """A Vega-Lite line chart of ``loss_columns`` data, one labelled curve per picture.

    A plain spec, because building the chart through Altair takes ~0.1 s per redraw. With ``steps`` the
    x axis spans the whole run, so a live curve grows from left to right.
    """
    legend = {"orient": "top", "title": None} if len(labels) > 1 else None
    spec = {
        "mark": {"type": "line"},
        "encoding": {
            "x": {"field": "Iteration", "type": "quantitative", "title": "Iteration",
                  "scale": {"domain": [1, max(steps, 2)]} if steps else {}},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "curve", "type": "nominal", "sort": list(labels), "legend": legend},
            "tooltip": [{"field": "curve", "title": "Curve"}, {"field": "Iteration"},
                        {"field": "value", "title": y_title, "format": ".3g"}],
        },
    }
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec
