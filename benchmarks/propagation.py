"""Speed of the edge-aware hint propagation (core.propagation) at the working size.

    python benchmarks/propagation.py                  # 256 x 384, 5 hints, 3 iterations, 15 repeats
    python benchmarks/propagation.py --size 256 256 --hints 1 --iterations 2 --repeats 31

Prints the median and the best milliseconds of: the edge weights (once per photo, on the lightness
alone), the user edit's weights (lightness and semantic guide, once per photo), a propagation of
the hints' ab, a hint's region of influence, and the whole user edit laid on the pipeline's
colours (core.user_edit: what a click costs: the claim, then the spread).
The median is what a user waits for on a quiet machine; the best shows the floor when other work
shares the cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
import skimage.transform  # noqa: E402

from core.propagation import edge_weights, influence, propagate  # noqa: E402
from core.user_edit import compose_user_edit, semantic_guide, user_edit_weights  # noqa: E402

BUDGET_MS = 15.0


def _time(step: Callable[[], object], repeats: int) -> tuple[float, float]:
    step()  # warm caches (the impulse peak, numpy's buffers)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(256, 384), metavar=("H", "W"))
    parser.add_argument("--hints", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    height, width = args.size

    grey = skimage.data.astronaut().mean(axis=2) / 255.0 * 100.0
    L = skimage.transform.resize(grey, (height, width), anti_aliasing=True).astype(np.float32)
    rng = np.random.default_rng(0)
    centres = [(int(rng.integers(1, height - 1)), int(rng.integers(1, width - 1))) for _ in range(args.hints)]
    ab = np.zeros((2, height, width), dtype=np.float32)
    mask = np.zeros((1, height, width), dtype=np.float32)
    for y, x in centres:
        mask[0, y - 1 : y + 2, x - 1 : x + 2] = 1.0
        ab[:, y - 1 : y + 2, x - 1 : x + 2] = rng.uniform(-40, 40, size=(2, 1, 1))

    weights = edge_weights(L, iterations=args.iterations)
    # The user edit's weights read the photo's content descriptors too (152 channels at stride 8 for
    # EfficientNet-Lite0); random ones cost the same.
    descriptors = rng.standard_normal((152, height // 8, width // 8)).astype(np.float32)
    user_weights = user_edit_weights(L, semantic_guide(descriptors, (height, width)))
    base = np.zeros_like(ab)
    rows = [
        ("edge weights (per photo)", lambda: edge_weights(L, iterations=args.iterations)),
        ("user edit weights (per photo)", lambda: user_edit_weights(L, semantic_guide(descriptors, (height, width)))),
        ("propagate ab (per click)", lambda: propagate(ab, mask, weights)),
        ("influence (per click)", lambda: influence(centres, weights)),
        ("compose user edit (per click)", lambda: compose_user_edit(base, ab, mask, centres, user_weights)),
    ]
    print(f"{height} x {width}, {args.hints} hints, {args.iterations} iterations, {args.repeats} repeats")
    print(f"{'step':<32}{'median ms':>10}{'best ms':>10}")
    for name, step in rows:
        median, best = _time(step, args.repeats)
        print(f"{name:<32}{median:>10.2f}{best:>10.2f}")
    print(f"budget per click: {BUDGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
