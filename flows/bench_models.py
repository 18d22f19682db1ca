"""The bench's in-process measurements of pure code: ranking and learners.

Everything here runs in the bench's own process, with BLAS pinned to one thread by the
caller (as ``flows.jobs.prepare`` does for the job). Times are wall-clock
(``time.perf_counter``): best and median of repeats after one untimed warm-up call.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.events import Event, Origin, ShowcaseItem
from features.viewers import ATTR_BUCKETS, CATEGORY_BUCKETS
from features.windows import CARTS, CLICKS, PURCHASES
from models.params import FEEDBACK, RoomParams
from models.push import PushContext, build_push
from models.room import Room

T0 = 1_764_331_200_000
ORIGIN = Origin("bench", 0, 0)
CATEGORIES = ("beauty", "fashion", "home", "food", "tech", "toys", "sport", "garden")


@dataclass(slots=True)
class Timing:
    best_ms: float
    median_ms: float
    repeats: int


def time_call(fn: Callable[[], object], repeats: int, warmup: bool = True) -> Timing:
    """Best and median wall time of ``fn`` over ``repeats`` calls (after one warm-up)."""
    if warmup:
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return Timing(min(times), statistics.median(times), len(times))


# -- ranking ---------------------------------------------------------------------------------


def showcase_event(event_id: str, ts: int, n_items: int, room_id: str = "bench-room") -> Event:
    rnd = random.Random(n_items)
    items = tuple(
        ShowcaseItem(f"sku-{j:04d}", round(rnd.uniform(5, 300), 2), CATEGORIES[j % 8])
        for j in range(n_items)
    )
    spotlight = items[n_items // 3].item_id if items else None
    return Event(event_id, "showcase", ts, room_id, ORIGIN, items=items, spotlight=spotlight)


class RankingRoom:
    """A ``Room`` holding ``viewers`` present, partly warm viewers and ``max_items`` items.

    The viewer columns and vectors are filled with array assignments (the values a day of
    events would leave: tiers, hashed attrs, spend, clicks, categories; 30% of viewers and
    70% of items warm) instead of replaying a million ``enter`` events through ``accept``.
    """

    def __init__(self, viewers: int, max_items: int, seed: int = 7) -> None:
        params = RoomParams()
        rng = np.random.default_rng(seed)
        room = Room("bench-room", params)
        # The items: a real showcase through accept/flush (vectors, window rows, categories).
        room.accept([showcase_event("bench-s0", T0, max_items)])
        room.flush()
        self.now = T0 + 60_000
        for row in range(max_items):
            for channel, rate in ((CLICKS, 3.0), (CARTS, 1.0), (PURCHASES, 0.3)):
                room.window.add(row, channel, float(rng.poisson(rate)), self.now - 30_000)
        warm_items = rng.random(max_items) < 0.7
        room.mf.item_updates[:max_items] = np.where(warm_items, rng.integers(1, 50, max_items), 0)
        # The viewers.
        table = room.viewers
        for n in range(viewers):
            table.rows.add(f"u-{n:07d}")
        cap = table.rows.capacity
        v = viewers
        table.last_seen = np.zeros(cap, np.int64)
        table.last_seen[:v] = self.now - rng.integers(0, 60_000, v)
        table.present = np.zeros(cap, bool)
        table.present[:v] = True
        tier = rng.integers(0, 6, cap).astype(np.float32)
        table.has_tier = (rng.random(cap) < 0.5).astype(np.float32)
        table.tier = tier * table.has_tier
        table.attrs = (rng.random((cap, ATTR_BUCKETS)) < 0.2).astype(np.float32)
        buyers = (rng.random(cap) < 0.1).astype(np.float32)
        table.purchases = buyers * rng.integers(1, 4, cap).astype(np.float32)
        table.spend = table.purchases * rng.uniform(10, 200, cap).astype(np.float32)
        table.clicks = rng.poisson(2.0, cap).astype(np.float32)
        table.carts = rng.poisson(0.3, cap).astype(np.float32)
        table.watch_ms = rng.uniform(0, 3_600_000, cap).astype(np.float32)
        table.categories = rng.poisson(0.5, (cap, CATEGORY_BUCKETS)).astype(np.float32)
        mf = room.mf
        mf.reserve(cap, 0)
        mf.users[:v] = rng.normal(0.0, mf.sigma, (v, mf.n_factors))
        warm = rng.random(v) < 0.3
        mf.user_updates[:v] = np.where(warm, rng.integers(1, 30, v), 0)
        control = params.arms.names.index("control") if "control" in params.arms.names else 0
        room.arm = np.where(rng.random(cap) < 0.1, control, 0).astype(np.int8)
        room.pushed_at = np.full(cap, -1, np.int64)
        room.pushed_items = np.full((cap, params.top_k), -1, np.int64)
        # A propensity model that has learned something (non-trivial weights).
        names = _feature_names()
        for _ in range(200):
            values = rng.normal(0, 1, len(names)).tolist()
            x = dict(zip(names, values, strict=True))
            room.propensity.learn_one(x, bool(rng.random() < 0.3))
        self.room = room
        self.viewers = viewers

    def show(self, n_items: int) -> Event:
        """Put the first ``n_items`` items on show; returns the trigger event."""
        event = showcase_event(f"bench-s{n_items}", self.now, n_items)
        showcase, new = self.room.items.show(event.event_id, event.ts, event.items, event.spotlight)
        assert not new, "items were all created in __init__"
        self.room.showcase = showcase
        return event

    def push(self, event: Event) -> Any:
        """The ranking path of a showcase change: present rows, gather, rank, PushBatch."""
        room = self.room
        rows = room.viewers.present_rows(event.ts)
        ctx = PushContext(
            viewers=room.viewers,
            items=room.items,
            window=room.window.totals(event.ts),
            showcase=room.showcase,
            mf=room.mf,
            propensity=room.propensity,
            params=room.params,
        )
        return build_push(ctx, rows, room.arm[rows], event, room.room_id)


def _feature_names() -> tuple[str, ...]:
    from models.propensity import FEATURES

    return tuple(FEATURES)


def _call(fn: Callable[..., object], *args: object) -> Callable[[], object]:
    return lambda: fn(*args)


def bench_ranking(
    viewer_counts: Iterable[int],
    item_counts: Iterable[int],
    repeats: Callable[[int], int],
    progress: Callable[[str], None],
) -> tuple[dict[str, Timing], dict[str, Timing]]:
    """``build_push`` and the bare float32 matmul floor for every (viewers × items) shape."""
    items = sorted(item_counts)
    rank: dict[str, Timing] = {}
    matmul: dict[str, Timing] = {}
    for v in viewer_counts:
        progress(f"ranking: building a room of {v:,} present viewers")
        bench_room = RankingRoom(v, max(items))
        d = bench_room.room.params.dim
        rng = np.random.default_rng(v)
        queries = rng.standard_normal((v, d), dtype=np.float32)
        for n in items:
            key = f"{v}x{n}"
            event = bench_room.show(n)
            batch = bench_room.push(event)
            top_k = min(n, bench_room.room.params.top_k)
            assert len(batch) == v and batch.top.shape == (v, top_k)
            rank[key] = time_call(_call(bench_room.push, event), repeats(v))
            keys_t = rng.standard_normal((d, n), dtype=np.float32)
            matmul[key] = time_call(_call(np.matmul, queries, keys_t), max(repeats(v), 5))
            progress(
                f"ranking {key}: build_push {rank[key].best_ms:.1f} ms,"
                f" matmul {matmul[key].best_ms:.2f} ms (best of {rank[key].repeats})"
            )
        del bench_room
    return rank, matmul


# -- learners --------------------------------------------------------------------------------


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
    facade_eps: float  # models.factorization.FunkMF.learn_one on string ids
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

    from models.factorization import FunkMF, RowFunkMF, update_waves

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
        mf = RowFunkMF(dim, params.lr, params.l2, params.init_sigma, seed=1)
        for r in range(len(user_rows)):
            mf.init_user(r)
        for r in range(len(item_rows)):
            mf.init_item(r)
        return mf

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
    through ``Room.accept`` (as ``flows.bench_profile.event_path`` does), each batch recorded
    with its room before it is applied."""
    from flows.bench_profile import event_path

    batches: list[tuple[str, list[int], list[int], list[float]]] = []

    class Recording(Room):
        def _apply_learning(self) -> None:
            users, items, ys = self.pending
            if users:
                batches.append((self.room_id, list(users), list(items), list(ys)))
            super()._apply_learning()

    event_path(lines, room_type=Recording)()
    return batches


def bench_job_learning(
    batches: list[tuple[str, list[int], list[int], list[float]]], repeats: int, dim: int = 32
) -> JobLearning:
    """Updates/s of ``RowFunkMF.learn_many`` over the job's own batches, in order, one learner
    per room (fresh vectors each repeat, best kept): the learner's speed inside the job,
    where batches are as short as the gaps between two reads of the vectors."""
    from models.factorization import RowFunkMF

    params = RoomParams()
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
        rng = np.random.default_rng(1)
        models = {}
        for room, (rows, cols) in shapes.items():
            mf = models[room] = kind(dim, params.lr, params.l2, params.init_sigma, seed=1)
            mf.reserve(rows, cols)
            mf.users[:rows] = rng.normal(0.0, mf.sigma, (rows, dim))
            mf.items[:cols] = rng.normal(0.0, mf.sigma, (cols, dim))
        return models

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


def _same_update_diff(dim: int) -> float:
    """Largest difference between River's and RowFunkMF's vectors after the same updates
    from the same starting vectors (a check that the two learners compared do the same work)."""
    from river import optim, reco

    from models.factorization import RowFunkMF

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


# -- room state ------------------------------------------------------------------------------
