"""Shared fixtures: tiny conv models built in the test, and the real offline VGG16 (loaded once)."""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from tiny_models import tiny_model
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling

import vizcore
from vizcore.models import LoadedModel


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", action="store_true",
                     help="also write the README's and docs/screenshots/ pictures (make screenshots)")


BROWSER_TESTS = "tests/e2e/"  # node ids are relative to the project folder


class BrowserTestsTogether(LoadFileScheduling):
    """xdist's `--dist loadfile` (each file's tests on one worker, so its module fixtures are made once), except that
    every browser test is in one unit: one worker runs them all against one dashboard server and one Chromium while
    the other worker runs the rest. (`--dist loadgroup` with xdist_group marks would say the same, but xdist 3.8
    renames node ids in a way pytest 9.2 ignores, so the marks group nothing.)"""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        config.option.loadscopereorder = False  # units in collection order: the browser tests, the longest, first
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return "browser" if nodeid.startswith(BROWSER_TESTS) else super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> BrowserTestsTogether | None:
    """`pytest -n 2 --dist loadfile` (make test) schedules with BrowserTestsTogether; other --dist modes are xdist's."""
    return BrowserTestsTogether(config, log) if config.getvalue("dist") == "loadfile" else None


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


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder for this test session ($VIZCORE_CACHE unless set): each xdist worker has its own, and no
    test writes into the user's ~/.cache/vizcore."""
    os.environ.setdefault("VIZCORE_CACHE", str(tmp_path_factory.mktemp("vizcore-cache")))
    return Path(os.environ["VIZCORE_CACHE"])


@pytest.fixture(scope="session")
def vgg16() -> LoadedModel:
    """The real offline VGG16 (hed-vgg16 weights), converted into the session's cache folder."""
    return vizcore.load_model("hed-vgg16")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
