"""A live-commerce world simulator that speaks the event contract (``EVENTS.md``, version 1).

Why simulate instead of replaying a log: we need the hidden truth (who likes what, who can afford
what) to know how good a ranking *could* be, and we need the awkward parts of real traffic on
demand: viewers who vanish without a ``leave``, redelivered and slightly late events, rooms that
never close. The latent world lives in :mod:`models.sim.truth`, behaviour in
:mod:`models.sim.behaviour`; this module runs both and delivers one merged event stream.

``viewers`` is the size of the whole audience pool, shared by all rooms: a viewer hops between
rooms (sometimes returning to the last one), so the same ``user_id`` shows up in several rooms.

>>> events = list(iter_world(seed=7, rooms=2, viewers=30, minutes=3))
>>> events == list(iter_world(seed=7, rooms=2, viewers=30, minutes=3))
True
>>> sorted({e["type"] for e in events} & {"showcase", "enter", "heartbeat", "item_click"})
['enter', 'heartbeat', 'item_click', 'showcase']
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from features.contract.ids import rec_id
from models.sim.behaviour import (
    CHOICE_SPOTLIGHT,
    CHOICE_TASTE,
    RoomLog,
    host_timeline,
    make_event,
    viewer_sessions,
)
from models.sim.regimes import REGIMES, Regime
from models.sim.truth import WorldTruth, build_truth

DEFAULT_START_MS = 1_764_331_200_000
MAX_LATE_MS = 1_500
_ORDER = itemgetter(0, 1, 2)  # (time, priority or room, sequence): never compares dicts


class World:
    """A seeded world: hidden truth plus a deterministic event stream drawn from it.

    ``events()`` re-simulates on every call (same seed, same events) instead of caching, so the
    events are held only while an iterator is alive. ``truth`` holds tastes, budgets, segments
    and item styles; ``oracle_ranking`` turns them into the best ranking a recommender could give.
    """

    def __init__(
        self,
        seed: int,
        rooms: int,
        viewers: int,
        minutes: float,
        start_ms: int = DEFAULT_START_MS,
        *,
        dup_rate: float = 0.005,
        late_rate: float = 0.005,
        max_late_ms: int = MAX_LATE_MS,
        regime: Regime = REGIMES["default"],
    ) -> None:
        self.seed = seed
        self.truth: WorldTruth = build_truth(seed, rooms, viewers, minutes, start_ms, regime)
        self.dup_rate = dup_rate
        self.late_rate = late_rate
        self.max_late_ms = max_late_ms
        self._stacks: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def affinity(self, user_id: str, item_id: str) -> float:
        """Hidden taste match in [-1, 1]; the dominant term of every purchase decision."""
        return self.truth.affinity(user_id, item_id)

    def oracle_scores(
        self, user_id: str, item_ids: tuple[str, ...], spotlight: str | None
    ) -> np.ndarray:
        """The viewer's hidden choice utility per item (taste, appeal, spotlight; no novelty)."""
        key = tuple(item_ids)
        cached = self._stacks.get(key)
        if cached is None:
            items = [self.truth.items[i] for i in key]
            cached = (np.stack([it.vec for it in items]), np.array([it.appeal for it in items]))
            self._stacks[key] = cached
        vecs, appeal = cached
        util = CHOICE_TASTE * (vecs @ self.truth.viewer(user_id).taste) + appeal
        if spotlight is not None and spotlight in key:
            util[key.index(spotlight)] += CHOICE_SPOTLIGHT
        return np.asarray(util)

    def oracle_ranking(
        self, user_id: str, item_ids: tuple[str, ...] | list[str], spotlight: str | None
    ) -> list[str]:
        """Items best first by hidden utility: the ceiling a recommender could reach here.

        >>> w = World(seed=1, rooms=1, viewers=3, minutes=5)
        >>> ids = [it.item_id for it in w.truth.rooms[0].catalogue[:5]]
        >>> sorted(w.oracle_ranking("u-00002", ids, None)) == sorted(ids)
        True
        """
        key = tuple(item_ids)
        order = np.argsort(-self.oracle_scores(user_id, key, spotlight), kind="stable")
        return [key[int(i)] for i in order]

    def events(self) -> Iterator[dict[str, Any]]:
        """All rooms merged by arrival order: ``ts`` order except the bounded late copies."""
        truth = self.truth
        rng = np.random.default_rng([self.seed, 1])
        logs = []
        for room in truth.rooms:
            end = room.closes_at if room.closes_at is not None else truth.end_ms
            timeline = host_timeline(rng, room, end)
            starts = [s.ts for s in timeline]
            logs.append(RoomLog(room, timeline, starts, end, regime=truth.regime))
        for log in logs:
            for s in log.timeline:
                log.add(s.ts, s.event)
        room_means = np.stack([room.vecs.mean(axis=0) for room in truth.rooms])
        followed: set[tuple[str, str]] = set()
        rnd = random.Random(f"world-{self.seed}-behaviour")
        for viewer in truth.viewers:
            room_affinity = (room_means @ viewer.taste).tolist()
            viewer_sessions(rnd, truth, viewer, logs, room_affinity, followed)
        return _merge(logs, random.Random(f"world-{self.seed}-delivery"), self)


def _merge(logs: list[RoomLog], rnd: random.Random, world: World) -> Iterator[dict[str, Any]]:
    """Number each room's events, then redeliver/delay a few and merge rooms by arrival."""
    stream: list[tuple[int, int, int, dict[str, Any]]] = []
    for log in logs:
        room = log.room
        if room.closes_at is not None:
            log.add(room.closes_at, make_event("room_close", room.closes_at, room.room_id))
        log.rows.sort(key=_ORDER)
        for pos, (_, _, _, ev) in enumerate(log.rows):
            # the seed keeps ids unique when worlds are chained (e.g. an endless demo feed)
            ev["event_id"] = f"{room.room_id}-s{world.seed}-{pos + 1:06d}"
        for ev, trigger in log.push_opens:
            ev["rec_id"] = rec_id(trigger["event_id"], ev["user_id"])
        cap = room.closes_at if room.closes_at is not None else 2**62
        last = len(log.rows) - 1 if room.closes_at is not None else len(log.rows)
        for pos, (ts, _, _, ev) in enumerate(log.rows):
            # the opening showcase stays first and room_close stays last
            movable = 0 < pos < last
            emit = ts
            if movable and rnd.random() < world.late_rate:
                emit = min(ts + rnd.randint(100, world.max_late_ms), cap)
            stream.append((emit, room.index, 2 * pos, ev))
            if movable and rnd.random() < world.dup_rate:
                again = min(ts + rnd.randint(100, world.max_late_ms), cap)
                stream.append((again, room.index, 2 * pos + 1, orjson.loads(orjson.dumps(ev))))
    stream.sort(key=_ORDER)
    return (row[3] for row in stream)


def iter_world(
    seed: int,
    rooms: int,
    viewers: int,
    minutes: float,
    start_ms: int = DEFAULT_START_MS,
    *,
    dup_rate: float = 0.005,
    late_rate: float = 0.005,
    regime: Regime = REGIMES["default"],
) -> Iterator[dict[str, Any]]:
    """Contract input events for a seeded world, merged across rooms in arrival order.

    Pass ``dup_rate=0, late_rate=0`` for a clean stream when a test needs exact counts.
    """
    world = World(
        seed, rooms, viewers, minutes, start_ms,
        dup_rate=dup_rate, late_rate=late_rate, regime=regime,
    )  # fmt: skip
    return world.events()


def write_world(
    path_or_file: str | Path | IO[bytes],
    seed: int,
    rooms: int,
    viewers: int,
    minutes: float,
    start_ms: int = DEFAULT_START_MS,
    *,
    dup_rate: float = 0.005,
    late_rate: float = 0.005,
    regime: Regime = REGIMES["default"],
) -> int:
    """Write the world as JSONL (one event per line) and return the number of lines."""
    events = iter_world(
        seed, rooms, viewers, minutes, start_ms,
        dup_rate=dup_rate, late_rate=late_rate, regime=regime,
    )  # fmt: skip
    if isinstance(path_or_file, str | Path):
        with open(path_or_file, "wb") as fh:
            return write_events(fh, events)
    return write_events(path_or_file, events)


def write_events(fh: IO[bytes], events: Iterator[dict[str, Any]]) -> int:
    n = 0
    for ev in events:
        fh.write(orjson.dumps(ev) + b"\n")
        n += 1
    return n
