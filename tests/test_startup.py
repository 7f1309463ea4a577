"""Start-up without TensorFlow: `import vizcore`, `vizcore --help`, argument errors and `vizcore layers` for the
built-in VGG16 never import it; the copies that make this possible are checked against their originals."""
import subprocess
import sys

import pytest

from vizcore import InputError, WeightsError, models, options

# Runs the command line in a fresh process, then says on its last line whether TensorFlow or Keras was imported.
RUN_CLI = """
import contextlib, sys
from vizcore.cli import main
with contextlib.suppress(SystemExit):  # --help and usage errors exit inside argparse
    main(sys.argv[1:])
print("imported:", "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """``python -c code args`` in a fresh process."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, words", [
    (["--help"], "usage: vizcore"),
    (["render", "--help"], f"--method {{{','.join(options.METHODS)}}}"),
    (["dream", "--help"], "sample:chelsea"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["render", "--layer", "block1_conv1", "--filter", "3", "--out", "x.png", "--lr", "nan"], "Learning rate"),
    (["layers", "--model", "hed-vgg16"], "13 conv layers, 4224 filters in total"),
    (["layers"], "13 conv layers, 4224 filters in total"),
])
def test_command_line_answers_without_tensorflow(tmp_path, args, words):
    args = [str(tmp_path / arg) if arg == "x.png" else arg for arg in args]
    done = run_python(RUN_CLI, *args)
    assert words in done.stdout + done.stderr, done.stderr
    assert done.stdout.splitlines()[-1] == "imported: False False", done.stderr


def test_import_vizcore_is_lazy():
    """(That TensorFlow then starts quietly is checked on a real render: test_cli's subprocess runs.)"""
    done = run_python("import sys, vizcore\n"
                      "assert 'tensorflow' not in sys.modules and 'numpy' not in sys.modules\n"
                      "assert vizcore.load_model is vizcore.models.load_model\n"
                      "print('lazy')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lazy"


def test_unknown_names_are_attribute_errors():
    import vizcore

    with pytest.raises(AttributeError, match="no attribute 'Engin'"):
        vizcore.Engin  # noqa: B018


def test_static_catalog_is_the_keras_vgg16_architecture():
    assert models.conv_catalog(models.vgg16_architecture()) == list(models.VGG16_CATALOG)


def test_command_line_options_are_the_engine_values():
    from vizcore import dream
    from vizcore.method_cards import METHOD_CARDS
    from vizcore.methods import METHODS
    from vizcore.objectives import PER_FILTER

    assert options.METHODS == tuple(METHODS)
    assert all(METHODS[name].title == card.title for name, card in METHOD_CARDS.items())
    assert options.OBJECTIVES == tuple(PER_FILTER)
    assert options.DREAM_SAMPLE_PHOTOS == tuple(dream.SAMPLE_PHOTOS)


@pytest.mark.parametrize("reachable, downloaded, expected, note", [
    (True, False, models.IMAGENET_DESCRIPTION, "not downloaded yet"),
    (True, True, models.IMAGENET_DESCRIPTION, None),
    (False, True, models.IMAGENET_DESCRIPTION, None),
    (False, False, models.HED_DESCRIPTION, "cannot reach storage.googleapis.com"),
])
def test_built_in_weights_are_chosen_as_loading_would(tmp_path, monkeypatch, reachable, downloaded, expected, note):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(models, "network_reachable", lambda: reachable)
    if downloaded:
        (tmp_path / "models").mkdir()
        (tmp_path / "models" / models.IMAGENET_FILE).write_bytes(b"")
    description, notice = models.built_in_weights("auto")
    assert description == expected
    assert notice is None if note is None else note in notice
    if expected == models.IMAGENET_DESCRIPTION:
        assert models.built_in_weights("imagenet") == (description, notice)
    else:
        with pytest.raises(WeightsError, match="cannot reach"):
            models.built_in_weights("imagenet")


def test_built_in_weights_of_the_offline_model_and_of_an_unknown_source():
    assert models.built_in_weights("hed-vgg16") == (models.HED_DESCRIPTION, None)
    with pytest.raises(InputError, match="Unknown model source 'resnet'"):
        models.built_in_weights("resnet")


def test_the_fallback_notice_has_a_version_without_command_line_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(models, "network_reachable", lambda: False)
    with pytest.raises(models.ImageNetUnavailable) as raised:
        models.check_imagenet_reachable()
    for_cli, for_page = models.fallback_notice(raised.value), models.fallback_notice(raised.value, advice=False)
    assert for_cli == ("ImageNet weights unavailable, so the offline HED-VGG16 weights are in use. (Could not "
                       "download the ImageNet weights: this machine cannot reach storage.googleapis.com. Use the "
                       "offline weights (--model hed-vgg16), or a VGG16 weights file you already have "
                       "(--weights PATH).)")
    assert for_page == ("ImageNet weights unavailable, so the offline HED-VGG16 weights are in use. (Could not "
                        "download the ImageNet weights: this machine cannot reach storage.googleapis.com.)")


# Draws the dashboard's title and sidebar as app.py does before it loads the engine, in a fresh process, then says
# whether TensorFlow or Keras was imported.
DRAW_CONTROLS = """
import sys
from streamlit.testing.v1 import AppTest

CONTROLS = '''
import streamlit as st
from dashboard.shared import known_layers
from dashboard.sidebar import restore_view, sidebar
st.title("Filter Explorer")
layers = known_layers()
restore_view(layers)
sidebar(st.sidebar, layers, None)
'''
page = AppTest.from_string(CONTROLS)
page.query_params.update(layer="block4_conv2", filter="7", method="lucid")
page.run()
assert not page.exception, page.exception
print("generate:", [button.label for button in page.sidebar.button if button.key == "generate"])
print("layer:", page.sidebar.selectbox(key="layer").value, page.sidebar.number_input(key="filter").value,
      page.sidebar.selectbox(key="method").value)
print("imported:", "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_dashboard_controls_are_drawn_without_tensorflow():
    """The page's controls come before the engine starts (app.py imports it after drawing them)."""
    done = run_python(DRAW_CONTROLS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == ["generate: ['Generate']", "layer: block4_conv2 7 lucid",
                                             "imported: False False"], done.stdout + done.stderr
