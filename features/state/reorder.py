"""Apply a room's events in event-time order, holding each back until it is safe.

The ranking for a trigger at ``T`` may use only events with ``ts <= T``. Producers write
in order but the contract tolerates modest disorder, so each room buffers events and
releases them in ``(ts, arrival)`` order once the room's watermark (newest ``ts`` seen
minus ``lateness_ms``) has passed them. An event more than ``lateness_ms`` older than the
newest one offered before it is refused as late.

The buffer is bounded (``max_held``): a producer whose clock is stuck (every event at the same
``ts``) never moves the watermark, and would otherwise hold every event forever. Past the
bound the oldest held events, in the same ``(ts, arrival)`` order, are released early. That
keeps the no-look-ahead rule (a trigger applied early has seen only older events; an event
arriving later with a smaller ``ts`` is applied after it, as a late event is) and depends
on arrival order alone, so replays stay identical, provided ``release`` follows every
``offer`` (``features.state.inbox`` does; released once per batch, what the bound lets go
early would depend on the batching).

Late events, refused here, are applied at once by the room (late only for the pushes already
made). An event more than ``max_ahead_ms`` ahead of the newest is refused as ahead,
unless the event offered just before it was refused as ahead too and came from another
source (two events in a row, from two sources, agree: the producers' clock really moved;
``agreed`` says so, and the room then applies the refused one too, which it held), so one
outlier, or one account sending many, can never move the watermark and make the room's
later events late.
All rules depend on event time and arrival order only, so a replay, a restart, another
batching or another worker count applies exactly the same sequence.
"""

from __future__ import annotations

import heapq
from typing import Generic, Protocol, TypeVar


class _Timed(Protocol):
    ts: int


T = TypeVar("T", bound=_Timed)


class ReorderBuffer(Generic[T]):
    """Event-time reorder buffer.

    >>> from types import SimpleNamespace as E
    >>> buf = ReorderBuffer(lateness_ms=10)
    >>> [buf.offer(E(ts=t)) for t in (100, 95, 120)]
    [True, True, True]
    >>> [e.ts for e in buf.release()]
    [95, 100]
    >>> buf.offer(E(ts=109)), [e.ts for e in buf.flush()]
    (False, [120])
    """

    __slots__ = (
        "_heap", "_seq", "agreed", "lateness_ms", "max_ahead_ms", "max_held", "newest",
        "refused_ahead", "refused_by",
    )  # fmt: skip

    def __init__(
        self, lateness_ms: int, max_held: int = 50_000, max_ahead_ms: int | None = None
    ) -> None:
        self.lateness_ms = lateness_ms
        self.max_held = max(1, max_held)
        self.max_ahead_ms = max_ahead_ms
        self.refused_ahead = False  # the last event offered was refused as ahead
        self.refused_by: str | None = None  # its source (None: unknown, restored)
        self.agreed = False  # the last event offered was far ahead and agreed with the one before
        self.newest = -1  # newest ts offered
        self._heap: list[tuple[int, int, T]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def lag_behind(self, ts: int) -> int:
        """How many ms an event at ``ts`` is older than the newest event offered."""
        return self.newest - ts

    def too_far(self, ts: int) -> bool:
        """Whether ``ts`` is more than ``max_ahead_ms`` ahead of the newest event offered."""
        return self.max_ahead_ms is not None and self.newest >= 0 and (
            ts > self.newest + self.max_ahead_ms)

    def ahead(self, ts: int, source: str) -> bool:
        """Whether an event of ``source`` at ``ts`` is refused as too far ahead (see the
        module's rule); call once per arriving event, before ``offer``.

        >>> from types import SimpleNamespace as E
        >>> buf = ReorderBuffer(lateness_ms=10, max_ahead_ms=1_000)
        >>> buf.ahead(0, "a"), buf.offer(E(ts=0)), buf.ahead(5_000, "a"), buf.ahead(1, "a")
        (False, True, True, False)
        >>> buf.ahead(5_000, "a"), buf.ahead(5_001, "a")  # one source agrees with nobody
        (True, True)
        >>> buf.ahead(5_002, "b"), buf.offer(E(ts=5_002)), buf.newest
        (False, True, 5002)
        """
        too_far = self.too_far(ts)
        refuse = too_far and not (self.refused_ahead and self.refused_by != source)
        self.refused_ahead, self.refused_by = refuse, source if refuse else None
        self.agreed = too_far and not refuse
        return refuse

    def offer(self, event: T) -> bool:
        """Buffer an event; False when it is more than ``lateness_ms`` older than the newest
        event offered before it. That depends on arrival order alone (not on how arrivals
        are batched), and such an event can never be older than one already released."""
        ts = event.ts
        if ts < self.newest - self.lateness_ms:
            return False
        if ts > self.newest:
            self.newest = ts
        self._seq += 1
        heapq.heappush(self._heap, (ts, self._seq, event))
        return True

    def release(self) -> list[T]:
        """Events the watermark has passed, oldest first, then the oldest of the rest while
        more than ``max_held`` remain."""
        out = self._pop_until(self.newest - self.lateness_ms)
        heap = self._heap
        while len(heap) > self.max_held:
            out.append(heapq.heappop(heap)[2])
        return out

    def flush(self) -> list[T]:
        """Everything buffered: the input ended or the room closed."""
        return self._pop_until(self.newest)

    def end_at(self, ts: int) -> tuple[list[T], list[T]]:
        """Everything buffered, split at the stream's end (a close at ``ts``): what is at or
        before it in event-time order, and what is later in arrival order (it came first,
        yet is after the end: the caller decides each one as if it arrived after the close).

        >>> from types import SimpleNamespace as E
        >>> buf = ReorderBuffer(lateness_ms=10)
        >>> [buf.offer(E(ts=t)) for t in (107, 103, 100, 105)]
        [True, True, True, True]
        >>> [[e.ts for e in part] for part in buf.end_at(104)], len(buf)
        ([[100, 103], [107, 105]], 0)
        """
        held, self._heap = sorted(self._heap), []
        later = sorted((seq, event) for t, seq, event in held if t > ts)
        return [event for t, _, event in held if t <= ts], [event for _, event in later]

    def restart(self) -> None:
        """Forget the stream's time (nothing may be held): a new session of a closed room
        keeps its own time, not that of the closed one's close, which may be far off."""
        assert not self._heap, "restart with events held"
        self.newest, self.refused_ahead, self.refused_by, self.agreed = -1, False, None, False

    def _pop_until(self, watermark: int) -> list[T]:
        heap = self._heap
        out: list[T] = []
        while heap and heap[0][0] <= watermark:
            out.append(heapq.heappop(heap)[2])
        return out
