"""Shared fixtures: tiny conv models built in the test, and the real offline VGG16 (loaded once)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import vizcore
from vizcore.models import LoadedModel, caffe_preprocess, conv_catalog, weights_fingerprint


def tiny_model(seed: int = 0, filters: tuple[int, ...] = (4, 6)) -> LoadedModel:
    """A two-layer conv net with fixed random weights, wrapped like a real model."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(filters[0], 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(filters[1], 3, padding="same", activation="relu", name="conv2")(x)
    model = keras.Model(inputs, x)
    return LoadedModel(model, "tiny", "random", "tiny test model", weights_fingerprint(model),
                       caffe_preprocess, None, conv_catalog(model))


@pytest.fixture
def tiny() -> LoadedModel:
    return tiny_model()


@pytest.fixture(scope="session")
def vgg16(tmp_path_factory) -> LoadedModel:
    """The real offline VGG16 (hed-vgg16 weights), converted into a per-session cache folder."""
    os.environ.setdefault("VIZCORE_CACHE", str(tmp_path_factory.mktemp("vizcore-cache")))
    return vizcore.load_model("hed-vgg16")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
