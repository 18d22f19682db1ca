"""The Kafka key an input message came with, against the room it names.

The contract keys each room event by its ``room_id`` so that one room's events share one
partition and keep their order there. A producer that keys otherwise (round-robin, by user,
no key) still gets every event applied, since rooms are regrouped by ``room_id`` after
decoding; but a room's events then race each other across partitions, so they are applied
out of order, come after the room's ``room_close`` (dead letters ``closed``) or past the
lateness (``late``), and the pushes differ from a keyed run's. Nothing in one event is wrong,
so it is no dead letter: each is counted, and the first one is named in a warning that tells
the producer what to change.

>>> from features.contract.events import Origin
>>> off = off_key((Origin("in", 2, 17), b"{}", 0.0, b"u-1"), "e-4", "r-7")
>>> off.key, off.room_id
('u-1', 'r-7')
>>> off_key((Origin("in", 0, 3), b"{}", 0.0, b"r-7"), "e-5", "r-7") is None
True
>>> off_key((Origin("in.jsonl", 0, 3), b"{}", 0.0), "e-6", "r-7") is None  # a file: no key
True
>>> print(off_key((Origin("in", 1, 9), b"{}", 0.0, None), "e-7", "r-7").warning())
... # doctest: +NORMALIZE_WHITESPACE
Kafka input in[1] offset 9: event 'e-7' of room 'r-7' came with no key; the contract keys each
room event by its room_id (EVENTS.md), so that a room's events stay in order in one partition.
Keyed otherwise, they are applied out of order and can come after the room's room_close (dead
letters 'closed') or past the lateness ('late'). Key each message by its room_id. Every such
event is counted in roomrank_input_off_key_total; this warning is not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.contract.events import Origin

KeyedRecord = tuple[Origin, bytes, float, bytes | None]
"""A record from Kafka: a file's ``RawRecord`` plus the message's key."""


@dataclass(frozen=True, slots=True)
class OffKey:
    """An event whose Kafka key is not its ``room_id`` (``key`` None: it had none)."""

    origin: Origin
    event_id: str
    room_id: str
    key: str | None

    def warning(self) -> str:
        came = "with no key" if self.key is None else f"keyed {self.key!r}"
        where = self.origin
        return (
            f"Kafka input {where.topic}[{where.partition}] offset {where.offset}: event"
            f" {self.event_id!r} of room {self.room_id!r} came {came}; the contract keys each"
            " room event by its room_id (EVENTS.md), so that a room's events stay in order in"
            " one partition. Keyed otherwise, they are applied out of order and can come after"
            " the room's room_close (dead letters 'closed') or past the lateness ('late')."
            " Key each message by its room_id. Every such event is counted in"
            " roomrank_input_off_key_total; this warning is not repeated."
        )


def off_key(record: tuple[Origin, bytes, float] | KeyedRecord, event_id: str,
            room_id: str) -> OffKey | None:
    """The mismatch, when ``record`` came from Kafka with a key other than ``room_id``."""
    if len(record) != 4:
        return None
    key = record[3]
    if key is not None and key == room_id.encode():
        return None
    shown = None if key is None else key.decode("utf-8", "replace")
    return OffKey(record[0], event_id, room_id, shown)
