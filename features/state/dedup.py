"""Remember recent ``event_id``s so a redelivered event is applied once.

Kafka and upstream retries deliver at least once; the horizon is measured in event time
(not wall time) so that a replay drops exactly the same duplicates as the first run. With
each id goes an 8-byte digest of the message's bytes (not the body): a redelivery carries the
same bytes and is dropped; an id reused for other content is told apart, so the caller can
make it a dead letter instead of silently dropping, say, a showcase change.

Ids are remembered per *source*: a viewer's events (their ``user_id``) and the platform's
room-level events (``showcase``, ``room_close``: ``PLATFORM``) each have their own namespace.
A redelivery comes from the same source with the same bytes, and a producer that reuses an id
reuses its own; but one viewer who sends an id first (the coming showcase's, or the next 150
ids of a counter) must not turn the real event into a "duplicate" or a ``reused_id`` dead
letter. Ids restored from a snapshot written before sources were kept have none (``None``):
they still drop their redelivery (same bytes) but block nothing else.
"""

from __future__ import annotations

import hashlib
from collections import deque
from enum import Enum
from typing import Final

from features.contract.events import ROOM_TYPES

PLATFORM: Final = ""  # the room-level events' source (no viewer id is empty: the contract)


class Seen(Enum):
    """What ``Deduplicator.offer`` found."""

    NEW = "new"
    DUPLICATE = "duplicate"  # same id, same content: a redelivery
    REUSED = "reused"  # same id, other content: the producer reused an id


def digest(raw: bytes) -> bytes:
    """8 bytes of blake2b: enough to tell a redelivery from a reuse, small to keep."""
    return hashlib.blake2b(raw, digest_size=8).digest()


Key = tuple[str | None, str]  # (source, event_id); source None: restored, unknown


class Deduplicator:
    """Bounded map of (source, event id) seen within ``horizon_ms`` of the newest event time.

    >>> d = Deduplicator(horizon_ms=1_000, max_ids=10)
    >>> d.first_time("e-1", 0), d.first_time("e-1", 10), d.first_time("e-2", 20)
    (True, False, True)
    >>> d.offer("e-2", 20, b"other").name
    'REUSED'
    >>> d.offer("e-2", 20, b"other", source="u-9").name  # another source's id: its own
    'NEW'
    >>> d.first_time("e-3", 5_000), len(d)
    (True, 1)
    """

    __slots__ = ("_order", "_seen", "horizon_ms", "max_ids", "newest")

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self.newest = 0
        self._seen: dict[Key, bytes] = {}
        self._order: deque[tuple[int, Key]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, event_id: str, ts: int, raw: bytes = b"",
                   source: str = PLATFORM) -> bool:
        """True the first time an id is offered; False for a redelivery inside the horizon."""
        return self.offer(event_id, ts, raw, source) is Seen.NEW

    def offer(self, event_id: str, ts: int, raw: bytes, source: str = PLATFORM,
              now: int | None = None) -> Seen:
        """NEW the first time ``source`` offers an id inside the horizon; then DUPLICATE when
        the bytes are the same, REUSED when they differ (the first content stays the one
        kept). Another source's use of the same id is not looked at. ``now``: the time that
        ages the ids, when it is not the event's own ``ts`` (which one sender may set far
        ahead: ``features.state.inbox`` passes the time its senders agree on)."""
        known = self._seen.get((source, event_id))
        if known is not None:
            same = not known or known == digest(raw)  # b"": restored without a digest
            return Seen.DUPLICATE if same else Seen.REUSED
        if self._restored_copy(event_id, raw):
            return Seen.DUPLICATE
        self._seen[(source, event_id)] = digest(raw)
        self._order.append((ts, (source, event_id)))
        clock = ts if now is None else now
        if clock > self.newest:
            self.newest = clock
        self._evict()
        return Seen.NEW

    def forget(self, event_id: str, source: str) -> None:
        """Drop one id, say one remembered at a far time that will not come: its entry in the
        age order goes when it comes first, instead of holding back the ids behind it."""
        self._seen.pop((source, event_id), None)

    def _restored_copy(self, event_id: str, raw: bytes) -> bool:
        """Whether an id restored without its source (an older snapshot) was these bytes: the
        same bytes name the same source, so that is a redelivery. Other bytes may be another
        source's, so they are not blocked. With no digest either (older still), the id alone
        decides, as it did when the snapshot was written."""
        known = self._seen.get((None, event_id))
        return known is not None and (not known or known == digest(raw))

    def restore(self, newest: int, order: list[tuple[int, str, str | None, bytes]]) -> None:
        """Put back what ``entries`` gave: ``(ts, event_id, source, digest)`` oldest first;
        source ``None`` for ids stored before sources were kept, digest ``b""`` when unknown."""
        self.newest = newest
        self._order = deque((ts, (source, event_id)) for ts, event_id, source, _ in order)
        self._seen = {(source, event_id): d for _, event_id, source, d in order}

    def entries(self) -> list[tuple[int, str, str | None, bytes]]:
        """``(ts, event_id, source, digest)`` oldest first: what a snapshot keeps."""
        seen = self._seen
        return [(ts, key[1], key[0], seen[key]) for ts, key in self._order if key in seen]

    def _evict(self) -> None:
        cutoff = self.newest - self.horizon_ms
        order, seen = self._order, self._seen
        while order and (order[0][0] < cutoff or len(order) > self.max_ids
                         or order[0][1] not in seen):  # forgotten: its entry goes too
            seen.pop(order.popleft()[1], None)


def source_of(event_type: str, user_id: str | None) -> str:
    """Who sent an event, as far as ids and clocks go: the viewer, or for the room-level
    types the platform (whatever extra fields such an event carries).

    >>> source_of("heartbeat", "u-1"), source_of("showcase", "u-1"), source_of("room_close", None)
    ('u-1', '', '')
    """
    return PLATFORM if event_type in ROOM_TYPES or user_id is None else user_id
