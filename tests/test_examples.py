"""Natural-image examples: coordinate mapping on hand-built conv nets with a planted pattern, non-maximum
suppression, ranking, the silent-filter case, the in-memory map cache, and the real VGG16."""
from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
from tiny_models import tiny_model

from vizcore import examples
from vizcore.errors import InputError
from vizcore.examples import Box, ExampleFinder, Photo, PhotoSet
from vizcore.models import LoadedModel, caffe_preprocess, conv_catalog, weights_fingerprint

SPOT_VALUE = 255


def centre_kernel(channels_in: int, size: int) -> np.ndarray:
    """A kernel that passes the middle pixel of every input channel through (and nothing else)."""
    kernel = np.zeros((size, size, channels_in, 1), np.float32)
    kernel[size // 2, size // 2, :, 0] = 1.0
    return kernel


def spot_model(design: str) -> LoadedModel:
    """A conv net whose last layer responds only where the input has a bright spot; several paddings and strides."""
    inputs = keras.Input((None, None, 3))
    if design == "same+pool":
        x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="conv1")(inputs)
        x = keras.layers.MaxPooling2D(2, name="pool1")(x)
        x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="last")(x)
    elif design == "valid":
        x = keras.layers.Conv2D(1, 5, padding="valid", activation="relu", name="last")(inputs)
    elif design == "wide":  # a receptive field too large to be shown in context
        x = keras.layers.Conv2D(1, examples.CONTEXT_BELOW_PX + 1, padding="valid", activation="relu", name="last")(
            inputs)
    elif design == "strided":
        x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="conv1")(inputs)
        x = keras.layers.Conv2D(1, 3, strides=2, padding="same", activation="relu", name="last")(x)
    model = keras.Model(inputs, x)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([centre_kernel(layer.kernel.shape[2], layer.kernel_size[0]),
                               np.zeros(1, np.float32)])
    return LoadedModel(model, "spot", "hand-built", "spot detector", weights_fingerprint(model),
                       lambda x: x / 255.0, layers=conv_catalog(model))


def dark_photo(name: str, shape: tuple[int, int], spot: tuple[int, int] | None = None) -> Photo:
    """A black photo with an optional 2x2 bright square whose top-left pixel is ``spot``."""
    pixels = np.zeros((*shape, 3), np.uint8)
    if spot is not None:
        pixels[spot[0]:spot[0] + 2, spot[1]:spot[1] + 2] = SPOT_VALUE
    return Photo(name, pixels)


def random_photos(count: int, seed: int = 0) -> PhotoSet:
    rng = np.random.default_rng(seed)
    return PhotoSet([Photo(f"photo{i}", rng.integers(0, 256, (40 + 8 * i, 56, 3), dtype=np.uint8))
                     for i in range(count)])


# ---------------------------------------------------------------- coordinates


@pytest.mark.parametrize("design", ["same+pool", "valid", "strided"])
@pytest.mark.parametrize("spot", [(37, 81), (6, 5), (88, 120)])
def test_the_box_of_the_top_example_contains_a_planted_spot(design: str, spot: tuple[int, int]) -> None:
    model = spot_model(design)
    info = model.layer("last")
    photos = PhotoSet([dark_photo("empty", (96, 128)), dark_photo("planted", (96, 128), spot)])
    found = ExampleFinder().top_examples(model, "last", 0, photos, count=1)

    assert [example.photo for example in found] == ["planted"]
    box = found[0].box
    assert box.contains(*spot), (design, box, spot)
    assert box.bottom - box.top <= info.receptive_field and box.right - box.left <= info.receptive_field
    assert abs(found[0].centre[0] - spot[0]) <= info.stride and abs(found[0].centre[1] - spot[1]) <= info.stride


def test_centre_offsets_follow_padding_and_pooling() -> None:
    same_pool, valid = spot_model("same+pool"), spot_model("valid")
    assert examples.centre_offset(same_pool.keras_model, "conv1") == 0.0   # "same" keeps the centre
    assert examples.centre_offset(same_pool.keras_model, "pool1") == 0.5   # a 2x2 pool: half a pixel on
    assert examples.centre_offset(same_pool.keras_model, "last") == 0.5
    assert examples.centre_offset(valid.keras_model, "last") == 2.0        # 5x5 "valid": 2 pixels in
    with pytest.raises(InputError, match="Unknown layer"):
        examples.centre_offset(valid.keras_model, "nowhere")


def test_boxes_are_clipped_at_the_photo_borders() -> None:
    assert examples.receptive_box((0, 0), 1, 0.0, 3, (10, 10)) == Box(0, 0, 2, 2)
    # centre (8.5, 10.5), 10 px wide: rows 4-13 and columns 6-15, cut at the 12 px border
    assert examples.receptive_box((4, 5), 2, 0.5, 10, (12, 12)) == Box(4, 6, 12, 12)
    assert examples.receptive_box((2, 3), 1, 0.0, 3, (10, 10)) == Box(1, 2, 4, 5)


# ---------------------------------------------------------------- suppression and ranking


def test_suppression_keeps_distinct_peaks_strongest_first() -> None:
    response = np.zeros((12, 12), np.float32)
    response[2, 2], response[2, 3], response[9, 8], response[6, 6] = 5.0, 4.5, 3.0, 1.0
    assert examples.strongest_cells(response, 2, radius=1) == [(5.0, (2, 2)), (3.0, (9, 8))]
    assert examples.strongest_cells(response, 4, radius=1) == [(5.0, (2, 2)), (3.0, (9, 8)), (1.0, (6, 6))]
    assert examples.strongest_cells(response, 3, radius=0) == [(5.0, (2, 2)), (4.5, (2, 3)), (3.0, (9, 8))]
    assert examples.strongest_cells(-np.ones((4, 4)), 2, radius=1) == []
    assert examples.strongest_cells(np.zeros((0, 3)), 2, radius=1) == []


def test_ranking_across_photos(tiny: LoadedModel) -> None:
    photos = random_photos(4)
    finder = ExampleFinder()
    found = finder.top_examples(tiny, "conv2", 1, photos, count=5)
    maps = finder.layer_maps(tiny, "conv2", photos)
    names = [photo.name for photo in photos.photos]

    assert len(found) == 5
    values = [example.activation for example in found]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(max(float(m[1].max()) for m in maps))
    mean = sum(float(m[1].sum()) for m in maps) / sum(m[1].size for m in maps)
    for example in found:
        assert example.activation == pytest.approx(float(maps[names.index(example.photo)][1][example.cell]))
        assert example.relative == pytest.approx(example.activation / mean, rel=1e-5)
    assert found[0].relative > 1
    assert max(names.count(n) for n in [e.photo for e in found]) <= examples.PER_PHOTO
    assert all(max(e.crop.shape[:2]) >= examples.DISPLAY_PX for e in found)
    assert finder._feature_maps(tiny, "conv2").experimental_get_tracing_count() == 1  # photos of 4 sizes, one trace


def test_a_tiny_crop_is_enlarged_pixel_for_pixel_and_the_overlay_marks_the_box(tiny: LoadedModel) -> None:
    photos = random_photos(2)
    example = ExampleFinder().top_examples(tiny, "conv1", 0, photos, count=1)[0]
    photo = photos.photos[[p.name for p in photos.photos].index(example.photo)].pixels
    box = example.box
    original = photo[box.top:box.bottom, box.left:box.right]
    factor = example.crop.shape[0] // original.shape[0]
    assert factor > 1 and np.array_equal(example.crop[::factor, ::factor], original)
    assert example.overlay.shape == photo.shape
    assert tuple(example.overlay[box.top, box.left]) == examples.BOX_COLOUR
    assert not np.array_equal(example.overlay, photo)


def ring(shape: tuple[int, int], box: Box, width: int) -> np.ndarray:
    """A mask of the ``width`` pixels just outside ``box`` (clipped to ``shape``)."""
    outer, inner = np.zeros(shape, bool), np.zeros(shape, bool)
    outer[max(box.top - width, 0):box.bottom + width, max(box.left - width, 0):box.right + width] = True
    inner[box.top:box.bottom, box.left:box.right] = True
    return outer & ~inner


@pytest.mark.parametrize("spot", [(37, 81), (6, 5), (88, 120)])
def test_a_small_place_is_shown_in_context_with_its_receptive_field_outlined(spot: tuple[int, int]) -> None:
    photo = dark_photo("planted", (96, 128), spot)
    example = ExampleFinder().top_examples(spot_model("same+pool"), "last", 0, PhotoSet([photo]), count=1)[0]
    box, window = example.box, example.window

    assert window.bottom - window.top == window.right - window.left == examples.CONTEXT_PX
    assert window.top <= box.top and box.bottom <= window.bottom and window.left <= box.left
    assert box.right <= window.right
    assert 0 <= window.top and window.bottom <= 96 and 0 <= window.left and window.right <= 128
    if spot == (37, 81):  # away from the borders the place is in the middle of the window
        assert abs((window.top + window.bottom) - (box.top + box.bottom)) <= 1
        assert abs((window.left + window.right) - (box.left + box.right)) <= 1
    factor = example.context.shape[0] // examples.CONTEXT_PX
    assert example.context.shape == (examples.CONTEXT_PX * factor,) * 2 + (3,)
    assert example.context.shape[0] >= examples.CONTEXT_DISPLAY_PX and example.picture is example.context
    shown = Box(*((edge - corner) * factor for edge, corner in zip(box.as_tuple(), window.as_tuple()[:2] * 2)))
    outline = ring(example.context.shape[:2], shown, examples.BOX_WIDTH)
    expected = examples.enlarged(photo.pixels[window.top:window.bottom, window.left:window.right],
                                 examples.CONTEXT_DISPLAY_PX)
    assert outline.any() and np.all(example.context[outline] == examples.BOX_COLOUR)
    assert np.array_equal(example.context[~outline], expected[~outline])  # the place and the rest untouched
    place = example.context[shown.top:shown.bottom, shown.left:shown.right]
    assert np.array_equal(place[::factor, ::factor], photo.pixels[box.top:box.bottom, box.left:box.right])
    assert place.max() == SPOT_VALUE  # the spot itself is inside the outline


def test_a_large_place_keeps_the_bare_crop() -> None:
    model = spot_model("wide")
    assert model.layer("last").receptive_field >= examples.CONTEXT_BELOW_PX
    example = ExampleFinder().top_examples(model, "last", 0, PhotoSet([dark_photo("planted", (96, 128), (40, 60))]),
                                           count=1)[0]
    assert example.window is None and example.context is None and example.picture is example.crop


def test_a_silent_filter_gives_no_examples() -> None:
    model = spot_model("valid")
    photos = PhotoSet([dark_photo("dark", (32, 32))])  # no spot: the filter never fires
    assert ExampleFinder().top_examples(model, "last", 0, photos) == []


def test_bad_requests_get_plain_messages(tiny: LoadedModel) -> None:
    finder, photos = ExampleFinder(), random_photos(1)
    with pytest.raises(InputError, match="from 1 to 24"):
        finder.top_examples(tiny, "conv1", 0, photos, count=0)
    with pytest.raises(InputError, match="Filter 9 does not exist in conv1"):
        finder.top_examples(tiny, "conv1", 9, photos)
    with pytest.raises(InputError, match="Unknown layer"):
        finder.top_examples(tiny, "conv9", 0, photos)
    with pytest.raises(InputError, match="no photos"):
        PhotoSet([])
    with pytest.raises(InputError, match="not a JPEG or PNG"):
        examples.uploaded_photo(b"just some text", "notes.png")


# ---------------------------------------------------------------- the map cache


def test_another_filter_of_the_same_layer_reuses_the_maps(tiny: LoadedModel) -> None:
    finder, photos = ExampleFinder(), random_photos(3)
    finder.top_examples(tiny, "conv2", 0, photos)
    assert finder.computations == 3  # one pass per photo
    finder.top_examples(tiny, "conv2", 5, photos)
    assert finder.computations == 3
    finder.top_examples(tiny, "conv1", 0, photos)
    assert finder.computations == 6
    finder.top_examples(tiny, "conv2", 2, photos.plus([Photo("more", photos.photos[0].pixels[::-1].copy())]))
    assert finder.computations == 7  # only the added photo is new
    finder.top_examples(tiny_model(seed=1), "conv2", 0, photos)
    assert finder.computations == 10


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(tiny: LoadedModel) -> None:
    photos = random_photos(1)
    finder = ExampleFinder(max_bytes=1)  # room for the newest maps only
    finder.layer_maps(tiny, "conv1", photos)
    finder.layer_maps(tiny, "conv2", photos)
    finder.layer_maps(tiny, "conv2", photos)
    assert finder.computations == 2
    finder.layer_maps(tiny, "conv1", photos)
    assert finder.computations == 3


def test_own_photos_are_added_to_the_bundled_ones_up_to_a_limit() -> None:
    own = [Photo(f"mine{i}.png", np.full((20, 30, 3), i, np.uint8)) for i in range(examples.MAX_OWN_PHOTOS + 1)]
    photos = examples.with_own_photos(own[:2])
    assert [p.name for p in photos.photos] == [*examples.NATURAL_PHOTOS, "mine0.png", "mine1.png"]
    assert max(examples.bundled_photos().photos[0].pixels.shape) == examples.WORK_SIDE
    assert photos.identity != examples.with_own_photos(own[1:3]).identity
    with pytest.raises(InputError, match=f"At most {examples.MAX_OWN_PHOTOS} photos"):
        examples.with_own_photos(own)


def test_sessions_asking_at_once_share_one_computation(tiny: LoadedModel) -> None:
    finder, photos = ExampleFinder(), random_photos(3)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(finder.top_examples(tiny, "conv2", i, photos)))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert finder.computations == len(photos) and len(results) == 4 and all(results)


# ---------------------------------------------------------------- the real VGG16


def strongest_patch(model: LoadedModel, layer: str, filter_index: int) -> np.ndarray:
    """The 3x3 RGB patch (0 or 255 per value) that a first-layer filter responds to most: 255 where its
    weight is positive (the kernel sees BGR, caffe preprocessing only shifts by the channel means)."""
    kernel = model.keras_model.get_layer(layer).kernel.numpy()[..., filter_index]
    return np.where(kernel[..., ::-1] > 0, 255, 0).astype(np.uint8)


@pytest.mark.slow
def test_real_vgg16_block1_examples_match_the_models_own_maps(vgg16: LoadedModel) -> None:
    layer, index = "block1_conv1", 12
    planted = np.full((120, 160, 3), 128, np.uint8)
    planted[59:62, 99:102] = strongest_patch(vgg16, layer, index)
    photos = examples.with_own_photos([Photo("planted.png", planted)])
    found = examples.top_examples(vgg16, layer, index, photos)

    assert len(found) == examples.DEFAULT_COUNT
    assert found[0].photo == "planted.png" and found[0].box == Box(59, 99, 62, 102)
    values = [example.activation for example in found]
    assert values == sorted(values, reverse=True) and values[-1] > 0
    features = keras.Model(vgg16.keras_model.inputs, vgg16.keras_model.get_layer(layer).output)
    by_name = {photo.name: photo.pixels for photo in photos.photos}
    for example in found:
        assert example.box.bottom - example.box.top == 3  # none of these is at a border
        row, col = (example.box.top + example.box.bottom - 1) // 2, (example.box.left + example.box.right - 1) // 2
        response = features(caffe_preprocess(by_name[example.photo][None].astype(np.float32))).numpy()[0]
        assert example.activation == pytest.approx(float(response[row, col, index]), rel=1e-4)


@pytest.mark.slow
def test_real_vgg16_the_notebooks_dead_filter_has_no_examples(vgg16: LoadedModel) -> None:
    assert examples.top_examples(vgg16, "block2_conv1", 7) == []
