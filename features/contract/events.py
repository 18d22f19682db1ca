"""The decoded shapes of the contract's messages (see ``features/contract/EVENTS.md``).

Decoding produces these plain, slotted records once, at the edge, so everything downstream
works on typed attributes instead of re-checking dicts. They carry their ``Origin`` and raw
bytes so that a record rejected later (a late event) still becomes a complete dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Event types of contract v1, grouped by the role they play in the job.
PRESENCE_TYPES: Final = frozenset({"enter", "leave", "heartbeat"})
ENGAGEMENT_TYPES: Final = frozenset({"like", "comment", "share", "follow", "gift"})
ITEM_TYPES: Final = frozenset({"item_click", "add_to_cart", "purchase", "push_open"})
ROOM_TYPES: Final = frozenset({"showcase", "room_close"})
EVENT_TYPES: Final = PRESENCE_TYPES | ENGAGEMENT_TYPES | ITEM_TYPES | ROOM_TYPES
TRIGGER_TYPES: Final = frozenset({"showcase", "enter"})

AttrValue = str | int | float


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read: Kafka coordinates, or file name, 0 and 1-based line."""

    topic: str
    partition: int
    offset: int


class CutMessage(bytes):
    """The first bytes of a message too long to hold whole (a file line past
    ``--max-message-bytes``), with the size of all of it.

    A reader bounds what it holds of a line, yet the producer fixing it needs the line's size,
    not the reader's cut-off: the dead letter says both (``validation``).

    >>> import pickle
    >>> cut = CutMessage(b'{"event_id":', 10_000_000)
    >>> len(cut), cut.size, cut == b'{"event_id":', pickle.loads(pickle.dumps(cut)).size
    (12, 10000000, True, 10000000)
    """

    size: int

    def __new__(cls, head: bytes, size: int) -> CutMessage:
        cut = super().__new__(cls, head)
        cut.size = size
        return cut

    def __reduce__(self) -> tuple[type[CutMessage], tuple[bytes, int]]:
        return CutMessage, (bytes(self), self.size)  # bytes' own would drop the size


class UnreadMessage(bytes):
    """A message the transport could not hand over (Kafka's client failed to decompress it):
    no bytes, and why. The decoder makes it a dead letter, so the stream moves past it
    instead of asking for it again forever.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(UnreadMessage("could not decompress"))).why
    'could not decompress'
    """

    why: str

    def __new__(cls, why: str) -> UnreadMessage:
        unread = super().__new__(cls, b"")
        unread.why = why
        return unread

    def __reduce__(self) -> tuple[type[UnreadMessage], tuple[str]]:
        return UnreadMessage, (self.why,)


@dataclass(frozen=True, slots=True)
class ShowcaseItem:
    item_id: str
    price: float
    category: str
    title: str | None = None
    # What the platform says of the item (rating, discount, stock, ...): its numbers are
    # features a room learns weights for (``features.state.catalog.ItemTable.show``).
    attrs: dict[str, AttrValue] = field(default_factory=dict, hash=False)


@dataclass(slots=True)
class Event:
    """One valid room event; fields not used by its ``type`` keep their defaults."""

    event_id: str
    type: str
    ts: int
    room_id: str
    origin: Origin
    raw: bytes = b""
    user_id: str | None = None
    item_id: str | None = None
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    watch_ms: int = 0
    amount: float = 0.0
    qty: int = 1
    rec_id: str | None = None
    items: tuple[ShowcaseItem, ...] = ()
    spotlight: str | None = None
    read_at: float = 0.0  # time.monotonic() when the job read it; for push latency


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input the job cannot use; ``reason`` is a bounded label for metrics."""

    origin: Origin
    reason: str
    error: str
    raw: bytes


DEAD_LETTER_REASONS: Final = (
    "not_json", "invalid", "unknown_type", "too_large", "reused_id", "ahead", "closed",
    "superseded",
)  # fmt: skip
