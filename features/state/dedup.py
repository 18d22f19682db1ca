"""Remember recent ``event_id``s so a redelivered event is applied once.

Kafka and upstream retries deliver at least once; the horizon is measured in event time
(not wall time) so that a replay drops exactly the same duplicates as the first run. With
each id goes an 8-byte digest of the message's bytes (not the body): a redelivery carries the
same bytes and is dropped; an id reused for other content is told apart, so the caller can
make it a dead letter instead of silently dropping, say, a showcase change.
"""

from __future__ import annotations

import hashlib
from collections import deque
from enum import Enum


class Seen(Enum):
    """What ``Deduplicator.offer`` found."""

    NEW = "new"
    DUPLICATE = "duplicate"  # same id, same content: a redelivery
    REUSED = "reused"  # same id, other content: the producer reused an id


def digest(raw: bytes) -> bytes:
    """8 bytes of blake2b: enough to tell a redelivery from a reuse, small to keep."""
    return hashlib.blake2b(raw, digest_size=8).digest()


class Deduplicator:
    """Bounded map of event ids seen within ``horizon_ms`` of the newest event time.

    >>> d = Deduplicator(horizon_ms=1_000, max_ids=10)
    >>> d.first_time("e-1", 0), d.first_time("e-1", 10), d.first_time("e-2", 20)
    (True, False, True)
    >>> d.offer("e-2", 20, b"other").name
    'REUSED'
    >>> d.first_time("e-3", 5_000), len(d)
    (True, 1)
    """

    __slots__ = ("_order", "_seen", "horizon_ms", "max_ids", "newest")

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self.newest = 0
        self._seen: dict[str, bytes] = {}
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, event_id: str, ts: int, raw: bytes = b"") -> bool:
        """True the first time an id is offered; False for a redelivery inside the horizon."""
        return self.offer(event_id, ts, raw) is Seen.NEW

    def offer(self, event_id: str, ts: int, raw: bytes) -> Seen:
        """NEW the first time an id is offered inside the horizon; then DUPLICATE when the
        bytes are the same, REUSED when they differ (the first content stays the one kept)."""
        known = self._seen.get(event_id)
        if known is not None:
            same = not known or known == digest(raw)  # b"": restored without a digest
            return Seen.DUPLICATE if same else Seen.REUSED
        self._seen[event_id] = digest(raw)
        self._order.append((ts, event_id))
        if ts > self.newest:
            self.newest = ts
        self._evict()
        return Seen.NEW

    def _evict(self) -> None:
        cutoff = self.newest - self.horizon_ms
        order, seen = self._order, self._seen
        while order and (order[0][0] < cutoff or len(order) > self.max_ids):
            seen.pop(order.popleft()[1], None)
