"""The filter atlas: every filter of the chosen layers rendered once to a PNG, with an ``index.json``
of loss, activation and quality score per filter.

Layout: ``OUT/<fingerprint>/<layer>/<filter>.png`` and ``OUT/<fingerprint>/index.json``, where the
fingerprint covers the weights and every setting that changes a picture, so other settings never mix
with these. Every file is written atomically and the index only after its pictures, so an atlas
stopped at any moment (Ctrl-C, kill -9) continues where it stopped. Batches of filters run in this
process or as Ray tasks (one model per Ray worker); this process alone writes the files.

One module of about 440 lines: the layout, its index (and how a damaged one is set aside) and the renderers
that fill it share one format and change together.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import reprlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vizcore.atomic import atomic_path, cache_dir, writable_folder, write_bytes_atomic
from vizcore.cache import CACHE_VERSION
from vizcore.errors import InputError, VizError
from vizcore.metrics import quality_scores
from vizcore.models import LoadedModel, network_reachable
from vizcore.objectives import channel, channels
from vizcore.options import ATLAS_DEFAULT_BATCH as DEFAULT_BATCH
from vizcore.render import Engine
from vizcore.validate import MAX_BATCH

ATLAS_VERSION = 1
INDEX = "index.json"
MAX_INDEX_BYTES = 32 * 2**20  # a whole VGG16 (4224 filters) takes about 0.5 MB
SORT_ORDERS = ("filter", "quality", "activation")

Record = dict[str, float | None]  # loss, activation, quality of one finished filter
Progress = Callable[[dict[str, tuple[int, int]]], None]  # layer -> (done, total)


@dataclass(frozen=True)
class AtlasParameters:
    """Every setting that changes the pictures (besides the weights)."""

    method: str
    steps: int
    size: int
    lr: float
    seed: int

    def fingerprint(self, model_fingerprint: str) -> str:
        """Short hash naming the atlas folder for these settings on these weights."""
        text = json.dumps({"model": model_fingerprint, **asdict(self), "cache_version": CACHE_VERSION,
                           "atlas_version": ATLAS_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def atlas_parameters(engine: Engine, method: str = "robust", steps: int | None = None, size: int = 128,
                     lr: float | None = None, seed: int = 0) -> AtlasParameters:
    """Validated parameters with the method's defaults filled in (InputError on bad values)."""
    settings = engine.settings(channel(engine.model.layers[0].name, 0), method, steps, size,
                               None if lr is None else [lr], seed)
    return AtlasParameters(settings.method, settings.steps, settings.size, settings.learning_rates[0], settings.seed)


def choose_layers(model: LoadedModel, text: str) -> list[str]:
    """'all' or comma-separated layer names -> names in the model's order (InputError on unknown names)."""
    if text.strip().lower() == "all":
        return [info.name for info in model.layers]
    wanted = {model.layer(name.strip()).name for name in text.split(",") if name.strip()}
    if not wanted:
        raise InputError("--layers needs 'all' or layer names such as block1_conv1,block2_conv1.")
    return [info.name for info in model.layers if info.name in wanted]


# ---------------------------------------------------------------- rendering (in any process)


@dataclass(frozen=True)
class Job:
    """One batch of filters of one layer."""

    layer: str
    filters: tuple[int, ...]
    parameters: AtlasParameters
    quality: bool = True


@dataclass
class Done:
    """A finished batch: one picture and one record per filter."""

    job: Job
    images: np.ndarray
    records: list[Record]


def render_job(engine: Engine, job: Job) -> Done:
    """Render one batch and measure each picture's quality score (unless the job says not to)."""
    p = job.parameters
    result = engine.render(engine.settings(channels(job.layer, job.filters), p.method, p.steps, p.size, [p.lr], p.seed))
    scores = (quality_scores(engine.model, job.layer, list(job.filters), list(result.images)) if job.quality
              else [None] * len(job.filters))
    records = [{"loss": float(result.loss_history[-1, i]), "activation": float(result.activation[i]),
                "quality": scores[i]} for i in range(len(job.filters))]
    return Done(job, result.images, records)


Renderer = Callable[[Sequence[Job]], Iterator[Done]]


def local_renderer(engine: Engine) -> Renderer:
    """Render the jobs one after the other in this process."""
    def render(jobs: Sequence[Job]) -> Iterator[Done]:
        for job in jobs:
            yield render_job(engine, job)
    return render


class AtlasWorker:
    """A Ray actor on one CPU: builds the model once (TensorFlow on one thread), then renders jobs."""

    def __init__(self, model_factory: Callable[[], LoadedModel]):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.engine = Engine(model_factory())

    def fingerprint(self) -> str:
        """The weights fingerprint of the worker's model."""
        return self.engine.model.fingerprint

    def render(self, job: Job) -> Done:
        """Render one batch."""
        return render_job(self.engine, job)


def check_ray_address(address: str) -> None:
    """Fail at once, in plain words, when nothing listens at a ``host:port`` Ray address (Ray itself
    keeps retrying for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not network_reachable((host, int(port)), timeout=5.0):
        raise InputError(f"Nothing answers at the Ray address '{address}': give host:port of a running Ray "
                         "head (started with `ray start --head`), or use --ray local.")


@contextlib.contextmanager
def ray_renderer(address: str, model_factory: Callable[[], LoadedModel], fingerprint: str) -> Iterator[Renderer]:
    """Render jobs as Ray tasks on one single-threaded actor per CPU of the cluster.

    ``address`` is 'local' to start Ray on this machine, or a cluster address; a Ray instance that is
    already running is used as it is. ``model_factory`` must be importable on the workers; each worker
    must load weights with this ``fingerprint``.
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise InputError("--ray needs the Ray package: pip install ray") from None
    started = not ray.is_initialized()
    if started and address != "local":
        check_ray_address(address)
    if started:
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise InputError(f"Could not connect to the Ray cluster at {address}: {error}") from None
    try:
        actor = ray.remote(num_cpus=1)(AtlasWorker)
        actors = [actor.remote(model_factory) for _ in range(max(1, int(ray.cluster_resources().get("CPU", 1))))]
        try:
            found = set(ray.get([a.fingerprint.remote() for a in actors]))
        except ray.exceptions.RayError as error:
            raise VizError(f"The Ray workers could not load the model: {error}") from None
        if found != {fingerprint}:
            raise VizError(f"The Ray workers loaded other weights ({', '.join(sorted(found))}) than this "
                           f"machine ({fingerprint}): give every node the same model.")
        pool = ActorPool(actors)

        def render(jobs: Sequence[Job]) -> Iterator[Done]:
            yield from pool.map_unordered(lambda worker, job: worker.render.remote(job), jobs)

        yield render
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------- the atlas on disk


@dataclass
class Atlas:
    """One atlas folder: its model and parameters, and a record per finished filter."""

    folder: Path
    fingerprint: str
    model: dict[str, str]
    parameters: AtlasParameters
    layer_sizes: dict[str, int]
    records: dict[str, dict[int, Record]]
    notes: list[str] = field(default_factory=list)
    batch: int | None = None  # filters per batch, fixed by the first build: results depend (slightly) on it

    def png(self, layer: str, index: int) -> Path:
        """Where the picture of one filter lives."""
        return self.folder / layer / f"{index}.png"

    def record(self, layer: str, index: int) -> Record | None:
        """The finished filter's record, or None if it is not finished or its PNG is gone or damaged."""
        record = self.records.get(layer, {}).get(index)
        return record if record is not None and sound_picture(self.png(layer, index), self.parameters.size) else None

    def has_pictures(self, layer: str) -> bool:
        """Whether at least one finished filter of the layer has a sound picture."""
        return any(self.record(layer, index) is not None for index in self.records.get(layer, {}))

    def counts(self, layers: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per layer: (finished filters, all filters)."""
        return {layer: (len(self.records.get(layer, {})), self.layer_sizes[layer]) for layer in layers}

    def index(self) -> dict:
        """The index as plain JSON values, layers and filters in order (so equal atlases write equal files)."""
        return {"atlas_version": ATLAS_VERSION, "fingerprint": self.fingerprint, "model": self.model,
                "parameters": {**asdict(self.parameters), "cache_version": CACHE_VERSION}, "batch": self.batch,
                "layers": {layer: {"filters": size,
                                   "done": {str(i): self.records[layer][i] for i in sorted(self.records[layer])}}
                           for layer, size in self.layer_sizes.items() if self.records.get(layer)}}

    def save(self, done: Done) -> None:
        """Write a finished batch: its pictures first, then the index, each atomically."""
        layer = done.job.layer
        try:
            for index, image in zip(done.job.filters, done.images):
                with atomic_path(self.png(layer, index)) as temporary:
                    Image.fromarray(image).save(temporary, format="PNG")
            self.records.setdefault(layer, {}).update(zip(done.job.filters, done.records))
            write_bytes_atomic(self.folder / INDEX, json.dumps(self.index(), indent=1).encode())
        except OSError as error:  # e.g. the disk is full: what is saved so far stays usable
            raise InputError(f"Could not save the atlas in {self.folder}: {error.strerror or error}.") from None

    def jobs(self, layers: Sequence[str], batch: int, quality: bool = True) -> list[Job]:
        """Batches of the filters still to render, layer by layer in order."""
        jobs = []
        for layer in layers:
            todo = [i for i in range(self.layer_sizes[layer]) if i not in self.records.get(layer, {})]
            jobs += [Job(layer, tuple(todo[i:i + batch]), self.parameters, quality)
                     for i in range(0, len(todo), batch)]
        return jobs

    def choose_batch(self, batch: int) -> int:
        """The batch size to render with: the one the atlas was started with (a note says so if ``batch``
        differs, since pictures rendered in batches of another size can differ by a grey level or two)."""
        if self.batch is None:
            self.batch = batch
        elif batch != self.batch:
            self.notes.append(f"This atlas was started with batches of {self.batch} filters; it continues with "
                              f"{self.batch} (not {batch}) so that every picture is made the same way.")
        return self.batch

    def build(self, renderer: Renderer, layers: Sequence[str], batch: int = DEFAULT_BATCH,
              progress: Progress | None = None, quality: bool = True) -> None:
        """Render every filter of ``layers`` not finished yet, saving after each batch."""
        batch = self.choose_batch(batch)
        if progress:
            progress(self.counts(layers))
        for done in renderer(self.jobs(layers, batch, quality)):
            self.save(done)
            if progress:
                progress(self.counts(layers))

    def tiles(self, layer: str, sort_by: str = "filter") -> list[tuple[int, Path, Record]]:
        """The layer's finished filters as (filter, PNG path, record), by filter number or best score first."""
        if sort_by not in SORT_ORDERS:
            raise InputError(f"Sort by one of: {', '.join(SORT_ORDERS)} (got '{sort_by}').")
        tiles = [(i, self.png(layer, i), record) for i in sorted(self.records.get(layer, {}))
                 if (record := self.record(layer, i)) is not None]
        if sort_by != "filter":  # best first; filters without a number (None, or NaN in an edited index) last
            tiles.sort(key=lambda tile: _sort_key(tile[2][sort_by]), reverse=True)
        return tiles


def _sort_key(value: float | None) -> float:
    return -math.inf if value is None or math.isnan(value) else value


def sound_picture(path: Path, size: int) -> bool:
    """Whether ``path`` is a whole ``size``×``size`` RGB PNG: its chunks and their checksums are read, its pixels
    are not decoded (about 0.2 ms for a 128 px picture)."""
    if not path.is_file():  # also keeps a FIFO from blocking the read
        return False
    try:
        with Image.open(path, formats=["PNG"]) as image:
            image.verify()
            return image.size == (size, size) and image.mode == "RGB"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):  # what Pillow raises on bad files
        return False


def model_description(model: LoadedModel) -> dict[str, str]:
    """The model as the index describes it."""
    return {"architecture": model.architecture, "weights": model.weights,
            "weights_description": model.weights_description, "fingerprint": model.fingerprint}


def load_index(path: Path) -> object:
    """The JSON value of an index file; ValueError naming the problem if it cannot be read."""
    if not path.is_file():
        raise ValueError("it is not a file")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_INDEX_BYTES + 1)
    except OSError as error:
        raise ValueError(f"it cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_INDEX_BYTES:
        raise ValueError(f"it is larger than {MAX_INDEX_BYTES // 2**20} MB")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except ValueError as error:  # also bad UTF-8 and integers of thousands of digits
        raise ValueError(f"it is not valid JSON ({error})") from None


def read_index(folder: Path, fingerprint: str,
               layer_sizes: dict[str, int]) -> tuple[dict[str, dict[int, Record]], int | None]:
    """The finished filters and the batch size of ``folder/index.json``; ValueError naming the problem if it
    is unusable."""
    index = load_index(folder / INDEX)
    if not isinstance(index, dict) or index.get("fingerprint") != fingerprint:
        raise ValueError("it belongs to another atlas")
    records: dict[str, dict[int, Record]] = {}
    try:
        for layer, entry in index["layers"].items():
            if layer not in layer_sizes:
                raise LookupError(f"unknown layer {reprlib.repr(layer)}")
            records[layer] = {int(i): {key: _number(record[key], key == "quality")
                                       for key in ("loss", "activation", "quality")}
                              for i, record in entry["done"].items() if 0 <= int(i) < layer_sizes[layer]}
        batch = index.get("batch")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH):
            raise TypeError(f"batch {reprlib.repr(batch)} is not a whole number from 1 to {MAX_BATCH}")
    except (LookupError, TypeError, AttributeError, ValueError, OverflowError) as error:
        raise ValueError(f"its structure is wrong ({type(error).__name__}: {error})") from None
    return records, batch


def _number(value: object, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{reprlib.repr(value)} is not a number")
    return float(value)  # OverflowError for an integer beyond any float


def open_atlas(out_dir: str | os.PathLike, model: LoadedModel, parameters: AtlasParameters) -> Atlas:
    """The atlas for this model and these parameters under ``out_dir``, with what is already finished.

    A filter counts as finished only with both its index record and a sound PNG; anything else is redone.
    An unreadable index is set aside as ``index.json.corrupt`` and its filters are redone (with a note).
    """
    fingerprint = parameters.fingerprint(model.fingerprint)
    folder = writable_folder(Path(out_dir) / fingerprint)
    sizes = {info.name: info.filters for info in model.layers}
    atlas = Atlas(folder, fingerprint, model_description(model), parameters, sizes, {})
    if not (folder / INDEX).exists():
        return atlas
    try:
        atlas.records, atlas.batch = read_index(folder, fingerprint, sizes)
    except ValueError as error:
        set_aside(folder / INDEX)
        atlas.notes.append(f"The atlas index {folder / INDEX} was unusable: {error}. It was set aside as "
                           f"{INDEX}.corrupt and its filters will be rendered again.")
        return atlas
    atlas.notes += forget_bad_pictures(atlas)
    return atlas


def set_aside(index: Path) -> None:
    """Rename an unusable index to ``index.json.corrupt`` (InputError if that fails)."""
    try:
        os.replace(index, index.with_name(f"{INDEX}.corrupt"))
    except OSError as error:
        raise InputError(f"The atlas index {index} is unusable and could not be set aside: "
                         f"{error.strerror or error}.") from None


def forget_bad_pictures(atlas: Atlas) -> list[str]:
    """Drop the records whose PNG is gone or damaged, so that those filters are rendered again; notes saying so."""
    lost = damaged = 0
    for layer, records in atlas.records.items():
        for index in [i for i in records if not sound_picture(atlas.png(layer, i), atlas.parameters.size)]:
            del records[index]
            if atlas.png(layer, index).is_file():
                damaged += 1
            else:
                lost += 1
    notes = []
    if lost:
        notes.append(f"{lost} filters of the index had lost their PNG and will be rendered again.")
    if damaged:
        notes.append(f"{damaged} damaged pictures (cut short or unreadable PNG files) will be rendered again.")
    return notes


def build_atlas(engine: Engine, out_dir: str | os.PathLike, layers: Sequence[str], parameters: AtlasParameters,
                batch: int = DEFAULT_BATCH, renderer: Renderer | None = None, progress: Progress | None = None,
                quality: bool = True) -> Atlas:
    """Open (or start) the atlas and render its missing filters, in this process unless ``renderer`` says else."""
    atlas = open_atlas(out_dir, engine.model, parameters)
    atlas.build(renderer or local_renderer(engine), layers, batch, progress, quality)
    return atlas


# ---------------------------------------------------------------- reading (dashboard)


def atlas_root() -> Path:
    """Where the dashboard looks for atlases: $VIZCORE_ATLAS, else the cache folder's ``atlas``."""
    return Path(os.environ.get("VIZCORE_ATLAS") or cache_dir() / "atlas")


def find_atlas(root: str | os.PathLike, model: LoadedModel, parameters: AtlasParameters) -> Atlas | None:
    """The finished part of an atlas for these settings under ``root``, or None if there is none (read only)."""
    fingerprint = parameters.fingerprint(model.fingerprint)
    folder = Path(root) / fingerprint
    sizes = {info.name: info.filters for info in model.layers}
    try:
        records, batch = read_index(folder, fingerprint, sizes)
    except ValueError:
        return None
    return Atlas(folder, fingerprint, model_description(model), parameters, sizes, records, batch=batch)
