"""What the dashboard shows, without Streamlit: the shareable view in the URL (parsed with clamping
and plain-words warnings), learning-rate choices, live-preview pacing, run records and PNG bytes."""
from __future__ import annotations

import io
import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from vizcore import animation, metrics
from vizcore.methods import METHODS, Method
from vizcore.models import LayerInfo, LoadedModel
from vizcore.objectives import OBJECTIVES
from vizcore.render import Engine, Frame, RenderResult, Settings

LOG = logging.getLogger(__name__)

SIZES = (64, 96, 128, 192, 256)
DEFAULT_SIZE = 128
MAX_ITERATIONS = 1000
DEFAULT_METHOD = "robust"
PREVIEW_SECONDS = 0.3  # aim for about this much optimisation between two live pictures
COMPARE_MAX = 6
DEFAULT_MIX = 50  # percent of the second filter in a blend
OBJECTIVE_TITLES = {"channel": "Whole filter (channel)", "neuron": "Centre neuron"}


@dataclass(frozen=True)
class View:
    """The settings the sidebar shows; all of them live in the URL so a view can be shared."""

    layer: str
    filter: int
    method: str
    steps: int
    lr: float
    size: int
    objective: str = "channel"
    blend: int | None = None  # a second filter mixed in
    mix: int = DEFAULT_MIX  # its share, in percent (only with blend)

    def to_query(self) -> dict[str, str]:
        """Query parameters for this view (all values are strings); the objective and blend only when used."""
        query = {"layer": self.layer, "filter": str(self.filter), "method": self.method, "steps": str(self.steps),
                 "lr": f"{self.lr:g}", "size": str(self.size)}
        if self.objective != "channel":
            query["objective"] = self.objective
        if self.blend is not None:
            query.update(blend=str(self.blend), mix=str(self.mix))
        return query

    def settings(self, engine: Engine, filters: Sequence[int] | None = None, rates: Sequence[float] | None = None,
                 **extra: object) -> Settings:
        """Engine settings for the view, or for other filters (then without the blend) or learning rates."""
        if filters is None and self.blend is not None:
            extra.update(blend_filter=self.blend, mix=self.mix / 100)
        return engine.settings(self.layer, list(filters) if filters is not None else [self.filter], self.method,
                               self.steps, self.size, list(rates) if rates else [self.lr],
                               objective=self.objective, **extra)


def picture_sizes(model: LoadedModel) -> tuple[int, ...]:
    """The image sizes the page offers for this model: its own size if it takes only one, else SIZES."""
    return SIZES if model.input_size is None else (model.input_size,)


def lr_step(method: Method) -> float:
    """The learning-rate slider's step: its lower bound (0.005 for Robust, 0.1 for Classic)."""
    return method.lr_range[0]


def lr_decimals(method: Method) -> int:
    """How many decimals the learning rate needs to be shown exactly (those of the slider's step)."""
    return len(f"{lr_step(method):g}".partition(".")[2])


def snap_lr(method: Method, value: float) -> float:
    """Clamp ``value`` into the method's range and round it onto the slider's grid."""
    lo, hi = method.lr_range
    step = lr_step(method)
    snapped = lo + round((min(max(value, lo), hi) - lo) / step) * step
    return round(min(max(snapped, lo), hi), lr_decimals(method))


def lr_choices(method: Method) -> list[float]:
    """Learning rates worth comparing: 1-2-5 steps inside the method's range, plus its default."""
    lo, hi = method.lr_range
    values = {method.default_lr}
    for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa * 10.0 ** exponent:.6g}")
            if lo <= value <= hi:
                values.add(value)
    return sorted(values)


def compare_defaults(method: Method) -> list[float]:
    """Three rates to compare at first: about a third of the default, the default, about three times it."""
    choices = lr_choices(method)

    def nearest(target: float) -> float:
        return min(choices, key=lambda value: abs(math.log(value / target)))

    return sorted({nearest(method.default_lr / 3), method.default_lr, nearest(method.default_lr * 3)})


def default_view(layers: Sequence[LayerInfo]) -> View:
    """The view a new visitor sees: first layer, filter 0, the Robust method with its defaults."""
    method = METHODS[DEFAULT_METHOD]
    return View(layers[0].name, 0, method.name, method.default_steps, method.default_lr, DEFAULT_SIZE)


def _first(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value[0] if value else None


def _parse_int(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _filter_in_layer(text: str, layer: str, count: int, role: str) -> tuple[int | None, str]:
    """The link's filter number clamped into the layer (None if not a number), and what was wrong with it."""
    number = _parse_int(text)
    if number is None:
        return None, f"The link's {role} '{text}' is not a whole number"
    clamped = min(max(number, 0), count - 1)
    if clamped != number:
        return clamped, f"The link asks for {role} {text}, but {layer} has filters 0 to {count - 1}"
    return clamped, ""


def view_from_query(params: Mapping[str, str | Sequence[str]], layers: Sequence[LayerInfo]) -> tuple[View, list[str]]:
    """The view a link asks for; bad values are replaced by the nearest allowed value, each with a warning."""
    view = default_view(layers)
    warnings: list[str] = []
    by_name = {info.name: info for info in layers}

    layer = _first(params.get("layer"))
    if layer is not None:
        if layer in by_name:
            view = replace(view, layer=layer)
        else:
            warnings.append(f"The link asks for layer '{layer}', which this model does not have; "
                            f"showing {view.layer} instead.")
    count = by_name[view.layer].filters

    text = _first(params.get("filter"))
    if text is not None:
        number, problem = _filter_in_layer(text, view.layer, count, "filter")
        if problem:
            warnings.append(f"{problem}; showing filter {number or 0}.")
        if number is not None:
            view = replace(view, filter=number)

    text = _first(params.get("method"))
    if text is not None:
        if text.lower() in METHODS:
            method = METHODS[text.lower()]
            view = replace(view, method=method.name, steps=method.default_steps, lr=method.default_lr)
        else:
            warnings.append(f"The link's method '{text}' is unknown; using {METHODS[view.method].title}. "
                            f"Methods: {', '.join(m.title for m in METHODS.values())}.")
    method = METHODS[view.method]

    text = _first(params.get("steps"))
    if text is not None:
        number = _parse_int(text)
        if number is None:
            warnings.append(f"The link's number of iterations '{text}' is not a whole number; "
                            f"using {view.steps}.")
        else:
            clamped = min(max(number, 1), MAX_ITERATIONS)
            if clamped != number:
                warnings.append(f"The link asks for {text} iterations; the page allows 1 to {MAX_ITERATIONS}, "
                                f"so it uses {clamped}.")
            view = replace(view, steps=clamped)

    text = _first(params.get("lr"))
    if text is not None:
        try:
            rate = float(text)
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate):
            warnings.append(f"The link's learning rate '{text}' is not a number; using the default {view.lr:g}.")
        else:
            snapped = snap_lr(method, rate)
            lo, hi = method.lr_range
            if not lo <= rate <= hi:
                warnings.append(f"The link's learning rate {text} is outside the {method.title} method's range "
                                f"({lo:g} to {hi:g}); using {snapped:g}.")
            view = replace(view, lr=snapped)

    text = _first(params.get("size"))
    if text is not None:
        number = _parse_int(text)
        if number is None or number not in SIZES:
            nearest = DEFAULT_SIZE if number is None else min(SIZES, key=lambda size: abs(size - number))
            warnings.append(f"The link's image size '{text}' is not offered ({', '.join(map(str, SIZES))} px); "
                            f"using {nearest} px.")
            number = nearest
        view = replace(view, size=number)
    view, more = objective_from_query(params, view, count)
    return view, warnings + more


def objective_from_query(params: Mapping[str, str | Sequence[str]], view: View, count: int) -> tuple[View, list[str]]:
    """The link's objective, second filter and mix (clamped, with warnings) on top of ``view``."""
    warnings: list[str] = []
    text = _first(params.get("objective"))
    if text is not None:
        if text.lower() in OBJECTIVES:
            view = replace(view, objective=text.lower())
        else:
            warnings.append(f"The link's objective '{text}' is unknown; using the whole filter. "
                            f"Objectives: {', '.join(OBJECTIVES)}.")
    text = _first(params.get("blend"))
    if text is not None:
        number, problem = _filter_in_layer(text, view.layer, count, "second filter")
        if problem:
            warnings.append(f"{problem}; " + ("showing no blend." if number is None else
                                               f"blending with filter {number}."))
        if number is not None:
            view = replace(view, blend=number)
    text = _first(params.get("mix"))
    if text is not None and view.blend is not None:
        number = _parse_int(text)
        clamped = DEFAULT_MIX if number is None else min(max(number, 0), 100)
        if number != clamped:
            warnings.append(f"The link's mix '{text}' is not a whole percentage from 0 to 100; "
                            f"using {clamped} %.")
        view = replace(view, mix=clamped)
    return view, warnings


def size_cost(size: int) -> float:
    """A step's cost on a ``size`` px picture relative to 128 px: about the area, but fixed costs make
    pictures under 64 px cost about as much as 64 px."""
    return max(0.25, (size / 128) ** 2)


def prior_step_seconds(layer_position: int, size: int, batch: int = 1) -> float:
    """A first guess of one full-size step's time before anything was measured (VGG16 on two CPU cores).

    Deeper layers cost more (about x1.2 per conv layer), larger pictures cost about their area.
    """
    return 0.018 * math.exp(0.18 * layer_position) * size_cost(size) * batch ** 0.85


def work_share(settings: Settings, receptive_field: int) -> float:
    """A render's cost per iteration as a share of a full-size iteration (below 1 for coarse to fine)."""
    stages = METHODS[settings.method].stages(settings.size, settings.steps, settings.objective, receptive_field)
    return sum(stage.steps * size_cost(stage.size) for stage in stages) / (settings.steps * size_cost(settings.size))


def preview_every(step_seconds: float, steps: int, target: float = PREVIEW_SECONDS) -> int:
    """Steps between two live pictures so that about ``target`` seconds pass between them."""
    return max(1, min(steps, round(target / max(step_seconds, 1e-6))))


class StepClock:
    """Measured seconds per step, by (layer, method, size, batch); shared by all sessions, thread-safe.

    A measurement is the mean over a render's steps (coarse and fine alike, so mean x iterations is the
    render's time), leaving out steps that compiled. Settings never measured get the depth/size guess,
    scaled by how this machine compared with the guess on the runs measured so far (a busy or slow
    machine makes every guess slower).
    """

    SPEED_SAMPLES = 20

    def __init__(self) -> None:
        self._seconds: dict[tuple, float] = {}
        self._ratios: list[float] = []  # measured / guessed, most recent last
        self._lock = threading.Lock()

    @staticmethod
    def key(settings: Settings) -> tuple:
        """What a step's time depends on."""
        return settings.layer, settings.method, settings.size, len(settings.filters)

    @staticmethod
    def guess(settings: Settings, layers: Sequence[LayerInfo]) -> float:
        """The depth/size guess for these settings."""
        position = next((i for i, info in enumerate(layers) if info.name == settings.layer), 0)
        return (prior_step_seconds(position, settings.size, len(settings.filters))
                * work_share(settings, layers[position].receptive_field))

    def estimate(self, settings: Settings, layers: Sequence[LayerInfo]) -> float:
        """The last measurement for these settings, else the guess scaled to this machine's speed."""
        with self._lock:
            measured = self._seconds.get(self.key(settings))
            speed = float(np.median(self._ratios)) if self._ratios else 1.0
        return measured if measured is not None else self.guess(settings, layers) * speed

    def record(self, settings: Settings, layers: Sequence[LayerInfo], durations: Sequence[float]) -> None:
        """Remember the mean measured step duration; steps over 10 x the median compiled and are left out."""
        if durations:
            typical = float(np.median(durations))
            seconds = float(np.mean([d for d in durations if d <= 10 * typical]))
            with self._lock:
                self._seconds[self.key(settings)] = seconds
                self._ratios = [*self._ratios, seconds / self.guess(settings, layers)][-self.SPEED_SAMPLES:]


def timed(frames: Iterator[Frame]) -> Iterator[tuple[Frame, float]]:
    """Each frame with the seconds the engine took to produce it (the caller's drawing time excluded)."""
    while True:
        start = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            return
        yield frame, time.perf_counter() - start


@dataclass
class RunRecord:
    """One render as a page shows it: live progress while running, then the result (or where it stopped)."""

    settings: Settings
    status: str = "running"   # running, stopped or done
    step: int = 0
    images: np.ndarray | None = None
    losses: np.ndarray | None = None
    result: RenderResult | None = None
    qualities: list[float | None] | None = None
    stop_reason: str = ""
    from_cache: bool = False
    timeline: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (iteration, pictures) for the animation
    animation: list[bytes] | None = None  # GIF per picture, made once at the end

    @property
    def total(self) -> int:
        return self.settings.steps

    def update(self, frame: Frame) -> bool:
        """Take in a frame; True if it brought new pictures."""
        self.step, self.losses = frame.step, frame.losses
        if frame.result is not None:
            self.result, self.status = frame.result, "done"
            self.images, self.losses = frame.result.images, frame.result.loss_history
            self.timeline.append((frame.step, frame.result.images))
            return True
        if frame.images is not None:
            self.images = frame.images
            self.timeline.append((frame.step, frame.images))
            if len(self.timeline) > 2 * animation.FRAMES:  # bounded memory on long, fast-drawn runs
                self.timeline = animation.thin(self.timeline)
            return True
        return False

    def interrupted(self, reason: str) -> None:
        """Mark a run that ended before its last step (Stop, or a setting changed mid-run)."""
        if self.status == "running":
            self.status, self.stop_reason = "stopped", reason

    @classmethod
    def finished(cls, result: RenderResult, from_cache: bool = False) -> RunRecord:
        """A record for an already finished result (e.g. from the disk cache)."""
        return cls(result.settings, "done", result.settings.steps, result.images, result.loss_history, result,
                   from_cache=from_cache)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 HxWx3 picture as PNG file contents."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_name(settings: Settings, index: int = 0) -> str:
    """A download file name that says what the picture is."""
    target = f"filter{settings.filters[index]}"
    if settings.blend_filter is not None:
        target += f"+{settings.blend_filter}mix{round(100 * settings.mix(index))}"
    if settings.objective != "channel":
        target += f"_{settings.objective}"
    return (f"{settings.layer}_{target}_{settings.method}_{settings.steps}it_"
            f"lr{settings.learning_rates[index]:g}_{settings.size}px.png")


def gif_name(settings: Settings, index: int = 0) -> str:
    """A download file name for the animation: the picture's name, ending .gif."""
    return png_name(settings, index).removesuffix(".png") + ".gif"


def loss_columns(losses: np.ndarray, labels: Sequence[str]) -> dict[str, list]:
    """Loss history ``[steps, batch]`` in long form: columns Iteration, curve (the label) and value."""
    losses = np.asarray(losses, np.float64).reshape(len(losses), -1)
    steps = list(range(1, len(losses) + 1))
    return {"Iteration": steps * len(labels),
            "curve": [label for label in labels for _ in steps],
            "value": [value for i in range(len(labels)) for value in losses[:, i].tolist()]}


def loss_chart_spec(labels: Sequence[str], y_title: str, title: str = "", steps: int | None = None) -> dict:
    """A Vega-Lite line chart of ``loss_columns`` data, one labelled curve per picture.

    A plain spec, because building the chart through Altair takes ~0.1 s per redraw. With ``steps`` the
    x axis spans the whole run, so a live curve grows from left to right.
    """
    legend = {"orient": "top", "title": None} if len(labels) > 1 else None
    spec = {
        "mark": {"type": "line"},
        "encoding": {
            "x": {"field": "Iteration", "type": "quantitative", "title": "Iteration",
                  "scale": {"domain": [1, max(steps, 2)]} if steps else {}},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "curve", "type": "nominal", "sort": list(labels), "legend": legend},
            "tooltip": [{"field": "curve", "title": "Curve"}, {"field": "Iteration"},
                        {"field": "value", "title": y_title, "format": ".3g"}],
        },
    }
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec


@dataclass
class NaturalReference:
    """The "x strongest natural photo" score, with the natural-photo reference prepared in the background.

    The reference takes about a minute to compute the first time for a model (then it is on disk),
    so the page never waits for it: ``scores`` returns None until it is ready.
    """

    model: LoadedModel
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    failed: bool = False

    def ready(self) -> bool:
        """True once the reference is on disk (then scoring takes a fraction of a second)."""
        return not self.failed and metrics.reference_path(self.model).exists()

    def prepare(self) -> None:
        """Start computing the reference in a background thread (once per process)."""
        if self.failed or self.ready():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._compute, name="natural-reference", daemon=True)
                self._thread.start()

    def _compute(self) -> None:
        try:
            metrics.natural_reference(self.model)
        except Exception:  # a background thread has nobody to report to but the log
            LOG.exception("Could not compute the natural-photo reference")
            self.failed = True

    def scores(self, result: RenderResult) -> list[float | None] | None:
        """One score per picture (None for filters silent on all photos), or None if not ready yet."""
        if not self.ready():
            self.prepare()
            return None
        s = result.settings
        try:
            return metrics.quality_scores(self.model, s.layer, list(s.filters), list(result.images))
        except Exception:  # a missing number must not hide the picture
            LOG.exception("Could not score the pictures against natural photos")
            self.failed = True
            return None


QUALITY_CAP = 100  # above this, natural photos barely excite the filter and the exact ratio says little


def quality_sentence(scores: list[float | None] | None) -> str:
    """One plain sentence about the "x strongest natural photo" number (or why there is none yet)."""
    if scores is None:
        return ("The comparison with ordinary photos is being prepared in the background (about a minute, once "
                "per model); its number appears here when the page next refreshes.")
    if scores[0] is None:
        return ("This filter never responds to the ordinary photos used for comparison, so there is no "
                "comparison number for it.")
    if scores[0] > QUALITY_CAP:
        return (f"**More than {QUALITY_CAP}× the strongest natural photo**: ordinary photos barely make this filter "
                f"respond at all, while this picture does ({scores[0]:,.0f} times as strongly as the photos that "
                "excite it most).")
    return (f"**{scores[0]:.1f}× the strongest natural photo**: this picture makes the filter respond "
            f"{scores[0]:.1f} times as strongly as the ordinary photos that excite it most (their top 1 %).")
