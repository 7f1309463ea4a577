"""Your own model: a Keras ``.keras`` file, checked in a separate process before this process loads it.

An uploaded model file is untrusted code. The checks, in order: the file itself without loading it
(``vizcore.model_file``: name, size, zip archive, model description), then Keras's own safe loading and a
look at the loaded model, all in a child process with a time and a memory limit, so a hostile or broken
file can only end that child. Only after a clean verdict does this process load the
file itself: the same static checks again, then ``keras.saving.load_model(safe_mode=True, compile=False)``.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras.src.backend.common import global_state

from vizcore import validate
from vizcore.atomic import write_bytes_atomic
from vizcore.cache import prune_uploads, uploads_dir
from vizcore.errors import InputError
from vizcore.model_file import check_byte_count, check_file, check_file_name, file_sha256, read_config, scan_config
from vizcore.models import LayerInfo, LoadedModel, conv_catalog, get_preprocessing

LOG = logging.getLogger(__name__)

INSPECT_TIMEOUT_S = 90.0   # TensorFlow alone takes 5-20 s to import on a busy 2-core machine
INSPECT_MEMORY_BYTES = 4 * 1024 ** 3      # address space of the child; loading VGG16 needs about 2.3 GB
NOT_INSPECTED = ("The model file could not be inspected (it crashed or took too long): it may be damaged, "
                 "too large for this machine, or made to cause harm.")


@dataclass(frozen=True)
class ModelReport:
    """What inspection found: the model's name, its picture size (None = any), parameter count, conv layers."""

    name: str
    input_size: int | None
    parameters: int
    layers: tuple[LayerInfo, ...]

    def to_json(self) -> dict:
        """Plain JSON values (the child prints this)."""
        return {"name": self.name, "input_size": self.input_size, "parameters": self.parameters,
                "layers": [asdict(info) for info in self.layers]}

    @classmethod
    def from_json(cls, data: object) -> ModelReport:
        """Read what a child printed, checking every type (ValueError if anything is off)."""
        if not isinstance(data, dict):
            raise ValueError("the report is not an object")
        layers = tuple(LayerInfo(str(d["name"]), _whole(d["filters"]), _whole(d["stride"]),
                                 _whole(d["receptive_field"])) for d in data["layers"])
        size = data["input_size"]
        return cls(str(data["name"]), None if size is None else _whole(size), _whole(data["parameters"]), layers)

    def summary(self) -> str:
        """One line: conv layers, picture size and parameter count."""
        size = "any picture size" if self.input_size is None else f"pictures of {self.input_size} px"
        return f"{len(self.layers)} conv layers, {size}, {self.parameters:,} parameters"


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


# ---------------------------------------------------------------- loading and describing

def keras_settings() -> dict[str, object]:
    """Keras's process-wide settings that a model file must not change while it loads."""
    return {"floatx": keras.config.floatx(), "epsilon": keras.config.epsilon(),
            "image_data_format": keras.config.image_data_format(),
            "dtype_policy": keras.config.dtype_policy().name,
            "safe_mode": global_state.get_global_attribute("safe_mode_saving")}


def restore_keras_settings(settings: dict[str, object]) -> None:
    """Put the process-wide settings back."""
    keras.config.set_floatx(settings["floatx"])
    keras.config.set_epsilon(settings["epsilon"])
    keras.config.set_image_data_format(settings["image_data_format"])
    keras.config.set_dtype_policy(settings["dtype_policy"])
    global_state.set_global_attribute("safe_mode_saving", settings["safe_mode"])


@contextlib.contextmanager
def keras_settings_kept(name: str) -> Iterator[None]:
    """Restore Keras's process-wide settings after the block, and refuse the file if it changed them."""
    before = keras_settings()
    try:
        yield
    finally:
        after = keras_settings()
        changed = [key for key in before if after[key] != before[key]]
        if changed:
            restore_keras_settings(before)
    if changed:
        raise InputError(f"{name} tried to change Keras's global settings while loading ({', '.join(changed)}), "
                         "so it is refused.")


def safe_load(path: Path) -> keras.Model:
    """The static checks, then Keras's safe loading, uncompiled, without custom objects."""
    scan_config(read_config(path))
    with keras_settings_kept(path.name):
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    if not isinstance(model, keras.Model):
        raise InputError(f"{path.name} does not hold a Keras model.")
    return model


def describe_model(model: keras.Model) -> ModelReport:
    """Check the model takes one colour picture and has a usable Conv2D layer; list its conv layers."""
    if len(model.inputs) != 1:
        raise InputError(f"The model takes {len(model.inputs)} inputs; it must take exactly one picture.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise InputError(f"The model's input has shape {shape_words(shape)}; it must take colour pictures "
                         "shaped (batch, height, width, 3), channels last.")
    height, width = shape[1], shape[2]
    if height != width:
        raise InputError(f"The model takes pictures shaped {shape_words(shape)}; only square pictures "
                         "(or pictures of any size) are supported.")
    if height is not None and not validate.MIN_SIZE <= height <= validate.MAX_SIZE:
        raise InputError(f"The model takes pictures of {height} x {height} pixels; the explorer makes pictures "
                         f"from {validate.MIN_SIZE} to {validate.MAX_SIZE} pixels.")
    layers = conv_catalog(model)
    if not layers:
        nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
        where = (f" (its layers are inside the nested model '{nested[0]}': save that inner model on its own)"
                 if nested else "")
        raise InputError(f"The model has no Conv2D layer{where}; the explorer shows the filters of Conv2D layers.")
    for info in layers:
        check_conv_layer(model.get_layer(info.name))
    return ModelReport(model.name, height, int(model.count_params()), tuple(layers))


def check_conv_layer(layer: keras.layers.Conv2D) -> None:
    """The explorer's probe needs channels-last, ungrouped, float32 convolutions."""
    if layer.data_format != "channels_last":
        raise InputError(f"Conv layer '{layer.name}' works channels first; only channels-last models are supported.")
    if layer.groups != 1:
        raise InputError(f"Conv layer '{layer.name}' is a grouped convolution, which is not supported yet.")
    if layer.compute_dtype != "float32":
        raise InputError(f"Conv layer '{layer.name}' computes in {layer.compute_dtype}; only float32 models are "
                         "supported.")


def shape_words(shape: tuple) -> str:
    """A model input's shape in plain words, e.g. (batch, 28, 28, 1) or (batch, any, any, 3)."""
    return "(" + ", ".join(["batch", *("any" if size is None else str(size) for size in shape[1:])]) + ")"


def inspect_here(path: str | os.PathLike) -> ModelReport:
    """Every check and a safe load in this process: what the child process runs."""
    return describe_model(safe_load(check_file(path)))


# ---------------------------------------------------------------- the child process

def child_environment() -> dict[str, str]:
    """The child's environment: vizcore importable, no GPU, quiet TensorFlow, web proxies that go nowhere."""
    root = str(Path(__file__).resolve().parents[1])
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    nowhere = "http://127.0.0.1:9"  # best effort: Python's web clients honour these and fail at once
    # Without oneDNN's allocator, a weight too big for the memory limit fails at once instead of after its
    # 10 s of retries; the child only builds the model, so oneDNN's faster maths is of no use to it.
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1",
                TF_ENABLE_ONEDNN_OPTS="0", KERAS_BACKEND="tensorflow", HTTP_PROXY=nowhere, HTTPS_PROXY=nowhere,
                http_proxy=nowhere, https_proxy=nowhere, NO_PROXY="", no_proxy="")


def run_inspector(path: Path, timeout_s: float = INSPECT_TIMEOUT_S,
                  memory_bytes: int = INSPECT_MEMORY_BYTES) -> ModelReport:
    """Inspect the file in a child process with a time and memory limit; its stdout is one JSON verdict."""
    command = [sys.executable, "-m", "vizcore.inspect_model", str(path.resolve())]
    # preexec_fn only calls setrlimit (C code, no Python-level locks), so a busy multi-threaded server cannot
    # deadlock the child between fork and exec
    limit = functools.partial(resource.setrlimit, resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    with tempfile.TemporaryDirectory(prefix="vizcore-inspect-") as work:
        try:
            child = subprocess.run(command, cwd=work, env=child_environment(), stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=timeout_s, preexec_fn=limit, start_new_session=True)
        except subprocess.TimeoutExpired:
            LOG.warning("Inspecting %s took longer than %.0f s; the child was stopped", path.name, timeout_s)
            raise InputError(NOT_INSPECTED) from None
    lines = child.stdout.decode(errors="replace").splitlines()
    try:
        if child.returncode != 0 or len(lines) != 1:
            raise ValueError(f"exit code {child.returncode}, {len(lines)} lines on stdout")
        verdict = json.loads(lines[0])
        if not verdict["ok"]:
            message = verdict["error"]
            if not isinstance(message, str):
                raise ValueError("the error is not text")
            raise InputError(message[:1000])
        return ModelReport.from_json(verdict["report"])
    except (ValueError, KeyError, TypeError) as problem:
        LOG.warning("Inspecting %s failed (%s); stderr tail:\n%s", path.name, problem,
                    child.stderr.decode(errors="replace")[-2000:])
        raise InputError(NOT_INSPECTED) from None


@dataclass(frozen=True)
class Refusal:
    """The child's refusal of a file: its message, which names the file the child was given."""

    message: str
    file_name: str


_inspected: dict[str, ModelReport | Refusal] = {}  # verdicts by the file's SHA-256
_inspected_lock = threading.Lock()


def inspect_file(path: str | os.PathLike, display_name: str | None = None) -> ModelReport:
    """Check a model file in a child process (once per content: verdicts are remembered by SHA-256).

    Messages name the file ``display_name`` (e.g. an upload's own name rather than its stored name).
    """
    path = check_file(path)
    return _inspect(path, file_sha256(path), display_name)


def _child_verdict(path: Path) -> ModelReport | Refusal:
    """The child's report or refusal; a crash or timeout raises, since it may go otherwise on a quieter machine."""
    try:
        return run_inspector(path)
    except InputError as error:
        if str(error) == NOT_INSPECTED:
            raise
        return Refusal(str(error), path.name)


def _inspect(path: Path, digest: str, display_name: str | None) -> ModelReport:
    """``inspect_file`` for a checked file whose SHA-256 is known."""
    with _inspected_lock:
        verdict = _inspected.get(digest)
    if verdict is None:
        verdict = _child_verdict(path)
        with _inspected_lock:
            _inspected[digest] = verdict
    if isinstance(verdict, Refusal):
        raise InputError(verdict.message.replace(verdict.file_name, display_name or path.name))
    return verdict


# ---------------------------------------------------------------- loading for use, and storing uploads

def load_model_file(path: str | os.PathLike, preprocessing: str = "none",
                    display_name: str | None = None) -> LoadedModel:
    """Inspect the file in a child process, then load it here for rendering with the chosen preprocessing.

    The fingerprint is the file's SHA-256 (first 16 hex digits) plus the preprocessing, since both change
    every picture.
    """
    recipe = get_preprocessing(preprocessing)
    path = check_file(path)
    digest = file_sha256(path)
    _inspect(path, digest, display_name)
    keras_model = safe_load(path)
    report = describe_model(keras_model)
    name = display_name or path.name
    description = (f"Your model {name} ({report.summary()}; SHA-256 {digest[:12]}), "
                   f"preprocessing {recipe.name}")
    return LoadedModel(keras_model, report.name, "uploaded", description, f"{digest[:16]}-{recipe.name}",
                       recipe.apply, None, list(report.layers), report.input_size)


def store_upload(data: bytes, name: str) -> Path:
    """Check an upload's name and size, then save it atomically as ``uploads/<sha256>.keras``."""
    check_file_name(name)
    check_byte_count(len(data), name)
    path = uploads_dir() / f"{hashlib.sha256(data).hexdigest()}.keras"
    if path.exists():
        path.touch()  # recently used: pruned last
    else:
        write_bytes_atomic(path, data)
    prune_uploads(keep=path)
    return path


def accept_upload(data: bytes, name: str) -> tuple[Path, ModelReport]:
    """Store an upload and inspect it in a child process; a refused upload's file is deleted at once."""
    path = store_upload(data, name)
    try:
        return path, inspect_file(path, name)
    except InputError:
        path.unlink(missing_ok=True)
        raise
