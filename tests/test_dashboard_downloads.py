"""dashboard.downloads: PNG bytes and download file names, without Streamlit or a model."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dashboard.downloads import png_bytes, png_name
from vizcore.objectives import channels
from vizcore.render import Settings


def settings(filters=(1,), rates=(0.05,), steps=3) -> Settings:
    return Settings(tuple(channels("conv2", filters)), "robust", steps, 64, tuple(rates))


def test_png_and_its_name() -> None:
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    assert np.array_equal(decoded, image)
    assert png_name(settings(filters=(1, 2), rates=(0.05, 0.1)), 1) == "conv2_filter2_robust_3it_lr0.1_64px.png"
