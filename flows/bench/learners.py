"""The bench's learner measurements: the job's learner against River's on the same updates,
batched and one by one, and inside the job (the batches ``Room`` itself forms).

Everything runs in the bench's own process; times are ``time.perf_counter`` wall-clock, best
of interleaved repeats, each from fresh vectors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.params import FEEDBACK, RoomParams
from models.room import Room


def learning_events(
    world_events: Iterable[dict[str, Any]], dim: int
) -> list[tuple[str, str, float]]:
    """(user, item, y) of the world's item interactions, with the job's √d target scale."""
    scale = math.sqrt(dim)
    out = []
    for e in world_events:
        user, item, etype = e.get("user_id"), e.get("item_id"), e.get("type")
        if user and item and FEEDBACK.get(str(etype)):
            out.append((str(user), str(item), FEEDBACK[str(etype)] * scale))
    return out


@dataclass(slots=True)
class LearnResult:
    events: int
    row_eps: float  # RowFunkMF.learn_many: all the updates in one call, on integer rows
    facade_eps: float  # models.learners.funk_mf.FunkMF.learn_one on string ids
    river_eps: float  # river.reco.FunkMF.learn_one on string ids
    max_abs_diff: float  # |River − RowFunkMF| after the same 3 updates from the same vectors
    sequential_eps: float  # RowFunkMF.learn, one call per update (what learn_many equals)
    waves: int  # learn_many's waves for these updates
    many_max_diff: float  # |learn_many − sequential learn| after all the updates


def bench_learners(
    events: list[tuple[str, str, float]], repeats: int, dim: int = 32
) -> LearnResult:
    """Updates/s of the job's learner and of River's over the same (user, item, y) events.

    ``row_eps`` is ``RowFunkMF.learn_many`` over all the events in one call (what the job
    does with a run of events between two reads of the vectors; the integer arrays are built
    before the clock starts, as the sequential loop's tuples are); ``sequential_eps`` is
    ``RowFunkMF.learn`` once per event. Every learner starts from fresh vectors on each
    repeat; the repeats are interleaved and the best of each is kept.
    """
    from river import optim, reco

    from models.learners.factorization import RowFunkMF, update_waves
    from models.learners.funk_mf import FunkMF

    params = RoomParams()
    user_rows: dict[str, int] = {}
    item_rows: dict[str, int] = {}
    triples = [
        (user_rows.setdefault(u, len(user_rows)), item_rows.setdefault(i, len(item_rows)), y)
        for u, i, y in events
    ]
    users = np.array([u for u, _, _ in triples], dtype=np.intp)
    items = np.array([i for _, i, _ in triples], dtype=np.intp)
    ys = np.array([y for _, _, y in triples], dtype=np.float64)
    models: dict[str, RowFunkMF] = {}

    def fresh() -> RowFunkMF:
        return _fresh_learner(RowFunkMF, len(user_rows), len(item_rows), dim)

    def many() -> float:
        mf = models["many"] = fresh()
        start = time.perf_counter()
        mf.learn_many(users, items, ys)
        return time.perf_counter() - start

    def sequential() -> float:
        mf = models["sequential"] = fresh()
        learn = mf.learn
        start = time.perf_counter()
        for u, i, y in triples:
            learn(u, i, y)
        return time.perf_counter() - start

    def facade() -> float:
        learn = FunkMF(dim, params.lr, params.l2, params.init_sigma, seed=1).learn_one
        start = time.perf_counter()
        for u, i, y in events:
            learn(u, i, y)
        return time.perf_counter() - start

    def river() -> float:
        model = reco.FunkMF(
            n_factors=dim,
            optimizer=optim.SGD(params.lr),
            l2=params.l2,
            initializer=optim.initializers.Normal(0.0, params.init_sigma, seed=1),
            seed=1,
        )
        learn = model.learn_one
        start = time.perf_counter()
        for u, i, y in events:
            learn(u, i, y)
        return time.perf_counter() - start

    learners = (many, sequential, facade, river)
    best = [math.inf] * len(learners)
    for _ in range(max(1, repeats)):
        for n, fn in enumerate(learners):
            best[n] = min(best[n], fn())
    many_eps, sequential_eps, facade_eps, river_eps = (len(events) / s for s in best)
    a, b = models["many"], models["sequential"]
    many_diff = float(max(np.abs(a.users - b.users).max(), np.abs(a.items - b.items).max()))
    return LearnResult(
        len(events),
        many_eps,
        facade_eps,
        river_eps,
        _same_update_diff(dim),
        sequential_eps=sequential_eps,
        waves=int(update_waves(users, items).max(initial=0)),
        many_max_diff=many_diff,
    )


@dataclass(slots=True)
class JobLearning:
    updates: int
    batches: int
    largest: int
    eps: float  # learn_many over the batches the job formed, in their order
    vectorised: int  # batches learn_many applied in waves rather than one by one


def job_learning_batches(lines: list[bytes]) -> list[tuple[str, list[int], list[int],
                                                          list[float]]]:
    """The vector updates as the job hands them to ``learn_many``: the world's events run
    through ``Room.accept`` (as ``flows.bench.profile.event_path`` does), each batch recorded
    with its room before it is applied."""
    from flows.bench.profile import event_path

    batches: list[tuple[str, list[int], list[int], list[float]]] = []

    class Recording(Room):
        def apply_learning(self) -> None:
            users, items, ys = self.pending
            if users:
                batches.append((self.room_id, list(users), list(items), list(ys)))
            super().apply_learning()

    event_path(lines, room_type=Recording)()
    return batches


def bench_job_learning(
    batches: list[tuple[str, list[int], list[int], list[float]]], repeats: int, dim: int = 32
) -> JobLearning:
    """Updates/s of ``RowFunkMF.learn_many`` over the job's own batches, in order, one learner
    per room (fresh vectors each repeat, best kept): the learner's speed inside the job,
    where batches are as short as the gaps between two reads of the vectors."""
    from models.learners.factorization import RowFunkMF

    shapes: dict[str, tuple[int, int]] = {}
    for room, users, items, _ in batches:
        rows, cols = shapes.get(room, (0, 0))
        shapes[room] = (max(rows, max(users) + 1), max(cols, max(items) + 1))
    looped = 0

    class Counting(RowFunkMF):
        """Counts the batches ``learn_many`` hands to its one-by-one loop."""

        def _learn_loop(self, users: Any, items: Any, ys: Any) -> None:
            nonlocal looped
            looped += 1
            super()._learn_loop(users, items, ys)

    def learners(kind: type[RowFunkMF]) -> dict[str, RowFunkMF]:
        return {room: _fresh_learner(kind, *shape, dim) for room, shape in shapes.items()}

    counting = learners(Counting)  # which path each batch takes (not timed)
    for room, users, items, ys in batches:
        counting[room].learn_many(users, items, ys)
    best = math.inf
    for _ in range(max(1, repeats)):
        models = learners(RowFunkMF)
        start = time.perf_counter()
        for room, users, items, ys in batches:
            models[room].learn_many(users, items, ys)
        best = min(best, time.perf_counter() - start)
    updates = sum(len(users) for _, users, _, _ in batches)
    return JobLearning(updates, len(batches), max((len(u) for _, u, _, _ in batches), default=0),
                       updates / best, len(batches) - looped)


def _fresh_learner(kind: type[Any], users: int, items: int, dim: int) -> Any:
    """A learner with the job's parameters and ``users`` × ``items`` rows initialised as
    ``Room`` initialises them (same seed every time, so repeats start alike)."""
    params = RoomParams()
    mf = kind(dim, params.lr, params.l2, params.init_sigma, seed=1)
    for row in range(users):
        mf.init_user(row)
    for row in range(items):
        mf.init_item(row)
    return mf


def _same_update_diff(dim: int) -> float:
    """Largest difference between River's and RowFunkMF's vectors after the same updates
    from the same starting vectors (a check that the two learners compared do the same work)."""
    from river import optim, reco

    from models.learners.factorization import RowFunkMF

    rng = np.random.default_rng(3)
    u0, i0 = rng.normal(0, 0.1, dim), rng.normal(0, 0.1, dim)
    river = reco.FunkMF(n_factors=dim, optimizer=optim.SGD(0.05))
    river.u_latents["u"] = u0.copy()
    river.i_latents["i"] = i0.copy()
    mf = RowFunkMF(dim, 0.05, 0.0)
    mf.reserve(1, 1)
    mf.users[0], mf.items[0] = u0, i0
    for y in (1.0, 0.5, 2.0):
        river.learn_one("u", "i", y)
        mf.learn(0, 0, y)
    return float(
        max(np.abs(river.u_latents["u"] - mf.users[0]).max(),
            np.abs(river.i_latents["i"] - mf.items[0]).max())
    )
