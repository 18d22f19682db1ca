"""The bench's in-process measurements of pure code: ranking, learners and room state.

Everything here runs in the bench's own process, with BLAS pinned to one thread by the
caller (as ``flows.jobs.prepare`` does for the job). Times are wall-clock
(``time.perf_counter``): best and median of repeats after one untimed warm-up call.
"""

from __future__ import annotations

import heapq
import math
import pickle
import random
import statistics
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.events import Event, Origin, ShowcaseItem
from features.viewers import ATTR_BUCKETS, CATEGORY_BUCKETS
from features.windows import CARTS, CLICKS, PURCHASES
from models.params import FEEDBACK, RoomParams
from models.push import PushContext, build_push
from models.room import Room

T0 = 1_764_331_200_000
_ORIGIN = Origin("bench", 0, 0)
_CATEGORIES = ("beauty", "fashion", "home", "food", "tech", "toys", "sport", "garden")


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
        ShowcaseItem(f"sku-{j:04d}", round(rnd.uniform(5, 300), 2), _CATEGORIES[j % 8])
        for j in range(n_items)
    )
    spotlight = items[n_items // 3].item_id if items else None
    return Event(event_id, "showcase", ts, room_id, _ORIGIN, items=items, spotlight=spotlight)


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
    row_eps: float  # RowFunkMF.learn on integer rows (what Room does)
    facade_eps: float  # models.factorization.FunkMF.learn_one on string ids
    river_eps: float  # river.reco.FunkMF.learn_one on string ids
    max_abs_diff: float  # |River − RowFunkMF| after the same 3 updates from the same vectors


def bench_learners(
    events: list[tuple[str, str, float]], repeats: int, dim: int = 32
) -> LearnResult:
    """Updates/s of the job's learner and of River's over the same (user, item, y) events."""
    from river import optim, reco

    from models.factorization import FunkMF, RowFunkMF

    params = RoomParams()
    user_rows: dict[str, int] = {}
    item_rows: dict[str, int] = {}
    triples = [
        (user_rows.setdefault(u, len(user_rows)), item_rows.setdefault(i, len(item_rows)), y)
        for u, i, y in events
    ]

    def row_model() -> float:
        mf = RowFunkMF(dim, params.lr, params.l2, params.init_sigma, seed=1)
        for r in range(len(user_rows)):
            mf.init_user(r)
        for r in range(len(item_rows)):
            mf.init_item(r)
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

    rates = [
        len(events) / min(fn() for _ in range(max(1, repeats)))
        for fn in (row_model, facade, river)
    ]
    return LearnResult(len(events), rates[0], rates[1], rates[2], _same_update_diff(dim))


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


def _event(event_id: str, etype: str, ts: int, room_id: str, **fields: Any) -> Event:
    return Event(event_id, etype, ts, room_id, _ORIGIN, **fields)


def _component_sizes(room: Room) -> dict[str, int]:
    proto = pickle.HIGHEST_PROTOCOL
    parts = {
        "dedup": room.dedup,
        "reorder_buffer": room.buffer,
        "viewers": room.viewers,
        "items": (room.items, room.showcase),
        "window": room.window,
        "vectors": room.mf,
        "propensity": room.propensity,
        "push_memory": (room.arm, room.pushed_at, room.pushed_items),
    }
    return {name: len(pickle.dumps(obj, protocol=proto)) for name, obj in parts.items()}


@dataclass(slots=True)
class StateSizes:
    viewers: int
    viewer_capacity: int
    bytes_per_viewer: float  # snapshot growth per viewer, without the event-id dedup set
    bytes_per_viewer_with_dedup: float  # the same, with the dedup ids of their 3 events
    bytes_per_viewer_at_capacity: float  # without dedup, with every allocated row in use
    dedup_bytes_per_event: float
    items: int
    bytes_per_item: float
    components_per_viewer: dict[str, float] = field(default_factory=dict)


def _room_with_viewers(viewers: int, n_items: int = 50) -> Room:
    """A room after ``viewers`` viewers entered (with attrs), watched and clicked once, and
    a showcase of ``n_items`` then pushed to all of them."""
    room_id = "bench-state"
    room = Room(room_id, RoomParams())
    batch: list[Event] = []
    span = 60_000
    for n in range(viewers):
        user = f"u-{n:07d}"
        ts = T0 + 1 + n * span // max(viewers, 1)
        batch.append(_event(f"e-{n}-in", "enter", ts, room_id, user_id=user,
                            attrs={"spend_tier": n % 6, "city": f"c{n % 40}"}))
        batch.append(_event(f"e-{n}-hb", "heartbeat", ts + 1, room_id, user_id=user,
                            watch_ms=30_000))
        batch.append(_event(f"e-{n}-ck", "item_click", ts + 2, room_id, user_id=user,
                            item_id=f"sku-{n % n_items:04d}"))
        if len(batch) >= 3000:
            room.accept(batch)
            batch = []
    batch.append(showcase_event("s-0", T0 + span + 10, n_items, room_id))
    room.accept(batch)
    room.flush()
    return room


def _snapshot_without_dedup(room: Room) -> int:
    dedup = room.dedup
    room.dedup = type(dedup)(dedup.horizon_ms, dedup.max_ids)
    try:
        return len(room.snapshot())
    finally:
        room.dedup = dedup


def bench_state(viewers: int, items: int) -> StateSizes:
    """Pickle sizes of ``Room.snapshot()`` (the recovery state): with V viewers minus with 0,
    per viewer; with N items on show minus an empty showcase, per item (d = 32)."""
    empty = _room_with_viewers(0)
    full = _room_with_viewers(viewers)
    base, grown = len(empty.snapshot()), len(full.snapshot())
    base_nd, grown_nd = _snapshot_without_dedup(empty), _snapshot_without_dedup(full)
    dedup_ids = len(full.dedup) - len(empty.dedup)
    dedup_bytes = (grown - grown_nd) - (base - base_nd)
    parts_empty, parts_full = _component_sizes(empty), _component_sizes(full)
    per_component = {
        name: (parts_full[name] - parts_empty[name]) / viewers for name in parts_full
    }
    capacity = full.viewers.rows.capacity
    if capacity > viewers:  # the same with no spare rows (arrays grow by doubling)
        at_capacity = (_snapshot_without_dedup(_room_with_viewers(capacity)) - base_nd) / capacity
    else:
        at_capacity = (grown_nd - base_nd) / viewers
    no_items = Room("bench-items", RoomParams())
    no_items.accept([showcase_event("s-0", T0, 0, "bench-items")])
    no_items.flush()
    with_items = Room("bench-items", RoomParams())
    with_items.accept([showcase_event("s-0", T0, items, "bench-items")])
    with_items.flush()
    item_bytes = (len(with_items.snapshot()) - len(no_items.snapshot())) / max(items, 1)
    return StateSizes(
        viewers=viewers,
        viewer_capacity=full.viewers.rows.capacity,
        bytes_per_viewer=(grown_nd - base_nd) / viewers,
        bytes_per_viewer_with_dedup=(grown - base) / viewers,
        bytes_per_viewer_at_capacity=at_capacity,
        dedup_bytes_per_event=dedup_bytes / max(dedup_ids, 1),
        items=items,
        bytes_per_item=item_bytes,
        components_per_viewer=per_component,
    )


# -- a day of churn --------------------------------------------------------------------------


@dataclass(slots=True)
class ChurnResult:
    seats: int
    events: int
    seconds: float
    state_bytes: dict[str, int]  # checkpoint ("6h") -> summed snapshot bytes of open rooms
    long_room_bytes: dict[str, int]  # the room open all day
    open_rooms: dict[str, int]  # rooms whose state the dataflow still holds
    closed_but_held: dict[str, int]  # ... of which room_close was received (held back)
    state_bytes_without_closed: dict[str, int]  # state_bytes minus those rooms' bytes
    present_viewers: dict[str, int]
    growth: float  # last checkpoint / first checkpoint


HOUR = 3_600_000
_SESSION_MINUTES = (3, 30)


def _room_events(
    room_id: str, start: int, end: int, close: bool, seats: int, seed: int, showcase_items: int
) -> Iterator[Event]:
    """A room from ``start`` to ``end``: ``seats`` viewers at all times (each stays 3–30
    minutes, then leaves or, one in five, vanishes; one in five returns later), heartbeats
    every 30 s, clicks, carts, purchases, likes, and a new showcase every 10 minutes (a third
    of it new products)."""
    rnd = random.Random(seed)
    n_event = 0
    next_user = 0
    returning: list[str] = []
    core = [f"{room_id}-sku-{j}" for j in range(showcase_items)]
    fresh = 0
    showcase: list[str] = []
    queue: list[tuple[int, int, str, str, int]] = []  # (ts, seq, kind, user, leaves_at)
    seq = 0

    def eid() -> str:
        nonlocal n_event
        n_event += 1
        return f"{room_id}-{n_event}"

    def seat(ts: int) -> None:
        nonlocal next_user, seq
        if returning and rnd.random() < 0.2:
            user = returning.pop(rnd.randrange(len(returning)))
        else:
            next_user += 1
            user = f"{room_id}-u{next_user}"
        stay = rnd.randint(*_SESSION_MINUTES) * 60_000
        seq += 1
        heapq.heappush(queue, (ts, seq, "enter", user, ts + stay))

    for _ in range(seats):
        seat(start + rnd.randint(0, 30_000))
    seq += 1
    heapq.heappush(queue, (start, seq, "showcase", "", 0))
    while queue:
        ts, _, kind, user, leaves_at = heapq.heappop(queue)
        if ts >= end:
            break
        if kind == "showcase":
            keep = rnd.sample(core, k=len(core) - len(core) // 3)
            new = [f"{room_id}-new-{fresh + j}" for j in range(len(core) // 3)]
            fresh += len(new)
            showcase = sorted(keep + new)
            items = tuple(
                ShowcaseItem(i, float(10 + zlib.crc32(i.encode()) % 200),
                             _CATEGORIES[zlib.crc32(i.encode()) % 8])
                for i in showcase
            )
            spot = showcase[rnd.randrange(len(showcase))]
            yield _event(eid(), "showcase", ts, room_id, items=items, spotlight=spot)
            seq += 1
            heapq.heappush(queue, (ts + 600_000, seq, "showcase", "", 0))
            continue
        if kind == "enter":
            yield _event(eid(), "enter", ts, room_id, user_id=user,
                         attrs={"spend_tier": rnd.randint(0, 5)})
        elif ts >= leaves_at:
            if rnd.random() < 0.8:
                yield _event(eid(), "leave", ts, room_id, user_id=user)
            if rnd.random() < 0.2:
                returning.append(user)
            seat(ts + rnd.randint(0, 5_000))
            continue
        else:
            yield _event(eid(), "heartbeat", ts, room_id, user_id=user, watch_ms=30_000)
            r = rnd.random()
            if showcase and r < 0.12:
                item = showcase[rnd.randrange(len(showcase))]
                yield _event(eid(), "item_click", ts + 1, room_id, user_id=user, item_id=item)
                if rnd.random() < 0.15:
                    yield _event(eid(), "add_to_cart", ts + 2, room_id, user_id=user, item_id=item)
                    if rnd.random() < 0.3:
                        yield _event(eid(), "purchase", ts + 3, room_id, user_id=user,
                                     item_id=item, amount=25.0)
            elif r < 0.2:
                yield _event(eid(), "like", ts + 1, room_id, user_id=user)
        seq += 1
        heapq.heappush(queue, (ts + 30_000, seq, "beat", user, leaves_at))
    if close:
        yield _event(eid(), "room_close", end, room_id)


def _schedule(hours: float) -> list[tuple[str, int, int, bool]]:
    """(room, opens, closes, closes_with_room_close): one room open all day, two slots of
    2-hour rooms opening and closing, staggered, so that three rooms are open at every hour."""
    end = T0 + int(hours * HOUR)
    rooms = [("long", T0, end, False)]
    for slot, offset in ((1, 30), (2, 90)):
        k = 0
        while True:
            opens = T0 + offset * 60_000 + k * 2 * HOUR
            if opens >= end:
                break
            closes = opens + 2 * HOUR - 5 * 60_000
            rooms.append((f"slot{slot}-{k}", opens, min(closes, end), closes <= end))
            k += 1
    return rooms


def bench_churn(
    checkpoints_h: list[float], seats: int, progress: Callable[[str], None], items: int = 30
) -> ChurnResult:
    """Drive ``Room.accept`` through a simulated day; state bytes of the open rooms at each
    checkpoint (a closed room is dropped by the dataflow, so it holds nothing)."""
    hours = max(checkpoints_h)
    marks = sorted(T0 + int(h * HOUR) for h in checkpoints_h)
    names = {T0 + int(h * HOUR): f"{h:g}h" for h in checkpoints_h}
    state = dict.fromkeys(names.values(), 0)
    long_room = dict.fromkeys(names.values(), 0)
    open_rooms = dict.fromkeys(names.values(), 0)
    held = dict.fromkeys(names.values(), 0)
    without_closed = dict.fromkeys(names.values(), 0)
    present = dict.fromkeys(names.values(), 0)
    n_events = 0
    start = time.perf_counter()
    for index, (name, opens, closes, close) in enumerate(_schedule(hours)):
        room = Room(name, RoomParams())
        pending = [m for m in marks if opens <= m]
        batch: list[Event] = []
        batch_end = opens + 1_000
        for event in _room_events(name, opens, closes, close, seats, index, items):
            n_events += 1
            if event.ts >= batch_end:
                room.accept(batch)
                batch = []
                batch_end = event.ts + 1_000
                while pending and pending[0] <= event.ts:
                    _checkpoint(room, names[pending.pop(0)], state, long_room, open_rooms,
                                present, name == "long")
            batch.append(event)
        room.accept(batch)
        for m in pending:  # after the room's last event (a closed room holds nothing)
            _checkpoint(room, names[m], state, long_room, open_rooms, present, name == "long")
            if close and m >= closes and not room.closed:
                held[names[m]] += 1  # room_close sent, still waiting in the reorder buffer
                without_closed[names[m]] -= len(room.snapshot())
        if index % 4 == 0:
            progress(f"churn: {index + 1} rooms simulated, {n_events:,} events")
    first, last = names[marks[0]], names[marks[-1]]
    return ChurnResult(
        seats=seats,
        events=n_events,
        seconds=time.perf_counter() - start,
        state_bytes=state,
        long_room_bytes=long_room,
        open_rooms=open_rooms,
        closed_but_held=held,
        state_bytes_without_closed={k: state[k] + v for k, v in without_closed.items()},
        present_viewers=present,
        growth=state[last] / max(state[first], 1),
    )


def _checkpoint(
    room: Room,
    name: str,
    state: dict[str, int],
    long_room: dict[str, int],
    open_rooms: dict[str, int],
    present: dict[str, int],
    is_long: bool,
) -> None:
    if room.closed:
        return
    size = len(room.snapshot())
    state[name] += size
    open_rooms[name] += 1
    present[name] += room.viewers.present_count(room.clock)
    if is_long:
        long_room[name] = size
