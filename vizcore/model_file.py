"""What is inside a model file, checked without loading it: the name, the size, the zip archive and the
model description ``config.json``.

Pure Python (no Keras): an uploaded model file is untrusted, so these checks decide as much as possible
before Keras ever reads it. Each failure is an InputError in plain words naming the problem.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from vizcore.errors import InputError

MAX_MODEL_BYTES = 200 * 1024 * 1024       # also Streamlit's server.maxUploadSize (MB) in .streamlit/config.toml
MAX_MEMBERS = 64                          # a .keras file holds config.json, metadata.json, model.weights.h5
MAX_UNPACKED_BYTES = 2 * MAX_MODEL_BYTES  # zip-bomb guard: Keras stores its members uncompressed
MAX_CONFIG_BYTES = 16 * 1024 * 1024
SAVE_HINT = "save your model with model.save('name.keras') and use that file"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth")
SAVEDMODEL_SUFFIXES = (".pb", ".savedmodel", ".tflite", ".onnx")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PICKLE_MAGIC = b"\x80"


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
