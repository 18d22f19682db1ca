"""Replays contract events room by room in event-time order, as the evaluator sees the world.

The evaluator must judge a push by what was true at its trigger time, so it needs each room's
events in ``ts`` order, once each. Producers only promise per-room order with modest disorder and
at-least-once delivery, so this module de-duplicates by ``event_id`` and holds each room's events
in a small reorder buffer (``lateness_ms`` behind the newest ``ts`` seen in that room). Memory is
bounded by the buffer plus the set of seen ids; the cost is ``O(n log b)`` for buffer size ``b``.

Within one millisecond of one room, steps come in a fixed order, which defines "uses only events
with ``ts <= T``" precisely: first every action of that millisecond is announced (``activity``,
so popularity at ``T`` includes it), then showcases (presence judged from events before ``T``:
an enter in the same millisecond is covered by its own enter push), then enters, then the actions
again, for scoring against pushes triggered at ``<= T``. Events later than the buffer allows are
replayed on arrival and counted (``events_beyond_lateness``) rather than dropped.

``reference_pushes`` is a plain reading of the contract's push rule on top of the replay, used to
feed the evaluator with an oracle ranker (see ``tests/models/offline/test_evaluation.py``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from features.contract.ids import rec_id

ACTIONS = frozenset({"item_click", "add_to_cart", "purchase"})
DEFAULT_TIMEOUT_MS = 90_000
DEFAULT_LATENESS_MS = 5_000
# events that only tell us a viewer is still around (no trigger, no action, no state change)
_PASSIVE = frozenset({"heartbeat", "like", "comment", "share", "follow", "gift", "push_open"})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A showcase as the evaluator remembers it: ordered ids plus a set for membership tests."""

    event_id: str
    ts: int
    item_ids: tuple[str, ...]
    spotlight: str | None
    item_set: frozenset[str] = field(compare=False)

    @classmethod
    def of(cls, event: dict[str, Any]) -> Snapshot:
        """Build from a ``showcase`` event (items without a string ``item_id`` are ignored).

        >>> s = Snapshot.of({"event_id": "e", "ts": 1, "spotlight": "b",
        ...                  "items": [{"item_id": "a"}, {"item_id": "b"}]})
        >>> s.item_ids, "b" in s.item_set
        (('a', 'b'), True)
        """
        ids = tuple(
            str(it["item_id"])
            for it in event.get("items") or ()
            if isinstance(it, dict) and isinstance(it.get("item_id"), str)
        )
        spot = event.get("spotlight")
        return cls(
            event_id=str(event["event_id"]),
            ts=int(event["ts"]),
            item_ids=ids,
            spotlight=spot if isinstance(spot, str) else None,
            item_set=frozenset(ids),
        )


class Step(NamedTuple):
    """One thing that happened, in replay order (see the module docstring for the order)."""

    kind: str  # "activity" | "showcase" | "enter" | "action" | "close"
    event: dict[str, Any]
    snapshot: Snapshot | None  # the room's showcase after this step (None: no showcase yet)
    present: tuple[str, ...]  # showcase steps: viewers present just before the event's ts


def _well_formed(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("event_id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("room_id"), str)
        and isinstance(event.get("ts"), int)
        and not isinstance(event.get("ts"), bool)
    )


@dataclass
class RoomReplay:
    """De-duplicating, reordering, presence-tracking replay of a merged event stream."""

    timeout_ms: int = DEFAULT_TIMEOUT_MS
    lateness_ms: int = DEFAULT_LATENESS_MS
    counts: dict[str, int] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _heaps: dict[str, list[tuple[int, int, dict[str, Any]]]] = field(default_factory=dict)
    _newest: dict[str, int] = field(default_factory=dict)
    _released: dict[str, int] = field(default_factory=dict)
    _presence: dict[str, dict[str, int]] = field(default_factory=dict)  # room -> user -> seen
    _showcase: dict[str, Snapshot] = field(default_factory=dict)
    _seq: int = 0

    def steps(self, events: Iterable[dict[str, Any]]) -> Iterator[Step]:
        """Consume the stream lazily; the final buffered events are replayed at its end."""
        seen, heaps, newest, released = self._seen, self._heaps, self._newest, self._released
        tally = dict.fromkeys(("events_in", "events_malformed", "events_duplicate"), 0)
        tally["events_beyond_lateness"] = 0
        try:
            for event in events:
                tally["events_in"] += 1
                if not _well_formed(event):
                    tally["events_malformed"] += 1
                    continue
                if event["event_id"] in seen:
                    tally["events_duplicate"] += 1
                    continue
                seen.add(event["event_id"])
                room, ts = event["room_id"], event["ts"]
                if ts < released.get(room, ts):
                    tally["events_beyond_lateness"] += 1  # replayed now, out of order
                    yield from self._batch(room, ts, [event])
                    continue
                self._seq += 1
                heap = heaps.setdefault(room, [])
                heapq.heappush(heap, (ts, self._seq, event))
                if ts > newest.get(room, ts - 1):
                    newest[room] = ts
                    if heap[0][0] <= ts - self.lateness_ms:
                        yield from self._release(room, ts - self.lateness_ms)
            for room in list(heaps):
                yield from self._release(room, None)
        finally:
            for key, n in tally.items():
                self.counts[key] = self.counts.get(key, 0) + n

    def _release(self, room: str, upto: int | None) -> list[Step]:
        heap, out = self._heaps[room], []
        while heap and (upto is None or heap[0][0] <= upto):
            ts = heap[0][0]
            batch = []
            while heap and heap[0][0] == ts:
                batch.append(heapq.heappop(heap)[2])
            self._released[room] = ts
            out += self._batch(room, ts, batch)
        return out

    def buffered(self) -> int:
        """Events held back for reordering: stays within the lateness window, never the file."""
        return sum(len(heap) for heap in self._heaps.values())

    def present(self, room: str, ts: int) -> tuple[str, ...]:
        """Entered, not left, heard from within the timeout (boundary inclusive)."""
        seen = self._presence.get(room, {})
        return tuple(sorted(u for u, last in seen.items() if 0 <= ts - last <= self.timeout_ms))

    def _batch(self, room: str, ts: int, batch: list[dict[str, Any]]) -> list[Step]:
        if len(batch) == 1 and batch[0]["type"] in _PASSIVE:  # the common case: a heartbeat
            self._heard(room, ts, batch[0].get("user_id"))
            return []
        out = []
        actions = [e for e in batch if e["type"] in ACTIONS and _has_user_item(e)]
        for e in actions:
            out.append(Step("activity", e, self._showcase.get(room), ()))
        showcases = [e for e in batch if e["type"] == "showcase"]
        if showcases:
            before = self.present(room, ts)  # this millisecond's events not applied yet
            for e in showcases:
                self._showcase[room] = snap = Snapshot.of(e)
                out.append(Step("showcase", e, snap, before))
        closing = False
        for e in batch:
            kind, user = e["type"], e.get("user_id")
            if kind == "room_close":
                closing = True
            elif kind == "enter" and isinstance(user, str):
                self._presence.setdefault(room, {})[user] = ts
                out.append(Step("enter", e, self._showcase.get(room), ()))
            elif kind == "leave" and isinstance(user, str):
                self._presence.get(room, {}).pop(user, None)
            else:
                self._heard(room, ts, user)
        for e in actions:
            out.append(Step("action", e, self._showcase.get(room), ()))
        if closing:
            self._presence.pop(room, None)
            self._showcase.pop(room, None)
            out.append(Step("close", batch[-1], None, ()))
        return out

    def _heard(self, room: str, ts: int, user: Any) -> None:
        seen = self._presence.get(room)
        if seen is not None and isinstance(user, str) and user in seen:
            seen[user] = max(seen[user], ts)


def _has_user_item(event: dict[str, Any]) -> bool:
    return isinstance(event.get("user_id"), str) and isinstance(event.get("item_id"), str)


Ranker = Callable[[str, str, tuple[str, ...], str | None], list[str]]
"""(user_id, room_id, showcase item ids, spotlight) -> item ids best first."""


def reference_pushes(
    events: Iterable[dict[str, Any]],
    rank: Ranker,
    k: int = 3,
    arm: str = "reference",
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Iterator[dict[str, Any]]:
    """The pushes the contract asks for, ranked by ``rank``: a yardstick, not the job.

    >>> evs = [
    ...     {"event_id": "s1", "type": "showcase", "ts": 0, "room_id": "r", "spotlight": None,
    ...      "items": [{"item_id": "a"}, {"item_id": "b"}]},
    ...     {"event_id": "e1", "type": "enter", "ts": 5, "room_id": "r", "user_id": "u"},
    ...     {"event_id": "s2", "type": "showcase", "ts": 9, "room_id": "r", "spotlight": "b",
    ...      "items": [{"item_id": "a"}, {"item_id": "b"}]},
    ... ]
    >>> recs = list(reference_pushes(evs, lambda u, r, items, spot: sorted(items, reverse=True)))
    >>> [(r["trigger"], r["trigger_id"], [i["item_id"] for i in r["items"]]) for r in recs]
    [('enter', 'e1', ['b', 'a']), ('showcase', 's2', ['b', 'a'])]
    """
    replay = RoomReplay(timeout_ms=timeout_ms)
    for step in replay.steps(events):
        if step.kind == "showcase" and step.snapshot is not None:
            users: tuple[str, ...] = step.present
        elif step.kind == "enter" and step.snapshot is not None:
            users = (step.event["user_id"],)
        else:
            continue
        snap, trigger = step.snapshot, step.event
        for user in users:
            ranked = rank(user, trigger["room_id"], snap.item_ids, snap.spotlight)[:k]
            yield {
                "rec_id": rec_id(trigger["event_id"], user),
                "room_id": trigger["room_id"],
                "user_id": user,
                "trigger": step.kind,
                "trigger_id": trigger["event_id"],
                "ts": trigger["ts"],
                "emitted_at": trigger["ts"],
                "arm": arm,
                "items": [
                    {"item_id": item, "rank": n, "score": 1.0 / n}
                    for n, item in enumerate(ranked, start=1)
                ],
            }
