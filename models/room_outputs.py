"""What a room reports of each call besides pushes and dead letters, for metrics.

``RoomStats`` carries no ids beyond the room's, so metrics stay bounded. (The input rules'
dead letters are written where the rules are: ``features.state.inbox``.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


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
    reopened: int = -1  # the ts of the close a showcase opened the room again after, if it did
    propensity: list[tuple[float, bool]] = field(default_factory=list)
    hits: list[tuple[str, bool]] = field(default_factory=list)
    conversions: list[tuple[str, str]] = field(default_factory=list)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (arm, reason)
    late_triggers: Counter[str] = field(default_factory=Counter)  # by type: pushed to nobody
