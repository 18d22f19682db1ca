"""What a room emits besides pushes: its per-call statistics and its dead letters.

Dead letters are the producer's only feedback, so each says what was wrong with the event, what
the room did instead, and what to change; ``RoomStats`` carries no ids beyond the room's, so
metrics stay bounded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from features.contract.events import DeadLetter, Event


@dataclass(slots=True)
class RoomStats:
    """What one call to ``accept`` did, for metrics (no ids beyond the room's)."""

    room_id: str
    events: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    present: int = 0
    clock: int = 0  # newest event time applied
    refused: int = 0  # learner updates refused as non-finite in this call
    closed: bool = False
    propensity: list[tuple[float, bool]] = field(default_factory=list)
    hits: list[tuple[str, bool]] = field(default_factory=list)
    conversions: list[tuple[str, str]] = field(default_factory=list)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (arm, reason)



def reused_id_letter(room_id: str, event: Event) -> DeadLetter:
    return DeadLetter(
        event.origin,
        "reused_id",
        f"event_id {event.event_id!r} was already used in room {room_id!r} for"
        " different content (a redelivery carries the same bytes); the first event was"
        " kept. Give every event its own event_id.",
        event.raw,
    )


def ahead_letter(
    room_id: str, event: Event, clock: int, max_ahead_ms: int | None
) -> DeadLetter:
    return DeadLetter(
        event.origin,
        "ahead",
        f"event {event.event_id!r} has ts {event.ts}, {event.ts - clock} ms ahead of room"
        f" {room_id!r}'s clock (ts {clock}), beyond --max-ahead-ms {max_ahead_ms}, and the"
        " room's next event did not agree; one outlier does not move a room's clock (two"
        " events in a row that far ahead, from two senders, do). Fix the producer's clock.",
        event.raw,
    )


def closed_letter(room_id: str, event: Event, close_id: str, close_ts: int) -> DeadLetter:
    return DeadLetter(
        event.origin,
        "closed",
        f"room {room_id!r} was closed by room_close {close_id!r} (ts {close_ts}); events that"
        " arrive after a room's room_close are not applied. Send room_close last, or open a"
        " new room id for a new session.",
        event.raw,
    )
