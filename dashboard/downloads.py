"""What the Download buttons save, without Streamlit: PNG bytes and file names that say what the picture is."""
from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from vizcore.render import Settings


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 HxWx3 picture as PNG file contents."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_name(settings: Settings, index: int = 0) -> str:
    """A download file name that says what the picture is."""
    objective = settings.objectives[index]
    target = (f"{settings.layer}_filter{objective.filter}" if settings.whole_filter
              else re.sub(r"[^\w.+-]+", "_", str(objective)).strip("_")[:80])
    return (f"{target}_{settings.method}_{settings.steps}it_"
            f"lr{settings.learning_rates[index]:g}_{settings.size}px.png")


def gif_name(settings: Settings, index: int = 0) -> str:
    """A download file name for the animation: the picture's name, ending .gif."""
    return png_name(settings, index).removesuffix(".png") + ".gif"
