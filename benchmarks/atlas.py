"""Atlas throughput: filters per minute per layer, one process (one filter at a time, or batches) against
Ray local workers, and an estimate for all 4,224 VGG16 filters on N such machines.

    /tmp/venv/bin/python benchmarks/atlas.py          # block1_conv1 and block3_conv1, 16 filters, 16 steps, 128 px

Short runs (``--steps``, default 16) are extrapolated to 256 steps: the time per filter is proportional
to the steps once the step is compiled (every configuration renders one warm-up batch of its own batch
size first, and each Ray worker one, so compiling and model loading are not counted). The atlas itself
(PNGs, index.json) is not written here: it costs milliseconds per batch. On a shared machine, read the
rows of one run as ratios.
"""
from __future__ import annotations

import argparse
import functools
import time

from common import add_model_arguments, format_table, load
from speed import step_flops

import vizcore
from vizcore.atlas import Job, Renderer, atlas_parameters, local_renderer, ray_renderer
from vizcore.models import LoadedModel

FULL_STEPS = 256
WORKERS = (1, 2, 4, 8, 16)


def filters_per_minute(renderer: Renderer, layer: str, count: int, batch: int, steps: int, size: int,
                       engine: vizcore.Engine, warm_ups: int = 1) -> float:
    """Filters per minute at ``FULL_STEPS`` steps, measured on ``count`` filters at ``steps`` steps."""
    def jobs(step_count: int, filters: range) -> list[Job]:
        parameters = atlas_parameters(engine, "robust", step_count, size)
        return [Job(layer, tuple(filters[i:i + batch]), parameters, quality=False)
                for i in range(0, len(filters), batch)]

    for _ in renderer(jobs(2, range(batch * warm_ups))):
        pass
    start = time.perf_counter()
    for _ in renderer(jobs(steps, range(count))):
        pass
    return count / (time.perf_counter() - start) * 60 * steps / FULL_STEPS


def estimate_hours(model: LoadedModel, measured: dict[str, float], size: int, workers: int) -> float:
    """Hours for every filter of every layer on ``workers`` machines like this one.

    Seconds per filter are fitted as overhead + cost x FLOPs per step through the measured layers, and
    the machines are assumed to scale perfectly (the driver only writes files).
    """
    (low, low_rate), (high, high_rate) = sorted(measured.items(), key=lambda item: step_flops(model, item[0], size))
    x0, x1 = step_flops(model, low, size), step_flops(model, high, size)
    y0, y1 = 60 / low_rate, 60 / high_rate
    slope = (y1 - y0) / (x1 - x0)
    seconds = sum(info.filters * max(y0 + slope * (step_flops(model, info.name, size) - x0), y0)
                  for info in model.layers)
    return seconds / workers / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    parser.set_defaults(layers="block1_conv1,block3_conv1")
    parser.add_argument("--filters", type=int, default=16, help="filters rendered per configuration (default 16)")
    parser.add_argument("--steps", type=int, default=16, help="steps per filter, extrapolated to 256 (default 16)")
    parser.add_argument("--size", type=int, default=128, help="picture size in pixels (default 128)")
    parser.add_argument("--batches", default="1,8,16", help="batch sizes for one process (default 1,8,16)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray local rows")
    args = parser.parse_args()
    model, layers = load(args)
    engine = vizcore.Engine(model)
    batches = [int(b) for b in args.batches.split(",")]
    ray_batch = max(1, args.filters // 2)
    print(f"{args.filters} filters per configuration, {args.steps} steps extrapolated to {FULL_STEPS}, "
          f"{args.size} px, robust")
    local = local_renderer(engine)
    rates = {f"one process, batch {batch}": {layer: filters_per_minute(local, layer, args.filters, batch, args.steps,
                                                                       args.size, engine) for layer in layers}
             for batch in batches}
    if not args.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            factory = functools.partial(vizcore.load_model, args.model)
            with ray_renderer("local", factory, model.fingerprint) as ray_local:
                rates[f"Ray local, 2 workers x 1 thread, batch {ray_batch}"] = {
                    layer: filters_per_minute(ray_local, layer, args.filters, ray_batch, args.steps, args.size,
                                              engine, warm_ups=2) for layer in layers}
        finally:
            ray.shutdown()
    print(format_table(["configuration", *(f"{layer} filters/min" for layer in layers)],
                       [[name, *(by_layer[layer] for layer in layers)] for name, by_layer in rates.items()]))
    if len(layers) != 2:
        return
    best = min(rates, key=lambda name: estimate_hours(model, rates[name], args.size, 1))
    print(f"\nfastest for the whole model: {best}")
    print(f"\nAll {sum(info.filters for info in model.layers)} filters at {FULL_STEPS} steps, {args.size} px, "
          f"with '{best}' on N machines like this one (estimated from the two layers, perfect scaling):")
    print(format_table(["machines", "hours"], [[n, estimate_hours(model, rates[best], args.size, n)] for n in WORKERS]))


if __name__ == "__main__":
    main()
