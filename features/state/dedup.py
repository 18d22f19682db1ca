"""Remember recent ``event_id``s so a redelivered event is applied once.

Kafka and upstream retries deliver at least once; the horizon is measured in event time
(not wall time) so that a replay drops exactly the same duplicates as the first run.
"""

from __future__ import annotations

from collections import deque


class Deduplicator:
    """Bounded set of event ids seen within ``horizon_ms`` of the newest event time.

    >>> d = Deduplicator(horizon_ms=1_000, max_ids=10)
    >>> d.first_time("e-1", 0), d.first_time("e-1", 10), d.first_time("e-2", 20)
    (True, False, True)
    >>> d.first_time("e-3", 5_000), len(d)
    (True, 1)
    """

    __slots__ = ("_order", "_seen", "horizon_ms", "max_ids", "newest")

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self.newest = 0
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, event_id: str, ts: int) -> bool:
        """True the first time an id is offered; False for a redelivery inside the horizon."""
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        self._order.append((ts, event_id))
        if ts > self.newest:
            self.newest = ts
        self._evict()
        return True

    def _evict(self) -> None:
        cutoff = self.newest - self.horizon_ms
        order, seen = self._order, self._seen
        while order and (order[0][0] < cutoff or len(order) > self.max_ids):
            seen.discard(order.popleft()[1])
