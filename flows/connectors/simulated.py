"""The embedded default: a simulated world streamed into the job at a watchable pace.

The simulator's events are released when the wall clock says their event time has come
(``speed`` simulated seconds per wall second), so a person sees pushes appear as the hosts
change their showcases. Pushes are printed one line each.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from features.contract.events import Origin
from flows.connectors.files import Messages, RawRecord
from flows.lifecycle import STOP


class Stream(Protocol):
    """Events in time order, possibly growing while they are read (the closed loop's
    reactions); ``peek_ts`` None means the stream has ended."""

    def peek_ts(self) -> int | None: ...

    def take(self) -> dict[str, Any] | None:
        """The next event; None when it was dropped on the way (the caller peeks again)."""


class _Iterated:
    def __init__(self, events: Iterator[dict[str, Any]]) -> None:
        self._events = events
        self._next = next(events, None)

    def peek_ts(self) -> int | None:
        return None if self._next is None else int(self._next["ts"])

    def take(self) -> dict[str, Any] | None:
        event, self._next = self._next, next(self._events, None)
        return event


class _PacedPartition(StatefulSourcePartition[RawRecord, None]):
    def __init__(self, stream: Stream, speed: float) -> None:
        self._stream = stream
        self._speed = speed
        self._t0_wall = time.monotonic()
        self._t0_event = stream.peek_ts() or 0
        self._line = 0

    def _due(self) -> float:
        """Event time (ms) the wall clock has reached."""
        return self._t0_event + (time.monotonic() - self._t0_wall) * 1000.0 * self._speed

    def next_batch(self) -> list[RawRecord]:
        if self._stream.peek_ts() is None or STOP.is_set():
            raise StopIteration
        due, now = self._due(), time.monotonic()
        batch: list[RawRecord] = []
        while (ts := self._stream.peek_ts()) is not None and ts <= due and len(batch) < 1000:
            event = self._stream.take()
            if event is not None:
                self._line += 1
                batch.append((Origin("simulator", 0, self._line), orjson.dumps(event), now))
        return batch

    def next_awake(self) -> datetime | None:
        ts = self._stream.peek_ts()
        if ts is None:
            return None
        wait_s = (ts - self._due()) / 1000.0 / self._speed
        return datetime.now(UTC) + timedelta(seconds=min(max(wait_s, 0.0), 0.5))

    def snapshot(self) -> None:
        return None


class PacedSource(FixedPartitionedSource[RawRecord, None]):
    """``events``: an iterator of event dicts in time order, or a ``Stream``."""

    def __init__(self, events: Iterator[dict[str, Any]] | Stream, speed: float) -> None:
        self.events = events
        self.speed = speed

    def list_parts(self) -> list[str]:
        return ["simulator"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PacedPartition:
        events = self.events
        stream = _Iterated(events) if isinstance(events, Iterator) else events
        return _PacedPartition(stream, self.speed)


class ShowcaseTap:
    """Remembers the title and price of every item the demo's world puts on sale, as its
    showcase events pass by (same process, read before the pushes they cause), so that the
    terminal can name products the way the room shows them."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, float | None]] = {}

    def __call__(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for event in events:
            if event.get("type") == "showcase":
                for item in event.get("items") or ():
                    self.items[item["item_id"]] = (item.get("title") or item["item_id"],
                                                   item.get("price"))
            yield event


def product_name(item_id: str, items: dict[str, tuple[str, float | None]] | None) -> str:
    """A product as the room shows it: title and price where ``items`` knows them."""
    title, price = (items or {}).get(item_id, (item_id, None))
    return f"{title} ${price:.2f}" if price is not None else title


def describe_push(push: dict[str, Any], items: dict[str, tuple[str, float | None]] | None = None,
                  ) -> str:
    """One readable line for a push: products by title and price where ``items`` knows them,
    each with its purchase probability (the same meaning in every arm; the score's meaning
    differs between arms).

    >>> describe_push({"ts": 0, "room_id": "r-1", "user_id": "u-1", "arm": "control",
    ...                "trigger": "enter", "items": [{"item_id": "sku-1", "score": 0.5,
    ...                "propensity": 0.031}]}, {"sku-1": ("Cozy Lamp", 42.0)})
    '00:00:00 r-1 → u-1 [control, enter]: Cozy Lamp $42.00 (buys 3.1%)'
    """
    stamp = datetime.fromtimestamp(int(push["ts"]) / 1000, UTC).strftime("%H:%M:%S")

    def product(it: dict[str, Any]) -> str:
        return f"{product_name(it['item_id'], items)} (buys {100 * it['propensity']:.1f}%)"

    why = f" — {push['why']}" if push.get("why") else ""
    return (
        f"{stamp} {push['room_id']} → {push['user_id']} [{push['arm']}, {push['trigger']}]"
        f": {', '.join(product(it) for it in push['items'])}{why}"
    )


class Audience(Protocol):
    """Who reads the demo's pushes besides the screen (the closed loop's viewers), and what
    they did about them, as lines for the screen at their event time."""

    def deliver(self, push: dict[str, Any]) -> None: ...

    def drain(self) -> list[tuple[int, str]]: ...

    def tally(self) -> str: ...


class _TerminalPartition(StatelessSinkPartition[tuple[str, Messages]]):
    """Prints pushes in time order: rooms release their pushes at different moments (each
    holds events for its lateness), so a line waits until pushes ``hold_ms`` of event time
    newer have arrived, or the end. An ``audience``'s lines join the same order."""

    def __init__(self, out: TextIO, items: dict[str, tuple[str, float | None]] | None,
                 hold_ms: int, audience: Audience | None = None) -> None:
        self._out = out
        self._items = items
        self._hold_ms = hold_ms
        self._audience = audience
        self._held: list[tuple[int, int, dict[str, Any] | str]] = []  # heap (ts, arrival, _)
        self._arrivals = 0

    def write_batch(self, batch: list[tuple[str, Messages]]) -> None:
        for _key, messages in batch:
            for _k, value in messages:
                push = orjson.loads(value)
                if self._audience is not None:
                    self._audience.deliver(push)
                self._hold(int(push["ts"]), push)
        if self._audience is not None:
            for ts, line in self._audience.drain():
                self._hold(ts, line)
        if self._held:
            self._release(max(ts for ts, _, _ in self._held) - self._hold_ms)

    def _hold(self, ts: int, what: dict[str, Any] | str) -> None:
        self._arrivals += 1
        heapq.heappush(self._held, (ts, self._arrivals, what))

    def _release(self, up_to: float) -> None:
        while self._held and self._held[0][0] <= up_to:
            what = heapq.heappop(self._held)[2]
            self._out.write((what if isinstance(what, str) else describe_push(what, self._items))
                            + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._audience is not None:
            for ts, line in self._audience.drain():
                self._hold(ts, line)
        self._release(float("inf"))
        if self._audience is not None:
            self._out.write(self._audience.tally() + "\n")
            self._out.flush()


class TerminalSink(DynamicSink[tuple[str, Messages]]):
    """The demo's screen; ``items``: titles and prices by item id (``ShowcaseTap``);
    ``audience``: the closed loop's viewers, who receive every push shown."""

    def __init__(self, out: TextIO | None = None,
                 items: dict[str, tuple[str, float | None]] | None = None,
                 hold_ms: int = 0, audience: Audience | None = None) -> None:
        self.out = out or sys.stdout
        self.items = items
        self.hold_ms = hold_ms
        self.audience = audience

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TerminalPartition:
        return _TerminalPartition(self.out, self.items, self.hold_ms, self.audience)
