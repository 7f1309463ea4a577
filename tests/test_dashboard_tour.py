"""dashboard.tour's choices without Streamlit: which layers and filters the stops show, and the ?tour=N link."""
from __future__ import annotations

import numpy as np

from dashboard.tour import PER_STOP, STORY, stop_from_link, tour_stops
from vizcore.models import VGG16_CATALOG, LayerInfo


def natural_responses(layers, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {info.name: rng.random(info.filters) for info in layers}


def test_the_stops_walk_from_the_first_layer_to_the_last():
    stops = tour_stops(VGG16_CATALOG, natural_responses(VGG16_CATALOG))
    assert len(stops) == len(STORY) and 6 <= len(stops) <= 8
    names = [info.name for info in VGG16_CATALOG]
    assert stops[0].layer == "block1_conv1" and stops[-1].layer == "block5_conv3"
    assert [names.index(stop.layer) for stop in stops] == sorted({names.index(stop.layer) for stop in stops})
    assert all(len(stop.filters) == PER_STOP and stop.words and stop.title for stop in stops)


def test_a_stop_shows_the_filters_that_respond_most_to_photos_and_skips_silent_ones():
    natural = natural_responses(VGG16_CATALOG)
    natural["block1_conv1"][:] = 0.0
    natural["block1_conv1"][[7, 40, 3]] = [5.0, 9.0, 2.0]
    first = tour_stops(VGG16_CATALOG, natural)[0]
    assert first.filters == (40, 7)
    natural["block5_conv3"][:] = 0.0  # no filter responds: the stop still shows filters
    assert len(tour_stops(VGG16_CATALOG, natural)[-1].filters) == PER_STOP


def test_an_atlas_quality_score_picks_among_the_clear_photo_matches():
    natural = natural_responses(VGG16_CATALOG)
    top = [int(i) for i in np.argsort(-natural["block1_conv1"])[:16]]
    quality = {"block1_conv1": np.full(64, np.nan)}
    quality["block1_conv1"][top[10]] = 30.0  # among the clear matches: chosen first
    quality["block1_conv1"][int(np.argmin(natural["block1_conv1"]))] = 99.0  # photos barely excite it: not chosen
    assert tour_stops(VGG16_CATALOG, natural, quality)[0].filters == (top[10], top[0])


def test_a_small_model_gets_one_stop_per_layer():
    layers = [LayerInfo("conv_a", 4, 1, 3), LayerInfo("conv_b", 6, 2, 8)]
    stops = tour_stops(layers, natural_responses(layers))
    assert [stop.layer for stop in stops] == ["conv_a", "conv_b"]


def test_a_tour_link_opens_its_stop_or_the_first_with_a_warning():
    assert stop_from_link(None, 6) == (None, None)
    assert stop_from_link("3", 6) == (2, None)
    for bad in ("0", "7", "three", "-1"):
        stop, warning = stop_from_link(bad, 6)
        assert stop == 0 and f"'{bad}'" in warning and "1 to 6" in warning
