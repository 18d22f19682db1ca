"""The bench's measurements of room state: bytes per viewer and item, per idle room, and
after a day of churn.

Sizes are of ``Room.snapshot()``, the pickled bytes Bytewax stores for recovery, except the
idle room's, which is also measured as the memory a live room holds (``held_bytes_per_room``):
a room of junk ids costs that much until ``--room-idle-ms`` drops it.
"""

from __future__ import annotations

import gc
import heapq
import pickle
import random
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from features.contract.events import Event, ShowcaseItem
from flows.bench.ranking import CATEGORIES, ORIGIN, T0, showcase_event
from models.params import RoomParams
from models.room import Room


def _event(event_id: str, etype: str, ts: int, room_id: str, **fields: Any) -> Event:
    return Event(event_id, etype, ts, room_id, ORIGIN, **fields)


def _component_sizes(room: Room) -> dict[str, int]:
    proto = pickle.HIGHEST_PROTOCOL
    parts = {
        "dedup": room.inbox.dedup,
        "reorder_buffer": room.inbox.buffer,
        "viewers": room.viewers,
        "items": (room.items, room.showcase),
        "window": room.window,
        "vectors": room.mf,
        "choice_model": (room.model, room.choices),
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
    idle_room_bytes: float = 0.0  # memory held by a room after one showcase and one enter
    idle_room_snapshot_bytes: int = 0  # ... and its snapshot
    fresh_room_bytes: float = 0.0  # memory held by a room that saw nothing yet


def small_room(room_id: str, items: int = 8) -> Room:
    """A room as a red team mints them by the thousand: one showcase of ``items`` items, and
    one viewer who enters (and so is pushed to)."""
    room = Room(room_id, RoomParams())
    room.accept([showcase_event(f"{room_id}-s", T0, items, room_id),
                 _event(f"{room_id}-in", "enter", T0 + 5, room_id, user_id="u-1")])
    room.flush(final=False)
    return room


def held_bytes_per_room(build: Callable[[int], object], rooms: int = 50) -> float:
    """Memory (Python objects and numpy buffers, by ``tracemalloc``) that the objects
    ``build(0..rooms-1)`` hold, per object. One is built first and dropped: what every room
    shares (constants, caches filled on first use) is then not counted against each."""
    build(-1)
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [build(n) for n in range(rooms)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        if started:
            tracemalloc.stop()
    return (after - before) / len(held)


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
    dedup = room.inbox.dedup
    room.inbox.dedup = type(dedup)(dedup.horizon_ms, dedup.max_ids)
    try:
        return len(room.snapshot())
    finally:
        room.inbox.dedup = dedup


def bench_state(viewers: int, items: int) -> StateSizes:
    """Pickle sizes of ``Room.snapshot()`` (the recovery state): with V viewers minus with 0,
    per viewer; with N items on show minus an empty showcase, per item (d = 32)."""
    empty = _room_with_viewers(0)
    full = _room_with_viewers(viewers)
    base, grown = len(empty.snapshot()), len(full.snapshot())
    base_nd, grown_nd = _snapshot_without_dedup(empty), _snapshot_without_dedup(full)
    dedup_ids = len(full.inbox.dedup) - len(empty.inbox.dedup)
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
    idle = held_bytes_per_room(lambda n: small_room(f"idle-{n}"))
    fresh = held_bytes_per_room(lambda n: Room(f"fresh-{n}", RoomParams()))
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
        idle_room_bytes=idle,
        idle_room_snapshot_bytes=len(small_room("idle").snapshot()),
        fresh_room_bytes=fresh,
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
                             CATEGORIES[zlib.crc32(i.encode()) % 8])
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
