"""Shared fixtures: tiny conv models built in the test, and the real offline VGG16 (loaded once)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from tiny_models import tiny_model

import vizcore
from vizcore.models import LoadedModel


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", action="store_true",
                     help="also write the README's and docs/screenshots/ pictures (make screenshots)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that only make pictures for the docs run with --screenshots alone, so `make test` changes no file."""
    if config.getoption("--screenshots"):
        return
    skip = pytest.mark.skip(reason="makes docs pictures: run `make screenshots`")
    for item in items:
        if "screenshots" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tiny() -> LoadedModel:
    return tiny_model()


@pytest.fixture(scope="session")
def vgg16(tmp_path_factory) -> LoadedModel:
    """The real offline VGG16 (hed-vgg16 weights), converted into a per-session cache folder."""
    os.environ.setdefault("VIZCORE_CACHE", str(tmp_path_factory.mktemp("vizcore-cache")))
    return vizcore.load_model("hed-vgg16")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
