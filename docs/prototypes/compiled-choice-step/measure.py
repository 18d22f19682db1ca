"""Wall time per event of one world file, through the code tree on ``PYTHONPATH``: inside
``Room.accept`` and for the event path (decode, room, encode; ``flows.bench.profile``), best
of 3. ``python measure.py numpy|compiled|check WORLD.jsonl``: ``compiled`` with the kernels
of ``patch.py``; ``check`` runs both feature tables on every call and prints their largest
difference, column by column."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from flows.bench.profile import event_path
from models.room import Room


def room_seconds(lines: list[bytes]) -> float:
    spent = [0.0]
    clock = time.perf_counter

    class Timed(Room):
        def accept(self, events: Any, read_at: float = 0.0) -> Any:
            start = clock()
            out = super().accept(events, read_at)
            spent[0] += clock() - start
            return out

        def flush(self, *args: Any, **kwargs: Any) -> Any:
            start = clock()
            out = super().flush(*args, **kwargs)
            spent[0] += clock() - start
            return out

    event_path(lines, room_type=Timed)()
    return spent[0]


def path_seconds(lines: list[bytes]) -> float:
    run = event_path(lines)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def check(lines: list[bytes]) -> None:
    from patch import features_row

    import models.push
    from models.choice_features import FEATURES

    numpy_features = models.push.features_row
    worst = np.zeros(len(FEATURES))
    calls = [0]

    def both(scene: Any, row: int) -> np.ndarray:
        expected = numpy_features(scene, row)
        np.maximum(worst, np.abs(expected - features_row(scene, row)).max(axis=0), out=worst)
        calls[0] += 1
        return expected

    models.push.features_row = both
    try:
        event_path(lines)()
    finally:
        models.push.features_row = numpy_features
    print(f"{calls[0]} feature tables; largest difference per column:")
    for name, diff in zip(FEATURES, worst.tolist(), strict=True):
        print(f"  {name}: {diff:.2g}")
    check_steps()


def check_steps(steps: int = 2000) -> None:
    """The two Newton learners on the same random showcases, one step after another."""
    from patch import learn_matrix

    from models.choice_features import POWER, PRECISION, PRIORS, TASTE
    from models.learners.newton import NewtonSoftmax

    rng = np.random.default_rng(1)
    a, b = (NewtonSoftmax(TASTE, POWER, initial=PRIORS, prior_precision=PRECISION)
            for _ in range(2))
    worst = 0.0
    for _ in range(steps):
        n = int(rng.integers(2, 50))
        x = rng.normal(0.0, 1.0, (n, len(TASTE) + len(POWER)))
        chosen, weight = int(rng.integers(n)), float(rng.uniform(0.1, 1.0))
        expected, got = a.learn_matrix(x, chosen, weight), learn_matrix(b, x, chosen, weight)
        assert expected is not None and got is not None
        worst = max(worst, float(np.abs(expected - got).max()),
                    float(np.abs(a.weights - b.weights).max()))
    relative = float(np.abs(a.precision - b.precision).max() / np.abs(a.precision).max())
    print(f"{steps} Newton steps: probabilities and weights within {worst:.2g},"
          f" precision within {relative:.2g} relative")


def main() -> None:
    mode, world = sys.argv[1], sys.argv[2]
    threadpool_limits(1)
    lines = [line for line in Path(world).read_bytes().splitlines() if line.strip()]
    sys.path.insert(0, str(Path(__file__).parent))
    if mode == "check":
        check(lines)
        return
    context: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    if mode == "compiled":
        from patch import patched
        context = patched
    with context():
        room = min(room_seconds(lines) for _ in range(3)) / len(lines) * 1e6
        path = min(path_seconds(lines) for _ in range(3)) / len(lines) * 1e6
    print(f"{mode}: Room {room:.2f} µs per event, event path {path:.2f} µs per event")


if __name__ == "__main__":
    main()
