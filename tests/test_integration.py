"""The engine on the real offline VGG16 at small sizes: the notebook's dead filter, robust vs classic."""
import numpy as np
import pytest

import vizcore
from vizcore.objectives import channels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(vgg16):
    return vizcore.Engine(vgg16)


def test_the_notebooks_dead_filter_stays_dead_with_classic_and_wakes_with_robust(engine):
    """block2_conv1 filter 7: loss 0.00 forever with the notebook's method (issue 3)."""
    classic = engine.render(engine.settings("block2_conv1:7", method="classic", steps=20, size=96))
    assert np.all(classic.loss_history == 0.0)
    assert "no gradient" in classic.notes[0]

    robust = engine.render(engine.settings("block2_conv1:7", steps=60, size=96))
    assert robust.loss_history[0, 0] == 0.0
    assert robust.activation[0] > 0.5
    assert "did not respond" in robust.notes[0]


def test_a_filter_no_smooth_picture_wakes_fires_after_the_patch_search(engine):
    """block2_conv1 filter 51 of the HED weights: silent on every photo and every smooth picture."""
    result = engine.render(engine.settings("block2_conv1:51", steps=30, size=64))
    assert result.activation[0] > 0
    assert any("small patches" in note for note in result.notes)


def test_robust_beats_classic_on_a_deep_filter(engine):
    settings = {"objective": "block4_conv1:3", "steps": 40, "size": 64}
    robust = engine.render(engine.settings(**settings))
    classic = engine.render(engine.settings(method="classic", **settings))
    assert robust.activation[0] > 2 * max(classic.activation[0], 1e-3)
    assert robust.loss_history[-5:, 0].mean() > robust.loss_history[:5, 0].mean()


def test_shallow_layers_render_every_filter_of_a_batch(engine):
    result = engine.render(engine.settings(channels("block1_conv1", list(range(8))), steps=30, size=64))
    assert result.images.shape == (8, 64, 64, 3)
    assert np.all(result.activation > 0)
    assert len({img.tobytes() for img in result.images}) == 8
