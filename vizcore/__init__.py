"""vizcore: feature visualisation of CNN filters by gradient ascent (engine for Filter Explorer).

TensorFlow is imported only where it is needed: the engine's names below load on first use, so
`import vizcore` and the command line's `--help` answer at once.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType

from vizcore.errors import InputError, VizError, WeightsError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

_ENGINE_NAMES = {"METHODS": "vizcore.methods", "get_method": "vizcore.methods", "LayerInfo": "vizcore.models",
                 "LoadedModel": "vizcore.models", "load_model": "vizcore.models", "Engine": "vizcore.render",
                 "Frame": "vizcore.render", "RenderResult": "vizcore.render", "Settings": "vizcore.render",
                 "Objective": "vizcore.algebra", "parse": "vizcore.spec",
                 **dict.fromkeys(("blend", "channel", "channels", "deepdream", "direction", "diversity", "neuron",
                                  "with_diversity"),
                                 "vizcore.objectives")}

__all__ = ["METHODS", "Engine", "Frame", "InputError", "LayerInfo", "LoadedModel", "Objective", "RenderResult",
           "Settings", "VizError", "WeightsError", "blend", "channel", "channels", "deepdream", "direction",
           "diversity", "get_method", "load_model", "neuron", "parse", "with_diversity"]


def __getattr__(name: str) -> object:
    """The engine's names (``vizcore.Engine``, ``vizcore.load_model``, ...), imported on first use (PEP 562)."""
    if name not in _ENGINE_NAMES:
        raise AttributeError(f"module 'vizcore' has no attribute '{name}'")
    value = getattr(importlib.import_module(_ENGINE_NAMES[name]), name)
    globals()[name] = value
    return value


@contextlib.contextmanager
def _stderr_hidden() -> Iterator[None]:
    """Hide what is written to file descriptor 2 (C++ code too); show it after all if the block fails."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietTensorFlowLoader(importlib.machinery.SourceFileLoader):
    """Runs TensorFlow's ``__init__`` and its device probing with their C++ start-up lines hidden.

    TF_CPP_MIN_LOG_LEVEL cannot silence them (oneDNN, CUDA probing, cuInit on CPU-only machines).
    """

    def exec_module(self, module: ModuleType) -> None:
        with _stderr_hidden():
            super().exec_module(module)
            module.config.list_physical_devices()


class _QuietTensorFlowFinder:
    """Makes the first ``import tensorflow``, wherever it happens, go through the quiet loader."""

    @staticmethod
    def find_spec(name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """TensorFlow's own spec with the quiet loader; None (ask the next finder) for anything else."""
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _QuietTensorFlowLoader(spec.loader.name, spec.loader.path)
        return spec


if "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
