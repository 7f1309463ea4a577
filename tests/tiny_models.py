"""Tiny conv models built in the test itself: fast and deterministic."""
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
