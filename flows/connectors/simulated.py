"""The embedded default: a simulated world streamed into the job at a watchable pace.

The simulator's events are released when the wall clock says their event time has come
(``speed`` simulated seconds per wall second), so a person sees pushes appear as the hosts
change their showcases. Pushes are printed one line each.
"""

from __future__ import annotations

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


def describe_push(push: dict[str, Any]) -> str:
    """One readable line for a push."""
    stamp = datetime.fromtimestamp(int(push["ts"]) / 1000, UTC).strftime("%H:%M:%S")
    items = ", ".join(f"{it['item_id']} ({it['score']:.3f})" for it in push["items"])
    why = f" — {push['why']}" if push.get("why") else ""
    return (
        f"{stamp} {push['room_id']} → {push['user_id']} [{push['arm']}, {push['trigger']}]"
        f": {items}{why}"
    )


class _TerminalPartition(StatelessSinkPartition[tuple[str, Messages]]):
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write_batch(self, items: list[tuple[str, Messages]]) -> None:
        for _key, messages in items:
            for _k, value in messages:
                self._out.write(describe_push(orjson.loads(value)) + "\n")
        self._out.flush()


class TerminalSink(DynamicSink[tuple[str, Messages]]):
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TerminalPartition:
        return _TerminalPartition(self.out)
