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
from typing import Any, TextIO

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from features.contract.events import Origin
from flows.connectors.files import Messages, RawRecord
from flows.lifecycle import STOP


class _PacedPartition(StatefulSourcePartition[RawRecord, None]):
    def __init__(self, events: Iterator[dict[str, Any]], speed: float) -> None:
        self._events = events
        self._speed = speed
        self._pending: dict[str, Any] | None = next(events, None)
        self._t0_wall = time.monotonic()
        self._t0_event = self._pending["ts"] if self._pending else 0
        self._line = 0

    def _due(self) -> float:
        """Event time (ms) the wall clock has reached."""
        return self._t0_event + (time.monotonic() - self._t0_wall) * 1000.0 * self._speed

    def next_batch(self) -> list[RawRecord]:
        if self._pending is None or STOP.is_set():
            raise StopIteration
        due, now = self._due(), time.monotonic()
        batch: list[RawRecord] = []
        while self._pending is not None and self._pending["ts"] <= due and len(batch) < 1000:
            self._line += 1
            batch.append((Origin("simulator", 0, self._line), orjson.dumps(self._pending), now))
            self._pending = next(self._events, None)
        return batch

    def next_awake(self) -> datetime | None:
        if self._pending is None:
            return None
        wait_s = (self._pending["ts"] - self._due()) / 1000.0 / self._speed
        return datetime.now(UTC) + timedelta(seconds=min(max(wait_s, 0.0), 0.5))

    def snapshot(self) -> None:
        return None


class PacedSource(FixedPartitionedSource[RawRecord, None]):
    def __init__(self, events: Iterator[dict[str, Any]], speed: float) -> None:
        self.events = events
        self.speed = speed

    def list_parts(self) -> list[str]:
        return ["simulator"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PacedPartition:
        return _PacedPartition(self.events, self.speed)


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
    known = items or {}

    def product(it: dict[str, Any]) -> str:
        title, price = known.get(it["item_id"], (it["item_id"], None))
        shown = f"{title} ${price:.2f}" if price is not None else title
        return f"{shown} (buys {100 * it['propensity']:.1f}%)"

    why = f" — {push['why']}" if push.get("why") else ""
    return (
        f"{stamp} {push['room_id']} → {push['user_id']} [{push['arm']}, {push['trigger']}]"
        f": {', '.join(product(it) for it in push['items'])}{why}"
    )


class _TerminalPartition(StatelessSinkPartition[tuple[str, Messages]]):
    """Prints pushes in time order: rooms release their pushes at different moments (each
    holds events for its lateness), so a line waits until pushes ``hold_ms`` of event time
    newer have arrived, or the end."""

    def __init__(self, out: TextIO, items: dict[str, tuple[str, float | None]] | None,
                 hold_ms: int) -> None:
        self._out = out
        self._items = items
        self._hold_ms = hold_ms
        self._held: list[tuple[int, int, dict[str, Any]]] = []  # heap of (ts, arrival, push)
        self._arrivals = 0

    def write_batch(self, batch: list[tuple[str, Messages]]) -> None:
        for _key, messages in batch:
            for _k, value in messages:
                push = orjson.loads(value)
                self._arrivals += 1
                heapq.heappush(self._held, (int(push["ts"]), self._arrivals, push))
        if self._held:
            self._release(max(ts for ts, _, _ in self._held) - self._hold_ms)

    def _release(self, up_to: float) -> None:
        while self._held and self._held[0][0] <= up_to:
            self._out.write(describe_push(heapq.heappop(self._held)[2], self._items) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._release(float("inf"))


class TerminalSink(DynamicSink[tuple[str, Messages]]):
    """The demo's screen; ``items``: titles and prices by item id (``ShowcaseTap``)."""

    def __init__(self, out: TextIO | None = None,
                 items: dict[str, tuple[str, float | None]] | None = None,
                 hold_ms: int = 0) -> None:
        self.out = out or sys.stdout
        self.items = items
        self.hold_ms = hold_ms

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TerminalPartition:
        return _TerminalPartition(self.out, self.items, self.hold_ms)
