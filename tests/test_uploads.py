"""Your own model: a tiny .keras model saved by the test, and malformed or malicious files.

Most refusals are checked with ``inspect_here`` (exactly what the child process runs) in this process, so
they take milliseconds; a few tests go through the real child process (a verdict, a crash, a timeout, a
shape bomb), which costs a TensorFlow start each.
"""
from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_files import edited_copy, layer_config, pickle_renamed, save_tiny, tiny_keras_model
from PIL import Image

from vizcore import cli, examples, metrics, model_file, uploads
from vizcore.dream import dream
from vizcore.errors import InputError
from vizcore.models import PREPROCESSING, LoadedModel, caffe_preprocess, conv_catalog, get_preprocessing
from vizcore.objectives import channels
from vizcore.render import Engine


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-files")


@pytest.fixture(scope="module")
def tiny_file(folder) -> Path:
    return save_tiny(folder / "tiny.keras")


@pytest.fixture(scope="module")
def loaded(tiny_file) -> LoadedModel:
    """The tiny file inspected in a child process, then loaded here (the verdict is remembered)."""
    return uploads.load_model_file(tiny_file, "none")


def refused(path: Path, *words: str) -> str:
    """Inspect ``path`` as the child does; it must be refused with a message containing ``words``."""
    with pytest.raises(InputError) as caught:
        uploads.inspect_here(path)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


# ---------------------------------------------------------------- a good file

def test_the_child_lists_the_tiny_models_conv_layers(tiny_file):
    report = uploads.run_inspector(tiny_file)  # the child itself, even if this file's verdict is remembered
    model = tiny_keras_model()
    assert list(report.layers) == conv_catalog(model)
    assert [info.name for info in report.layers] == ["conv_a", "conv_b"]
    assert report.input_size is None
    assert report.parameters == model.count_params()


def test_the_loaded_model_names_the_file_and_its_hash(loaded, tiny_file):
    digest = model_file.file_sha256(tiny_file)
    assert loaded.weights == "uploaded"
    assert "tiny.keras" in loaded.weights_description and digest[:12] in loaded.weights_description
    assert loaded.fingerprint == f"{digest[:16]}-none"
    assert loaded.preprocess is PREPROCESSING["none"].apply
    assert [info.name for info in loaded.layers] == ["conv_a", "conv_b"]


def test_probe_is_the_pre_activation_with_the_relu_inside_or_after_the_layer(loaded, rng):
    pictures = tf.constant(rng.uniform(0, 255, (2, 24, 24, 3)).astype(np.float32))
    keras_model = loaded.keras_model
    for name, after in (("conv_a", "conv_a"), ("conv_b", "relu_b")):
        expected = keras.Model(keras_model.inputs, keras_model.get_layer(after).output)(pictures).numpy()
        pre_activation = loaded.probe(name)(pictures)
        np.testing.assert_allclose(tf.nn.relu(pre_activation).numpy(), expected, atol=1e-5)
    assert np.any(loaded.probe("conv_b")(pictures).numpy() < 0)  # truly before the separate ReLU
    assert loaded.activation_fn("conv_b") is keras.activations.linear


@pytest.mark.parametrize("layer", ["conv_a", "conv_b"])
def test_the_engine_renders_both_kinds_of_conv_layer(loaded, layer):
    engine = Engine(loaded)
    result = engine.render(engine.settings(channels(layer, [1, 2]), steps=4, size=32))
    assert result.images.shape == (2, 32, 32, 3) and result.images.dtype == np.uint8
    assert result.images.std() > 0
    assert np.all(np.isfinite(result.loss_history)) and result.loss_history.shape == (4, 2)


def test_preprocessing_conventions():
    rgb = tf.constant([[[[0.0, 127.5, 255.0]]]])
    assert get_preprocessing("none").apply(rgb).numpy().tolist() == rgb.numpy().tolist()
    np.testing.assert_allclose(get_preprocessing("tf").apply(rgb).numpy(), [[[[-1.0, 0.0, 1.0]]]])
    torch = get_preprocessing("TORCH").apply(rgb).numpy()[0, 0, 0]
    np.testing.assert_allclose(torch * (0.229, 0.224, 0.225) + (0.485, 0.456, 0.406), [0.0, 0.5, 1.0], atol=1e-6)
    assert get_preprocessing("caffe").apply is caffe_preprocess
    with pytest.raises(InputError, match="none, caffe, torch, tf"):
        get_preprocessing("imagenet")


def test_a_fixed_size_model_allows_only_its_size_and_gets_a_quality_score(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    report = uploads.describe_model(tiny_keras_model(48))
    assert report.input_size == 48
    model = tiny_keras_model(48)
    engine = Engine(LoadedModel(model, "tiny", "uploaded", "tiny", "fixed48", PREPROCESSING["none"].apply,
                                layers=conv_catalog(model), input_size=report.input_size))
    settings = engine.settings(channels("conv_a", [0, 1, 2, 3]), size=48, steps=3)
    with pytest.raises(InputError, match="only takes pictures of 48 x 48 pixels"):
        engine.settings("conv_a:0", size=64)
    result = engine.render(settings)
    scores = metrics.quality_scores(engine.model, "conv_a", list(settings.filters), list(result.images))
    assert any(score is not None and score > 0 for score in scores)  # natural crops were resized to 48 px
    # the features that work on whole photos say plainly that this model cannot be used for them
    with pytest.raises(InputError, match="Finding the photos that excite a filter works on photos of any size, "
                                         "but this model only takes pictures of 48 x 48 pixels"):
        examples.top_examples(engine.model, "conv_a", 0)
    with pytest.raises(InputError, match="DeepDream works on photos of any size"):
        next(dream(engine.model, np.zeros((64, 64, 3), np.uint8), "conv_a"))


# ---------------------------------------------------------------- refused files

@pytest.mark.parametrize("name, words", [
    ("model.txt", ["only Keras 3 .keras files"]),
    ("model.pkl", ["pickle", "never accepted"]),
    ("saved_model.pb", ["SavedModel"]),
    ("model.weights.h5", ["legacy .h5 files are not accepted because Keras's safe mode does not protect them"]),
])
def test_wrong_extensions_are_refused_by_name(folder, name, words):
    path = folder / name
    path.write_bytes(b"anything")
    refused(path, *words)


def test_a_legacy_h5_model_saved_by_keras_is_refused(folder):
    path = folder / "legacy.h5"
    tiny_keras_model().save(path)
    refused(path, "legacy .h5 files are not accepted", "model.save('name.keras')")
    renamed = folder / "legacy-renamed.keras"
    renamed.write_bytes(path.read_bytes())
    refused(renamed, "legacy .h5")


def test_a_savedmodel_folder_is_refused(folder):
    (folder / "exported").mkdir()
    refused(folder / "exported", "is a folder", "SavedModel")


def test_a_truncated_zip_is_refused(folder, tiny_file):
    path = folder / "cut.keras"
    path.write_bytes(tiny_file.read_bytes()[: tiny_file.stat().st_size // 2])
    refused(path, "damaged or cut short")


def test_a_pickle_renamed_keras_is_refused(folder):
    refused(pickle_renamed(folder / "pickled.keras"), "pickle")


def test_a_zip_without_config_is_refused(folder):
    path = folder / "empty-zip.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    refused(path, "no config.json")


def test_a_zip_bomb_is_refused_before_unpacking(folder):
    path = folder / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:  # level 1: twice as fast
        archive.writestr("config.json", "{}")
        with archive.open("model.weights.h5", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(model_file.MAX_UNPACKED_BYTES // len(zeros) + 1):
                member.write(zeros)
    assert path.stat().st_size < 5_000_000
    refused(path, "zip bomb")


def test_too_many_members_and_unsafe_paths_are_refused(folder):
    many = folder / "many.keras"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(model_file.MAX_MEMBERS + 1):
            archive.writestr(f"part{i}", "")
    refused(many, "holds 65 files")
    escaping = folder / "escaping.keras"
    with zipfile.ZipFile(escaping, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("../../etc/cron.d/evil", "")
    refused(escaping, "unsafe path", "../../etc/cron.d/evil")


def test_a_file_over_the_size_limit_is_refused_before_reading(folder):
    path = folder / "huge.keras"
    with open(path, "wb") as stream:  # sparse: no disk space used
        stream.truncate(model_file.MAX_MODEL_BYTES + 1)
    refused(path, "model files can be at most 200 MB")


def test_a_lambda_layer_is_refused_by_the_scan(folder):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2, name="double")(x)
    path = folder / "lambda.keras"
    keras.Model(inputs, x).save(path)
    refused(path, "Layer 'double' is a Lambda layer")


def test_a_registered_custom_layer_is_refused(folder):
    @keras.saving.register_keras_serializable(package="test_uploads")
    class Shift(keras.layers.Layer):
        def call(self, x):
            return x + 1.0

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    path = folder / "custom.keras"
    keras.Model(inputs, Shift(name="shift")(x)).save(path)
    refused(path, "Layer 'shift' is a custom object (test_uploads>Shift)")


def test_a_tfsmlayer_is_refused(folder, tiny_file):
    def edit(config: dict) -> None:
        layer_config(config, "relu_b")["class_name"] = "TFSMLayer"

    refused(edited_copy(tiny_file, folder / "tfsm.keras", edit), "Layer 'relu_b' is a TFSMLayer")


@pytest.fixture
def canary(tmp_path, monkeypatch) -> Path:
    """An importable module whose function leaves a file behind if it is ever called."""
    ring = tmp_path / "rang"
    (tmp_path / "vizcanary.py").write_text(
        f"from pathlib import Path\n\ndef ring(*args, **kwargs):\n    Path({str(ring)!r}).write_text('rang')\n"
        "    return args[0] if args else None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return ring


def test_a_function_from_outside_keras_is_refused_and_never_runs(folder, tiny_file, canary):
    def edit(config: dict) -> None:
        layer_config(config, "conv_b")["config"]["activation"] = {
            "module": "vizcanary", "class_name": "function", "config": "ring", "registered_name": "ring"}

    path = edited_copy(tiny_file, folder / "outside.keras", edit)
    refused(path, "Layer 'conv_b' refers to vizcanary.ring in its activation; only Keras's own activations")
    # Even if it slipped past our scan, Keras's safe mode refuses it, and the function never runs.
    import vizcanary  # noqa: F401  (importable: the refusal is not just a failed import)

    with pytest.raises((TypeError, ValueError)):
        keras.saving.load_model(path, safe_mode=True, compile=False)
    assert not canary.exists()


def test_a_python_lambda_hidden_in_a_config_is_refused(folder, tiny_file):
    def edit(config: dict) -> None:
        layer_config(config, "conv_a")["config"]["activation"] = {
            "class_name": "__lambda__", "config": {"code": "AAAA", "defaults": None, "closure": None}}

    refused(edited_copy(tiny_file, folder / "hidden-lambda.keras", edit), "Layer 'conv_a' holds a Python function")


def test_a_model_whose_input_is_not_a_picture_is_refused(folder):
    inputs = keras.Input((10,))
    path = folder / "table.keras"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    refused(path, "input has shape (batch, 10)", "colour pictures")
    grey = keras.Input((32, 32, 1))
    keras.Model(grey, keras.layers.Conv2D(2, 3)(grey)).save(path)
    refused(path, "(batch, 32, 32, 1)")


def test_a_model_without_conv_layers_is_refused(folder):
    inputs = keras.Input((32, 32, 3))
    path = folder / "dense.keras"
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs))).save(path)
    refused(path, "no Conv2D layer")


def test_a_file_that_changes_keras_settings_is_refused_and_they_are_restored():
    before = keras.config.floatx()
    with pytest.raises(InputError, match="tried to change Keras's global settings while loading \\(floatx\\)"):
        with uploads.keras_settings_kept("evil.keras"):
            keras.config.set_floatx("float16")
    assert keras.config.floatx() == before


# ---------------------------------------------------------------- the child process

def test_a_shape_bomb_ends_in_a_plain_message_and_the_caller_survives(folder, tiny_file):
    def edit(config: dict) -> None:
        layer_config(config, "conv_b")["config"]["filters"] = 2 ** 31  # a 3x3x4x2^31 kernel: 300 GB

    path = edited_copy(tiny_file, folder / "shape-bomb.keras", edit)
    with pytest.raises(InputError, match="more memory than a model file may use|could not be inspected"):
        uploads.inspect_file(path)
    assert float(tf.reduce_sum(tf.ones(3))) == 3.0  # this process still works


@pytest.mark.parametrize("limits", [{"memory_bytes": 300 * 1024 ** 2}, {"timeout_s": 0.5}],
                         ids=["memory-limit-crash", "timeout"])
def test_a_crashing_or_slow_child_gives_the_plain_message(tiny_file, limits):
    with pytest.raises(InputError, match=r"could not be inspected \(it crashed or took too long\)"):
        uploads.run_inspector(tiny_file, **limits)
    assert os.getpid() and tiny_file.exists()


def counting(inspector: Callable[[Path], uploads.ModelReport], calls: list[Path]) -> Callable:
    """The real inspector, noting each file it is given in ``calls``."""
    def inspect(path: Path) -> uploads.ModelReport:
        calls.append(path)
        return inspector(path)
    return inspect


def test_a_refusal_is_remembered_by_content_and_names_the_new_file(folder, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(uploads, "run_inspector", counting(uploads.run_inspector, calls))
    first = pickle_renamed(folder / "first.keras")  # the same bytes as other tests' pickles: maybe known already
    with pytest.raises(InputError, match="^first.keras is a pickle"):
        uploads.inspect_file(first)
    inspected = len(calls)
    second = folder / "second.keras"
    second.write_bytes(first.read_bytes())
    with pytest.raises(InputError, match="^second.keras is a pickle"):
        uploads.inspect_file(second)
    with pytest.raises(InputError, match="^my upload.keras is a pickle"):
        uploads.inspect_file(second, "my upload.keras")
    assert len(calls) == inspected <= 1  # no child process for bytes already inspected


def test_a_crash_or_timeout_is_not_remembered(folder, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(uploads, "run_inspector",
                        counting(functools.partial(uploads.run_inspector, timeout_s=0.5), calls))
    path = folder / "never-finished.keras"
    path.write_bytes(os.urandom(64))  # bytes no other test inspects
    for _ in range(2):  # a busy moment must not refuse the file for good
        with pytest.raises(InputError, match="could not be inspected"):
            uploads.inspect_file(path)
    assert calls == [path, path]


# ---------------------------------------------------------------- storing uploads

def test_uploads_are_stored_by_hash_atomically(tmp_path, monkeypatch, tiny_file):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    data = tiny_file.read_bytes()
    path = uploads.store_upload(data, "my model.keras")
    assert path == tmp_path / "uploads" / f"{model_file.file_sha256(tiny_file)}.keras"
    assert path.read_bytes() == data
    assert uploads.store_upload(data, "again.keras") == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    with pytest.raises(InputError, match="legacy .h5"):
        uploads.store_upload(data, "model.h5")


def test_the_childs_refusal_names_the_upload_which_is_deleted_at_once_and_an_accepted_one_kept(
        tmp_path, monkeypatch, tiny_file):
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="^weights.keras is a pickle"):  # the child's words, the upload's name
        uploads.accept_upload(pickle_renamed(tmp_path / "weights.keras").read_bytes(), "weights.keras")
    assert list(uploads.uploads_dir().iterdir()) == []
    path, report = uploads.accept_upload(tiny_file.read_bytes(), "tiny.keras")
    assert list(uploads.uploads_dir().iterdir()) == [path]
    assert [info.name for info in report.layers] == ["conv_a", "conv_b"]


# ---------------------------------------------------------------- the command line

def test_cli_lists_the_layers_of_a_model_file(tiny_file, capsys):
    assert cli.main(["layers", "--model-file", str(tiny_file), "--preprocess", "none"]) == 0
    out = capsys.readouterr().out
    assert "Your model tiny.keras" in out and "conv_a" in out and "conv_b" in out


def test_cli_renders_a_model_file_at_its_own_size(folder, tmp_path, capsys):
    fixed = save_tiny(folder / "fixed48.keras", input_size=48)
    out = tmp_path / "picture.png"
    code = cli.main(["render", "--model-file", str(fixed), "--preprocess", "tf", "--layer", "conv_b",
                     "--filter", "1", "--steps", "3", "--out", str(out), "--no-cache"])
    assert code == 0, capsys.readouterr().err
    with Image.open(out) as picture:
        assert picture.size == (48, 48)
    assert "weights uploaded" in capsys.readouterr().out
    code = cli.main(["render", "--model-file", str(fixed), "--layer", "conv_b", "--filter", "1", "--size", "64",
                     "--out", str(out), "--no-cache"])
    assert code == 2 and "error: This model only takes pictures of 48 x 48 pixels" in capsys.readouterr().err


@pytest.mark.parametrize("name, words", [("model.h5", "legacy .h5"), ("model.onnx", "not a Keras 3 model file")])
def test_cli_bad_model_files_exit_2_with_one_error_line(folder, capsys, name, words):
    path = folder / name
    path.write_bytes(b"not a model")
    assert cli.main(["layers", "--model-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err
