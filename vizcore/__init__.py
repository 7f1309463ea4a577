"""vizcore: feature visualisation of CNN filters by gradient ascent (engine for Filter Explorer)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from vizcore.errors import InputError, VizError, WeightsError  # noqa: E402
from vizcore.methods import METHODS, get_method  # noqa: E402
from vizcore.models import LayerInfo, LoadedModel, load_model  # noqa: E402
from vizcore.render import Engine, Frame, RenderResult, Settings  # noqa: E402

__all__ = ["Engine", "Frame", "InputError", "LayerInfo", "LoadedModel", "METHODS", "RenderResult",
           "Settings", "VizError", "WeightsError", "get_method", "load_model"]
