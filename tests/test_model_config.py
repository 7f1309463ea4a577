"""The model description's allow-list: a .keras file may only refer to Keras's own layers, operations,
activations, initializers, regularizers, constraints and dtype policies, each where it belongs.

Hostile files are the tiny saved model with one field of its config.json forged; they are checked with
``inspect_here`` (what the child process runs), and once through the command line's child process.
"""
from __future__ import annotations

from pathlib import Path

import keras
import pytest
from model_files import edited_copy, layer_config, save_tiny, with_layer_field

from vizcore import cli, uploads
from vizcore.errors import InputError
from vizcore.model_file import allowed_references, scan_config

LOAD_DATA = {"module": "keras.datasets.mnist", "class_name": "function", "config": "load_data"}


def keras_function(module: str, name: str) -> dict:
    """A reference to a function as Keras 3 writes one."""
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("model-config") / "tiny.keras")


def refusal(path: Path) -> str:
    """The message ``path`` is refused with, as the child process would refuse it."""
    with pytest.raises(InputError) as caught:
        uploads.inspect_here(path)
    return str(caught.value)


@pytest.mark.parametrize("layer, field, value, message", [
    ("conv_b", "activation", LOAD_DATA, "Layer 'conv_b' refers to keras.datasets.mnist.load_data in its activation; "
                                        "only Keras's own activations are allowed."),
    ("conv_a", "kernel_initializer", LOAD_DATA, "Layer 'conv_a' refers to keras.datasets.mnist.load_data in its "
                                                "kernel_initializer; only Keras's own initializers are allowed."),
    ("conv_a", "activation", keras_function("keras.config", "set_floatx"),
     "Layer 'conv_a' refers to keras.config.set_floatx in its activation"),
    ("conv_b", "activation", keras_function("keras.config", "set_backend"),
     "Layer 'conv_b' refers to keras.config.set_backend in its activation"),
    ("conv_b", "activation", keras_function("keras.activations", "deserialize"),
     "Layer 'conv_b' refers to keras.activations.deserialize in its activation"),
    ("conv_b", "activation", {**keras_function("keras.activations", "relu"), "registered_name": "load_data"},
     "Layer 'conv_b' refers to keras.activations.relu (registered as 'load_data') in its activation"),
    ("conv_b", "activation", "load_data", "Layer 'conv_b' refers to 'load_data' in its activation"),
    ("conv_a", "bias_regularizer", {"module": "keras.utils", "class_name": "get_file", "config": {}},
     "Layer 'conv_a' refers to keras.utils.get_file in its bias_regularizer; only Keras's own regularizers"),
    ("conv_a", "kernel_constraint", keras_function("keras.activations", "relu"),
     "Layer 'conv_a' refers to keras.activations.relu in its kernel_constraint; only Keras's own constraints"),
    ("conv_a", "dtype", LOAD_DATA, "Layer 'conv_a' refers to keras.datasets.mnist.load_data in its dtype"),
], ids=["load_data-activation", "load_data-initializer", "set_floatx", "set_backend", "deserialize",
        "registered-name", "plain-text", "class-as-regularizer", "activation-as-constraint", "dtype"])
def test_a_reference_outside_its_role_is_refused_naming_layer_and_field(tmp_path, tiny_file, layer, field, value,
                                                                        message):
    path = with_layer_field(tiny_file, tmp_path / "forged.keras", layer, field, value)
    assert message in refusal(path)
    assert keras.config.floatx() == "float32" and keras.config.backend() == "tensorflow"


@pytest.mark.parametrize("class_name", ["Conv9D", "Input", "deserialize"])
def test_an_unknown_layer_class_in_the_keras_layers_namespace_is_refused(tmp_path, tiny_file, class_name):
    def edit(config: dict) -> None:
        layer_config(config, "relu_b")["class_name"] = class_name

    message = refusal(edited_copy(tiny_file, tmp_path / "unknown.keras", edit))
    assert message.startswith(f"Layer 'relu_b' is keras.layers.{class_name}, which is not one of Keras's built-in "
                              "layers"), message


def test_a_function_passed_to_a_layer_call_is_refused(tmp_path, tiny_file):
    def edit(config: dict) -> None:
        layer_config(config, "conv_b")["inbound_nodes"][0]["kwargs"]["mask"] = LOAD_DATA

    message = refusal(edited_copy(tiny_file, tmp_path / "call.keras", edit))
    assert message.startswith("Layer 'conv_b' refers to keras.datasets.mnist.load_data in its mask"), message


def test_a_model_of_keras_own_parts_still_passes(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer="he_normal", name="conv1",
                            kernel_regularizer=keras.regularizers.l2(1e-4),
                            kernel_constraint=keras.constraints.max_norm(2.0))(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.Activation("swish", name="swish")(x) * 0.5  # an operation: keras.src.ops.numpy.Multiply
    x = keras.Sequential([keras.layers.Conv2D(2, 1, name="conv2")], name="inner")(x)
    path = tmp_path / "own-parts.keras"
    keras.Model(inputs, keras.layers.Conv2D(3, 1, name="conv3")(x), name="own_parts").save(path)
    assert [info.name for info in uploads.inspect_here(path).layers] == ["conv1", "conv3"]


@pytest.mark.parametrize("application", ["MobileNetV3Small", "ConvNeXtTiny", "EfficientNetB0"])
def test_keras_applications_descriptions_pass_the_scan(application):
    """Operations and hard_swish (MobileNetV3), helper layers of keras.applications (ConvNeXt's LayerScale),
    swish, Normalization and VarianceScaling (EfficientNet)."""
    model = getattr(keras.applications, application)(weights=None, include_top=False)
    scan_config(keras.saving.serialize_keras_object(model))


def test_the_allowed_names_are_keras_own_members_of_each_role():
    allowed = allowed_references()
    assert {"keras.activations.relu", "keras.activations.swish"} <= allowed["activation"]
    assert "keras.initializers.HeNormal" in allowed["initializer"] and "keras.regularizers.L2" in allowed["regularizer"]
    assert "keras.constraints.MaxNorm" in allowed["constraint"] and "keras.layers.Conv2D" in allowed["layer"]
    names = {name.rpartition(".")[2] for names in allowed.values() for name in names}
    assert not names & {"get", "serialize", "deserialize", "load_data", "set_floatx", "Input", "Lambda"}


def test_cli_refuses_a_forged_file_with_exit_2_and_one_sentence(tmp_path, tiny_file, capsys):
    path = with_layer_field(tiny_file, tmp_path / "mnist.keras", "conv_b", "activation", LOAD_DATA)
    assert cli.main(["layers", "--model-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: Layer 'conv_b' refers to keras.datasets.mnist.load_data in its activation; only Keras's "
                   "own activations are allowed.\n")
