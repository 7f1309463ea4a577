"""The page's shareable view without Streamlit: the sidebar's settings as URL query parameters (parsed with
clamping and plain-words warnings), the learning-rate choices and the picture sizes offered.

Without TensorFlow (the engine's names load on first use), so the sidebar is drawn before the engine starts;
only a link with a written objective reads it with the engine's parser."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import vizcore
from vizcore.errors import InputError
from vizcore.method_cards import METHOD_CARDS, MethodCard
from vizcore.models import LayerInfo

SIZES = (64, 96, 128, 192, 256)
DEFAULT_SIZE = 128
MAX_ITERATIONS = 1000
DEFAULT_METHOD = "robust"
DEFAULT_MIX = 50  # percent of the second filter in a blend
OBJECTIVE_TITLES = {"channel": "Whole filter (channel)", "neuron": "Centre neuron",
                    "dream": "Whole layer (DeepDream)", "minus": "This filter but not one of another layer",
                    "own": "Write your own"}
BLENDS = ("channel", "neuron")  # the objectives a second filter can be blended into


@dataclass(frozen=True)
class View:
    """The settings the sidebar shows; all of them live in the URL so a view can be shared."""

    layer: str
    filter: int
    method: str
    steps: int
    lr: float
    size: int
    objective: str = "channel"  # one of OBJECTIVE_TITLES
    blend: int | None = None  # a second filter mixed in (channel and neuron only)
    mix: int = DEFAULT_MIX  # its share, in percent (only with blend)
    minus: str = ""  # 'layer:filter' subtracted (objective "minus")
    own: str = ""  # an objective written out (objective "own"), e.g. 'block3_conv1:12 - diversity(...)'

    def to_query(self) -> dict[str, str]:
        """Query parameters for this view (all values are strings); the objective and blend only when used."""
        query = {"layer": self.layer, "filter": str(self.filter), "method": self.method, "steps": str(self.steps),
                 "lr": f"{self.lr:g}", "size": str(self.size)}
        if self.objective != "channel":
            query["objective"] = self.objective
        if self.blend is not None and self.objective in BLENDS:
            query.update(blend=str(self.blend), mix=str(self.mix))
        if self.objective in ("minus", "own"):
            query[self.objective] = getattr(self, self.objective)
        return query

    def objective_for(self) -> vizcore.Objective:
        """What the view's picture maximises (an InputError in plain words if a written objective is wrong)."""
        if self.objective == "own":
            return vizcore.parse(self.own)
        if self.objective == "dream":
            return vizcore.deepdream(self.layer)
        objective = self.one_filter(self.filter)
        if self.blend is not None and self.objective in BLENDS:
            objective = (1 - self.mix / 100) * objective + self.mix / 100 * self.one_filter(self.blend)
        return objective - vizcore.parse(self.minus) if self.objective == "minus" else objective

    def one_filter(self, index: int) -> vizcore.Objective:
        """Filter ``index`` of the view's layer alone: its centre neuron for that objective, else its whole map."""
        return (vizcore.neuron if self.objective == "neuron" else vizcore.channel)(self.layer, index)

    def settings(self, engine: vizcore.Engine, filters: Sequence[int] | None = None,
                 rates: Sequence[float] | None = None, copies: int = 1, diversity: float = 0.0) -> vizcore.Settings:
        """Engine settings for the view, for other learning rates, for copies pushed apart by ``diversity``, or
        for other filters of the layer (then each filter alone: its whole map or centre neuron)."""
        if filters is not None:
            objectives = [self.one_filter(index) for index in filters]
        else:
            objective = self.objective_for()
            objectives = [vizcore.with_diversity(objective, diversity) if copies > 1 else objective]
        return engine.settings(objectives, self.method, self.steps, self.size, list(rates) if rates else [self.lr],
                               copies=copies)


def picture_sizes(input_size: int | None) -> tuple[int, ...]:
    """The image sizes the page offers for a model: its own size if it takes only one (``input_size``), else
    SIZES."""
    return SIZES if input_size is None else (input_size,)


def lr_step(method: MethodCard) -> float:
    """The learning-rate slider's step: its lower bound (0.005 for Robust, 0.1 for Classic)."""
    return method.lr_range[0]


def clamp(value: float, low: float, high: float) -> float:
    """``value`` brought into ``low`` .. ``high`` (the nearest end if outside)."""
    return min(max(value, low), high)


def lr_decimals(method: MethodCard) -> int:
    """How many decimals the learning rate needs to be shown exactly (those of the slider's step)."""
    return len(f"{lr_step(method):g}".partition(".")[2])


def snap_lr(method: MethodCard, value: float) -> float:
    """Clamp ``value`` into the method's range and round it onto the slider's grid."""
    lo, hi = method.lr_range
    step = lr_step(method)
    snapped = lo + round((clamp(value, lo, hi) - lo) / step) * step
    return round(clamp(snapped, lo, hi), lr_decimals(method))


def lr_choices(method: MethodCard) -> list[float]:
    """Learning rates worth comparing: 1-2-5 steps inside the method's range, plus its default."""
    lo, hi = method.lr_range
    values = {method.default_lr}
    for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa * 10.0 ** exponent:.6g}")
            if lo <= value <= hi:
                values.add(value)
    return sorted(values)


def compare_defaults(method: MethodCard) -> list[float]:
    """Three rates to compare at first: about a third of the default, the default, about three times it."""
    choices = lr_choices(method)

    def nearest(target: float) -> float:
        return min(choices, key=lambda value: abs(math.log(value / target)))

    return sorted({nearest(method.default_lr / 3), method.default_lr, nearest(method.default_lr * 3)})


def default_view(layers: Sequence[LayerInfo]) -> View:
    """The view a new visitor sees: first layer, filter 0, the Robust method with its defaults."""
    method = METHOD_CARDS[DEFAULT_METHOD]
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
    clamped = clamp(number, 0, count - 1)
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
        if text.lower() in METHOD_CARDS:
            method = METHOD_CARDS[text.lower()]
            view = replace(view, method=method.name, steps=method.default_steps, lr=method.default_lr)
        else:
            warnings.append(f"The link's method '{text}' is unknown; using {METHOD_CARDS[view.method].title}. "
                            f"Methods: {', '.join(m.title for m in METHOD_CARDS.values())}.")
    method = METHOD_CARDS[view.method]

    text = _first(params.get("steps"))
    if text is not None:
        number = _parse_int(text)
        if number is None:
            warnings.append(f"The link's number of iterations '{text}' is not a whole number; "
                            f"using {view.steps}.")
        else:
            clamped = clamp(number, 1, MAX_ITERATIONS)
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
        if text.lower() in OBJECTIVE_TITLES:
            view = replace(view, objective=text.lower())
        else:
            warnings.append(f"The link's objective '{text}' is unknown; using the whole filter. "
                            f"Objectives: {', '.join(OBJECTIVE_TITLES)}.")
    for field in ("minus", "own"):
        text = _first(params.get(field))
        if view.objective == field:
            view, problem = _written_objective(view, field, text or "")
            warnings += problem
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
        clamped = DEFAULT_MIX if number is None else clamp(number, 0, 100)
        if number != clamped:
            warnings.append(f"The link's mix '{text}' is not a whole percentage from 0 to 100; "
                            f"using {clamped} %.")
        view = replace(view, mix=clamped)
    return view, warnings


def _written_objective(view: View, field: str, text: str) -> tuple[View, list[str]]:
    """The view with the link's subtracted filter or own objective, if it reads; else the whole filter and a
    warning."""
    try:
        objective = vizcore.parse(text)
        if field == "minus" and objective.filter is None:
            raise InputError(f"'{text}' is not one filter, like block3_conv3:12")
    except InputError as error:
        return replace(view, objective="channel"), [f"The link's objective cannot be used ({error}); "
                                                    "using the whole filter."]
    return replace(view, **{field: str(objective)}), []
