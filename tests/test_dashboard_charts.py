"""dashboard.charts: the loss curves' data, without Streamlit or a model."""
from __future__ import annotations

import numpy as np

from dashboard.charts import loss_columns


def test_loss_columns() -> None:
    columns = loss_columns(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"])
    assert columns == {"Iteration": [1, 2, 1, 2], "curve": ["a", "a", "b", "b"], "value": [1.0, 3.0, 2.0, 4.0]}
