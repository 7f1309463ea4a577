"""Captions under the pictures, without Streamlit: what each picture shows and how it was made."""
from __future__ import annotations

from vizcore.methods import get_method
from vizcore.objectives import diversity_strength
from vizcore.render import RenderResult, Settings
from vizcore.spec import describe


def picture_caption(settings: Settings, index: int, iterations: int) -> str:
    """One line naming what picture ``index`` of these settings shows and how it was made."""
    s = settings
    parts = [f"{s.layer} {describe(s.objectives[index])}", get_method(s.method).title, f"{iterations} iterations",
             f"learning rate {s.learning_rates[index]:g}", f"{s.size} px", f"seed {s.seed}"]
    if s.copies > 1:
        parts[1:1] = [f"copy {index + 1} of {s.copies}", f"diversity {diversity_strength(s.objectives[index]):g}"]
    return " · ".join(parts)


def result_caption(result: RenderResult, index: int = 0) -> str:
    """The caption of a finished picture."""
    return picture_caption(result.settings, index, len(result.loss_history))
