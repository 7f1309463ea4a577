"""What is inside a model file, checked without loading it: the name, the size, the zip archive and the
model description ``config.json``.

Keras never reads the file here: an uploaded model file is untrusted, so these checks decide as much as
possible before Keras ever reads it. Keras's public modules only supply the names a description may refer
to (its layers, operations, activations, ...). Each failure is an InputError in plain words naming the problem.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import os
import stat
import types
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import keras

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


# ---------------------------------------------------------------- what the model description may refer to

LAYER, ACTIVATION, INITIALIZER, REGULARIZER, CONSTRAINT, QUANTIZER, DTYPE = (
    "layer", "activation", "initializer", "regularizer", "constraint", "quantizer", "dtype")
FIELD_ROLES = {"activation": ACTIVATION, "initializer": INITIALIZER, "regularizer": REGULARIZER,
               "constraint": CONSTRAINT, "quantizer": QUANTIZER, "quantization_config": QUANTIZER}  # name endings
TEXT_ROLES = {ACTIVATION: "keras.activations", INITIALIZER: "keras.initializers",  # may be named as plain text
              REGULARIZER: "keras.regularizers", CONSTRAINT: "keras.constraints"}
ROLE_WORDS = {LAYER: "built-in layers and operations", ACTIVATION: "activations", INITIALIZER: "initializers",
              REGULARIZER: "regularizers", CONSTRAINT: "constraints", QUANTIZER: "quantizers",
              DTYPE: "dtype policies"}
FUNCTIONAL = "keras.src.models.functional.Functional"  # how Keras itself names a functional model in its files
PLAIN_VALUES = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"})
FOREIGN_CODE = "wraps code of another framework, which is never run from an uploaded file."
OUTSIDE_FILE = "can read its vocabulary from a file outside the model file, which is not accepted."
REFUSED_OBJECTS = {
    "Lambda": "is a Lambda layer: it holds Python code, which is never run from an uploaded file. Rebuild the model "
              "with Keras's built-in layers only.",
    "__lambda__": "holds a Python function (a lambda), which is never run from an uploaded file.",
    "TFSMLayer": "is a TFSMLayer: it loads a TensorFlow SavedModel from outside the file, which is not accepted.",
    **{name: f"is a {name}: it {FOREIGN_CODE}" for name in ("TorchModuleWrapper", "JaxLayer", "FlaxLayer")},
    **{name: f"is a {name}: it {OUTSIDE_FILE}" for name in ("StringLookup", "IntegerLookup", "TextVectorization")},
}
MAX_SHOWN = 120  # characters of a hostile name quoted in a message


def scan_config(config: dict) -> None:
    """Refuse, naming the layer and the field, anything in the description that is not Keras's own.

    Every serialized object (a dict with a ``class_name``) must be one of the names Keras's public modules
    offer for where it stands: a layer, model or operation; under ``*activation`` an activation, under
    ``*initializer``, ``*regularizer``, ``*constraint`` and ``*quantizer`` one of those, under ``dtype`` a
    dtype policy. Names given as plain text in those fields are checked too. The whole description is scanned
    except ``compile_config`` (optimizer, losses), which is never read because models load with ``compile=False``.
    """
    root = {key: value for key, value in config.items() if key != "compile_config"}
    pending: list[tuple[object, str, str, str]] = [(root, "the model", "", LAYER)]
    while pending:
        node, owner, field, role = pending.pop()
        if isinstance(node, list):
            pending.extend((item, owner, field, role) for item in node)
        elif isinstance(node, str):
            check_named(node, owner, field)
        elif isinstance(node, dict):
            if "class_name" in node:
                owner = check_reference(node, owner, field, role)
            pending.extend((value, owner, key, field_role(key, role)) for key, value in node.items())


def named_role(field: str) -> str | None:
    """The role a field's name gives it: ``recurrent_activation`` holds an activation, ``kernel_initializer``
    an initializer; None for other fields."""
    return next((role for ending, role in FIELD_ROLES.items() if field.endswith(ending)), None)


def field_role(field: str, enclosing: str) -> str:
    """What objects under ``field`` may be: its named role, a dtype policy, else what its enclosing object may be."""
    return DTYPE if field == "dtype" else named_role(field) or enclosing


def check_named(value: str, owner: str, field: str) -> None:
    """A name written as plain text in a role's field (``"activation": "relu"``) must be one of that role's."""
    role = named_role(field)
    if role in TEXT_ROLES and f"{TEXT_ROLES[role]}.{value}" not in allowed_references()[role]:
        raise InputError(f"{capitalized(owner)} refers to '{value[:MAX_SHOWN]}' in its {field}; only Keras's own "
                         f"{ROLE_WORDS[role]} are allowed.")


def check_reference(node: dict, owner: str, field: str, role: str) -> str:
    """One serialized object found under ``field``: refused unless Keras's own for that ``role``.

    Returns the label of the layer that the objects inside it belong to (itself, if it is a named layer).
    """
    class_name = str(node["class_name"])
    inner = node.get("config")
    name = inner.get("name") if isinstance(inner, dict) and role == LAYER else None
    label = f"layer '{name[:MAX_SHOWN]}'" if isinstance(name, str) else owner
    what = capitalized(label)
    if class_name in REFUSED_OBJECTS:
        raise InputError(f"{what} {REFUSED_OBJECTS[class_name]}")
    registered = node.get("registered_name")
    if (isinstance(registered, str) and ">" in registered) or ("module" in node and node["module"] is None):
        raise InputError(f"{what} is a custom object ({str(registered or class_name)[:MAX_SHOWN]}): uploaded models "
                         "may only use Keras's built-in layers, because a custom object's code would have to be "
                         "trusted.")
    if role == LAYER and class_name in PLAIN_VALUES and "module" not in node:
        return label  # a tensor, array, bytes or slice written out as data
    is_function = class_name == "function"
    own_name = node.get("config") if is_function else class_name
    module = node.get("module")
    target = f"{module}.{own_name}" if module else str(own_name)
    if (target in allowed_references()[role] and is_function == (role == ACTIVATION)
            and registered in (None, own_name)):
        return label
    if registered not in (None, own_name):
        target = f"{target} (registered as {str(registered)!r})"
    target = target[:MAX_SHOWN]
    if label != owner:
        raise InputError(f"{what} is {target}, which is not one of Keras's {ROLE_WORDS[LAYER]}: uploaded models "
                         "may only use those.")
    where = f" in its {field}" if field else ""
    raise InputError(f"{capitalized(owner)} refers to {target}{where}; only Keras's own {ROLE_WORDS[role]} are "
                     "allowed" + (" there." if role == LAYER else "."))


def capitalized(label: str) -> str:
    """``layer 'conv1'`` → ``Layer 'conv1'`` (the name itself unchanged)."""
    return label[:1].upper() + label[1:]


@functools.cache
def allowed_references() -> dict[str, frozenset[str]]:
    """The dotted names each role may refer to, read from Keras's public modules.

    Only real members of each role count (activations that ``keras.activations.get`` finds by name; subclasses
    of the role's base class), so helpers such as ``get``, ``serialize`` and ``deserialize`` never do.
    """
    is_layer = subclass_of(keras.Layer)
    is_policy = subclass_of(keras.DTypePolicy)
    return {
        LAYER: frozenset(name for name in {
            FUNCTIONAL, *public_members("keras", is_layer), *public_members("keras.layers", is_layer),
            *classes_behind(keras.ops, keras.Operation), *classes_behind(keras.applications, keras.Layer)}
            if name.rpartition(".")[2] not in REFUSED_OBJECTS),
        ACTIVATION: frozenset(public_members(TEXT_ROLES[ACTIVATION], is_activation)),
        INITIALIZER: frozenset(public_members(TEXT_ROLES[INITIALIZER], subclass_of(keras.initializers.Initializer))),
        REGULARIZER: frozenset(public_members(TEXT_ROLES[REGULARIZER], subclass_of(keras.regularizers.Regularizer))),
        CONSTRAINT: frozenset(public_members(TEXT_ROLES[CONSTRAINT], subclass_of(keras.constraints.Constraint))),
        QUANTIZER: frozenset(public_members("keras.quantizers", subclass_of(
            (keras.quantizers.QuantizationConfig, keras.quantizers.Quantizer)))),
        DTYPE: frozenset({*public_members("keras", is_policy), *public_members("keras.dtype_policies", is_policy)}),
    }


def public_members(module_name: str, keep: Callable[[object], bool]) -> set[str]:
    """``module.name`` of each public member of a module that ``keep`` accepts."""
    module = importlib.import_module(module_name)
    return {f"{module_name}.{name}" for name, member in inspect.getmembers(module)
            if not name.startswith("_") and keep(member)}


def subclass_of(base: type | tuple[type, ...], module: str | None = None) -> Callable[[object], bool]:
    """A test for classes derived from ``base`` (or one of several), defined in ``module`` if one is given."""
    return lambda member: (inspect.isclass(member) and issubclass(member, base)
                           and module in (None, member.__module__))


def is_activation(member: object) -> bool:
    """A function that ``keras.activations.get`` finds by its own name."""
    try:
        return inspect.isfunction(member) and keras.activations.get(member.__name__) is member
    except ValueError:
        return False


def classes_behind(api: types.ModuleType, base: type) -> set[str]:
    """Classes derived from ``base`` in the Keras modules behind a public module's functions: the operations a
    functional model saves for ``x * 2`` (``keras.src.ops.numpy.Multiply``), the helper layers of
    ``keras.applications`` models (``keras.src.applications.convnext.LayerScale``)."""
    modules = {function.__module__ for _, function in inspect.getmembers(api, inspect.isfunction)}
    return {name for module in modules if module.startswith("keras.src.")
            for name in public_members(module, subclass_of(base, module))}
