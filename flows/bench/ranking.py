"""The bench's in-process measurements of pure code: ranking (learners: ``bench_learners``).

Everything here runs in the bench's own process, with BLAS pinned to one thread by the
caller (as ``flows.jobs.prepare`` does for the job). Times are wall-clock
(``time.perf_counter``): best and median of repeats after one untimed warm-up call.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.contract.events import Event, Origin, ShowcaseItem
from features.state.viewers import CATEGORY_SLOTS, SEGMENT_SLOTS
from features.state.windows import CARTS, CLICKS, PURCHASES
from models.learners.factorization import RowFunkMF
from models.params import RoomParams
from models.push import build_push
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
    events would leave: tiers, segments, spend, choices per category, recent intent for 5%;
    30% of viewers and 70% of items warm) instead of replaying a million events.
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
        table.segments = (rng.random((cap, SEGMENT_SLOTS)) < 0.2).astype(np.uint8)
        # What choices leave: a few per viewer, exposure spread over the showcase.
        table.cat_chosen = rng.poisson(0.3, (cap, CATEGORY_SLOTS)).astype(np.float16)
        table.cat_exposed = (table.cat_chosen.sum(axis=1, keepdims=True)
                             * rng.dirichlet(np.ones(CATEGORY_SLOTS), cap)).astype(np.float32)
        table.price_w = rng.poisson(2.0, cap).astype(np.float32)  # a third have acted on none
        table.price_lp = table.price_w * rng.uniform(2.0, 5.5, cap).astype(np.float32)
        active = rng.random(cap) < 0.05  # acted in the last minutes
        table.recent_item = np.where(active[:, None], rng.integers(1, max_items + 1, (cap, 3)),
                                     0).astype(np.int32)
        now_s = self.now // 1000  # the table keeps seconds
        table.recent_ts = np.where(active[:, None], now_s - rng.integers(0, 300, (cap, 3)),
                                   0).astype(np.uint32)
        table.recent_kind = np.where(active[:, None], rng.integers(1, 4, (cap, 3)),
                                     0).astype(np.int8)
        engaged = rng.random(cap) < 0.2
        table.engaged_item = np.where(engaged, rng.integers(1, max_items + 1, cap),
                                      0).astype(np.int32)
        table.engaged_ts = np.where(engaged, now_s - rng.integers(0, 300, cap), 0).astype(np.uint32)
        choices = room.choices
        choices.own()  # written in place below
        choices.cat_chosen[:] = rng.poisson(20.0, CATEGORY_SLOTS)
        choices.cat_exposed[:] = choices.cat_chosen.sum() * rng.dirichlet(np.ones(CATEGORY_SLOTS))
        choices.seg_chosen[:] = rng.poisson(3.0, choices.seg_chosen.shape)
        choices.seg_exposed[:] = rng.uniform(1.0, 6.0, choices.seg_exposed.shape)
        choices.tier_w[:] = rng.uniform(0.0, 50.0, len(choices.tier_w))
        choices.tier_lp[:] = choices.tier_w * rng.uniform(2.0, 5.5, len(choices.tier_w))
        choices.tier_w[3] = choices.tier_lp[3] = 0.0  # a tier nobody in it acted yet
        items = room.items
        items.chosen[:max_items] = rng.poisson(5.0, max_items)
        items.exposed[:max_items] = rng.uniform(1.0, 10.0, max_items)
        items.own_segments()  # written in place below
        items.seg_chosen[:max_items] = rng.poisson(1.0, (max_items, SEGMENT_SLOTS))
        items.seg_exposed[:max_items] = rng.uniform(0.5, 3.0, (max_items, SEGMENT_SLOTS))
        items.shown_since[:max_items] = self.now - rng.integers(0, 600_000, max_items)
        mf = room.mf
        assert isinstance(mf, RowFunkMF)  # the bench's rooms use the fast learners
        mf.reserve(cap, 0)
        mf.users[:v] = rng.normal(0.0, mf.sigma, (v, mf.n_factors))
        warm = rng.random(v) < 0.3
        mf.user_updates[:v] = np.where(warm, rng.integers(1, 30, v), 0)
        control = params.arms.names.index("control") if "control" in params.arms.names else 0
        room.arm = np.where(rng.random(cap) < 0.1, control, 0).astype(np.int8)
        room.pushed_at = np.full(cap, -1, np.int64)
        room.pushed_items = np.full((cap, params.top_k), -1, np.int64)
        # A choice model that has learned something: every weight non-zero.
        model = room.model
        model.weights = model.weights + rng.normal(0.0, 0.5, len(model.weights))
        self.room = room
        self.viewers = viewers

    def show(self, n_items: int) -> Event:
        """Put the first ``n_items`` items on show; returns the trigger event."""
        event = showcase_event(f"bench-s{n_items}", self.now, n_items)
        known = len(self.room.items)
        showcase = self.room.items.show(event.event_id, event.ts, event.items, event.spotlight)
        assert len(self.room.items) == known, "items were all created in __init__"
        self.room.showcase = showcase
        return event

    def push(self, event: Event) -> Any:
        """The ranking path of a showcase change: present rows, gather, rank, PushBatch."""
        room = self.room
        rows = room.viewers.present_rows(event.ts)
        return build_push(room.context(event.ts), rows, room.arm[rows], event, room.room_id)


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
