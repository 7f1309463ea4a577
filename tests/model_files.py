"""Model files made by the tests themselves: a tiny valid .keras model and hostile or broken variants."""
from __future__ import annotations

import functools
import json
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import keras


def tiny_keras_model(input_size: int | None = None) -> keras.Model:
    """Conv2D with its ReLU inside, pooling, then a linear Conv2D followed by a separate ReLU layer."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((input_size, input_size, 3))
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs)  # takes 0-255 pictures: preprocessing "none"
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv_b")(x)
    x = keras.layers.ReLU(name="relu_b")(x)
    return keras.Model(inputs, x, name="tiny_net")


@functools.cache
def tiny_file_bytes(input_size: int | None = None) -> bytes:
    """The tiny model saved once per test process: every copy has the same bytes, so the dashboard and
    ``uploads.inspect_file`` remember its verdict instead of starting a child process for each copy."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.keras"
        tiny_keras_model(input_size).save(path)
        return path.read_bytes()


def save_tiny(path: Path, input_size: int | None = None) -> Path:
    """Write the tiny model as a Keras 3 file; return its path."""
    path.write_bytes(tiny_file_bytes(input_size))
    return path


def edited_copy(source: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of a .keras file whose config.json was changed by ``edit`` (a hand-edited file)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            copy.writestr(info.filename, data)
    return target


def layer_config(config: dict, name: str) -> dict:
    """The serialized layer called ``name`` in a Functional model's config."""
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


def pickle_renamed(path: Path) -> Path:
    """A pickle (of harmless data) saved under a .keras name."""
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    return path


def with_layer_field(source: Path, target: Path, layer: str, field: str, value: object) -> Path:
    """A copy of a .keras file whose layer ``layer`` has ``field`` set to ``value`` in its config."""
    def edit(config: dict) -> None:
        layer_config(config, layer)["config"][field] = value

    return edited_copy(source, target, edit)
