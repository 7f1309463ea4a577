"""vizcore: feature visualisation of CNN filters by gradient ascent (engine for Filter Explorer)."""
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) hidden.

    TF_CPP_MIN_LOG_LEVEL cannot silence them. If the import fails, what it printed is shown after all.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # device probing prints too (cuInit on CPU-only machines)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_import_tensorflow_quietly()

from vizcore.errors import InputError, VizError, WeightsError  # noqa: E402
from vizcore.methods import METHODS, get_method  # noqa: E402
from vizcore.models import LayerInfo, LoadedModel, load_model  # noqa: E402
from vizcore.render import Engine, Frame, RenderResult, Settings  # noqa: E402

__all__ = ["METHODS", "Engine", "Frame", "InputError", "LayerInfo", "LoadedModel", "RenderResult", "Settings",
           "VizError", "WeightsError", "get_method", "load_model"]
