"""The wake-up search's geometry: a patch holds its centre neuron's whole view, and repeated over a picture
it gives the picture's centre neuron (and its repeats) exactly the patch's centre response."""
import numpy as np
import pytest
import tensorflow as tf

from vizcore import wake
from vizcore.models import LayerInfo


def test_a_patch_holds_the_centre_neurons_view_and_deep_layers_search_the_whole_picture():
    shallow = LayerInfo("block2_conv1", 128, stride=2, receptive_field=10)
    assert wake.patch_side(shallow, 128) == 16
    assert wake.start_count(16, 128) == wake.MAX_STARTS
    deep = LayerInfo("block4_conv1", 512, stride=8, receptive_field=60)
    assert wake.patch_side(deep, 128) == 128
    assert wake.start_count(128, 128) == wake.SEARCH_AREA


@pytest.mark.parametrize("size", [32, 37])
def test_the_repeated_patch_gives_the_pictures_centre_neuron_the_patchs_centre_response(tiny, size):
    layer = tiny.layer("conv2")
    side = wake.patch_side(layer, size)
    assert side < size
    patches = np.random.default_rng(0).uniform(0, 255, (1, side, side, 3)).astype(np.float32)
    picture = wake.repeat_patch(patches, size, layer.stride)
    assert picture.shape == (1, size, size, 3)
    probe = tiny.probe("conv2")
    patch_map, picture_map = probe(tf.constant(patches)).numpy(), probe(tf.constant(picture)).numpy()
    centre, patch_centre = picture_map.shape[1] // 2, patch_map.shape[1] // 2
    np.testing.assert_allclose(picture_map[0, centre, centre], patch_map[0, patch_centre, patch_centre], rtol=1e-5)
    period = side // layer.stride
    np.testing.assert_allclose(picture_map[0, centre - period, centre], picture_map[0, centre, centre], rtol=1e-5)
