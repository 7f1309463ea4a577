"""Your own model: a Keras ``.keras`` file, checked in a separate process before this process loads it.

An uploaded model file is untrusted code. The checks, in order: the name (only ``.keras``), the size, the
zip archive (number, sizes and paths of its members), the model description ``config.json`` (only Keras's
built-in layers: no Lambda, no TFSMLayer, no custom objects, nothing from outside Keras), then Keras's own
safe loading and a look at the loaded model, all in a child process with a time and a memory limit, so a
hostile or broken file can only end that child. Only after a clean verdict does this process load the
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
import stat
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import keras
from keras.src.backend.common import global_state

from vizcore import validate
from vizcore.atomic import cache_dir, write_bytes_atomic
from vizcore.errors import InputError
from vizcore.models import LayerInfo, LoadedModel, conv_catalog, get_preprocessing

LOG = logging.getLogger(__name__)

MAX_MODEL_BYTES = 200 * 1024 * 1024       # also Streamlit's server.maxUploadSize (MB) in .streamlit/config.toml
MAX_MEMBERS = 64                          # a .keras file holds config.json, metadata.json, model.weights.h5
MAX_UNPACKED_BYTES = 2 * MAX_MODEL_BYTES  # zip-bomb guard: Keras stores its members uncompressed
MAX_CONFIG_BYTES = 16 * 1024 * 1024
INSPECT_TIMEOUT_S = 90.0   # TensorFlow alone takes 5-20 s to import on a busy 2-core machine
INSPECT_MEMORY_BYTES = 4 * 1024 ** 3      # address space of the child; loading VGG16 needs about 2.3 GB
SAVE_HINT = "save your model with model.save('name.keras') and use that file"
NOT_INSPECTED = ("The model file could not be inspected (it crashed or took too long): it may be damaged, "
                 "too large for this machine, or made to cause harm.")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth")
SAVEDMODEL_SUFFIXES = (".pb", ".savedmodel", ".tflite", ".onnx")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PICKLE_MAGIC = b"\x80"
KERAS_SETTING_NAMES = ("floatx", "epsilon", "image_data_format", "dtype_policy", "safe_mode")


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


# ---------------------------------------------------------------- checks before anything is unpacked

def check_file_name(name: str) -> None:
    """Only ``.keras`` files; other kinds each get their own reason."""
    suffix = Path(name).suffix.lower()
    if suffix == ".keras":
        return
    if suffix in (".h5", ".hdf5"):
        raise InputError(f"{name}: legacy .h5 files are not accepted because Keras's safe mode does not protect "
                         "them; re-save with model.save('name.keras').")
    if suffix in PICKLE_SUFFIXES:
        raise InputError(f"{name} is a pickle file: opening one can run any code, so pickles are never accepted; "
                         f"{SAVE_HINT}.")
    if suffix in SAVEDMODEL_SUFFIXES:
        raise InputError(f"{name} is not a Keras 3 model file (SavedModel, TF Lite and ONNX files are not "
                         f"accepted); {SAVE_HINT}.")
    raise InputError(f"{name} is not a Keras model file: only Keras 3 .keras files are accepted; {SAVE_HINT}.")


def check_byte_count(size: int, name: str) -> None:
    """Not empty and at most MAX_MODEL_BYTES."""
    if size == 0:
        raise InputError(f"{name} is empty.")
    if size > MAX_MODEL_BYTES:
        raise InputError(f"{name} is {size / 1e6:.1f} MB; model files can be at most "
                         f"{MAX_MODEL_BYTES // (1024 * 1024)} MB.")


def check_file(path: str | os.PathLike) -> Path:
    """An existing ``.keras`` file within the size limit (checked before reading it); returns the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path.name} is a folder (a TensorFlow SavedModel?): only a single Keras 3 .keras file "
                         f"is accepted; {SAVE_HINT}.")
    check_file_name(path.name)
    if not path.is_file():
        raise InputError(f"There is no file {path}.")
    check_byte_count(path.stat().st_size, path.name)
    return path


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's contents (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- the archive and its model description

def check_members(members: list[zipfile.ZipInfo], name: str) -> None:
    """Few members, a bounded unpacked size, no absolute, ``..`` or link paths."""
    if len(members) > MAX_MEMBERS:
        raise InputError(f"{name} holds {len(members)} files; a Keras model file holds only a few, so it is refused.")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise InputError(f"{name} would unpack to {unpacked / 1e6:.0f} MB (more than "
                         f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB): it looks like a zip bomb, so it is refused.")
    for member in members:
        path = member.filename.replace("\\", "/")
        if path.startswith("/") or ".." in PurePosixPath(path).parts or path[1:2] == ":":
            raise InputError(f"{name} contains a file with an unsafe path ({member.filename!r}), so it is refused.")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise InputError(f"{name} contains a link ({member.filename!r}), so it is refused.")


def read_config(path: Path) -> dict:
    """The parsed ``config.json`` of a ``.keras`` archive, after the archive checks (InputError otherwise)."""
    name = path.name
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head.startswith(HDF5_MAGIC):
        raise InputError(f"{name} is a legacy .h5 file renamed to .keras: legacy .h5 files are not accepted "
                         "because Keras's safe mode does not protect them; re-save with model.save('name.keras').")
    if head.startswith(PICKLE_MAGIC):
        raise InputError(f"{name} is a pickle renamed to .keras: pickles can run any code, so they are never "
                         f"accepted; {SAVE_HINT}.")
    try:
        with zipfile.ZipFile(path) as archive:
            check_members(archive.infolist(), name)
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise InputError(f"{name} has no config.json inside: it is not a Keras 3 model file; "
                                 f"{SAVE_HINT}.") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise InputError(f"The model description (config.json) in {name} is {info.file_size / 1e6:.0f} MB; "
                                 f"at most {MAX_CONFIG_BYTES // (1024 * 1024)} MB is accepted.")
            with archive.open(info) as stream:
                text = stream.read(MAX_CONFIG_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError):
        raise InputError(f"{name} is not a valid .keras file: the zip archive is damaged or cut short "
                         "(or it is not a zip archive at all).") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"The model description (config.json) in {name} is not valid JSON.") from None
    if not isinstance(config, dict):
        raise InputError(f"The model description (config.json) in {name} is not a Keras model description.")
    return config


def scan_config(config: dict) -> None:
    """Refuse, naming the layer, anything in the description that could run code or comes from outside Keras.

    The whole description is scanned except ``compile_config`` (optimizer, losses), which is never read
    because models are loaded with ``compile=False``.
    """
    pending: list[tuple[object, str]] = [({k: v for k, v in config.items() if k != "compile_config"}, "the model")]
    while pending:
        node, layer = pending.pop()
        if isinstance(node, list):
            pending.extend((item, layer) for item in node)
        elif isinstance(node, dict):
            if isinstance(node.get("class_name"), str):
                inner = node.get("config")
                if isinstance(inner, dict) and "trainable" in inner and isinstance(inner.get("name"), str):
                    layer = f"layer '{inner['name']}'"  # layers (and models) always say whether they train
                check_object(node, layer)
            pending.extend((value, layer) for value in node.values())


def check_object(node: dict, layer: str) -> None:
    """One serialized object: no Lambda/TFSMLayer/Python function, no custom object, only Keras modules."""
    class_name = node["class_name"]
    what = layer[0].upper() + layer[1:]
    if class_name == "Lambda":
        raise InputError(f"{what} is a Lambda layer: it holds Python code, which is never run from an uploaded "
                         "file. Rebuild the model with Keras's built-in layers only.")
    if class_name == "TFSMLayer":
        raise InputError(f"{what} is a TFSMLayer: it loads a TensorFlow SavedModel from outside the file, which "
                         "is not accepted.")
    if class_name == "__lambda__":
        raise InputError(f"{what} holds a Python function (a lambda), which is never run from an uploaded file.")
    registered = node.get("registered_name")
    module = node.get("module", "keras")
    if (isinstance(registered, str) and ">" in registered) or ("module" in node and module is None):
        raise InputError(f"{what} is a custom object ({registered or class_name}): uploaded models may only use "
                         "Keras's built-in layers, because a custom object's code would have to be trusted.")
    keras_module = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    if not keras_module and not (module == "builtins" and class_name == "function"):
        raise InputError(f"{what} names code from outside Keras (module '{module}', '{class_name}'): uploaded "
                         "models may only use Keras's built-in layers.")


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
        changed = [key for key in KERAS_SETTING_NAMES if after[key] != before[key]]
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
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1",
                KERAS_BACKEND="tensorflow", HTTP_PROXY=nowhere, HTTPS_PROXY=nowhere, http_proxy=nowhere,
                https_proxy=nowhere, NO_PROXY="", no_proxy="")


def run_inspector(path: Path, timeout_s: float = INSPECT_TIMEOUT_S,
                  memory_bytes: int = INSPECT_MEMORY_BYTES) -> ModelReport:
    """Inspect the file in a child process with a time and memory limit; its stdout is one JSON verdict."""
    command = [sys.executable, "-m", "vizcore.inspect_model", str(path.resolve())]
    # preexec_fn is a single C call, so it cannot deadlock on a lock another thread held at fork time
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


_inspected: dict[str, ModelReport] = {}
_inspected_lock = threading.Lock()


def inspect_file(path: str | os.PathLike) -> ModelReport:
    """Check a model file in a child process (once per content: verdicts are remembered by SHA-256)."""
    path = check_file(path)
    digest = file_sha256(path)
    with _inspected_lock:
        known = _inspected.get(digest)
    if known is not None:
        return known
    report = run_inspector(path)
    with _inspected_lock:
        _inspected[digest] = report
    return report


# ---------------------------------------------------------------- loading for use, and storing uploads

def load_model_file(path: str | os.PathLike, preprocessing: str = "none",
                    display_name: str | None = None) -> LoadedModel:
    """Inspect the file in a child process, then load it here for rendering with the chosen preprocessing.

    The fingerprint is the file's SHA-256 (first 16 hex digits) plus the preprocessing, since both change
    every picture.
    """
    recipe = get_preprocessing(preprocessing)
    path = check_file(path)
    inspect_file(path)
    digest = file_sha256(path)
    keras_model = safe_load(path)
    report = describe_model(keras_model)
    name = display_name or path.name
    description = (f"Your model {name} ({report.summary()}; SHA-256 {digest[:12]}), "
                   f"preprocessing {recipe.name}")
    return LoadedModel(keras_model, report.name, "uploaded", description, f"{digest[:16]}-{recipe.name}",
                       recipe.apply, None, list(report.layers), report.input_size)


def uploads_dir() -> Path:
    """Where uploaded model files are kept, named by their SHA-256."""
    return cache_dir() / "uploads"


def store_upload(data: bytes, name: str) -> Path:
    """Check an upload's name and size, then save it atomically as ``uploads/<sha256>.keras``."""
    check_file_name(name)
    check_byte_count(len(data), name)
    path = uploads_dir() / f"{hashlib.sha256(data).hexdigest()}.keras"
    if not path.exists():
        write_bytes_atomic(path, data)
    return path
