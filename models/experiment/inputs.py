"""What the readout reads, checked as it is read, the same way from files and from Kafka.

The events are the job's input: the readout decodes them with the job's own decoder and
skips what the job would have dead-lettered, so it counts the events the job counted. The
pushes and the experiment log are the job's output, but a topic can hold anything anyone
wrote to it: a record the readout cannot use is skipped, never guessed at. Every skip is
counted with the first reason per source (``Skipped.lines``), so an operator sees them; a
source whose every record is unusable is the wrong file or topic, a ``ValueError``.

>>> skipped = Skipped()
>>> raw = b'{"event_id":"e1","type":"purchase","ts":5,"room_id":"r","user_id":"u",'
>>> raw += b'"item_id":"i","amount":9.5}'
>>> [e["amount"] for e in readout_events([(Origin("ev", 0, 1), raw),
...                                       (Origin("ev", 0, 2), b'{"type":"leave"}')], skipped)]
[9.5]
>>> skipped.lines()
["events: skipped 1 of 2 (partition 0 offset 2: missing required field 'event_id')"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Origin
from features.contract.limits import MAX_TS
from features.state.inbox import Inbox, Verdict

Raw = tuple[Origin, bytes]

# What a push or ghost push needs for the readout, and what an assignment record needs.
PUSH_FIELDS: dict[str, tuple[type, ...]] = {
    "rec_id": (str,), "room_id": (str,), "user_id": (str,), "trigger_id": (str,), "ts": (int,),
    "arm": (str,), "items": (list,),
}  # fmt: skip
ASSIGNMENT_FIELDS: dict[str, tuple[type, ...]] = {
    "room_id": (str,), "user_id": (str,), "trigger_id": (str,), "ts": (int,), "arm": (str,),
    "probability": (float, int),
}  # fmt: skip


_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list"}


@dataclass(slots=True)
class Skipped:
    """Per source: records read, records skipped, and the first skip's place and reason
    (``by_line``: files, whose origin's offset is the line number)."""

    by_line: bool = False
    read: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def count(self, source: str) -> None:
        self.read[source] = self.read.get(source, 0) + 1

    def skip(self, source: str, origin: Origin, why: str) -> None:
        self.skipped[source] = self.skipped.get(source, 0) + 1
        self.first.setdefault(source, f"{self.place(origin)}: {why}")

    def place(self, origin: Origin) -> str:
        return (f"line {origin.offset}" if self.by_line
                else f"partition {origin.partition} offset {origin.offset}")

    def lines(self) -> list[str]:
        return [f"{source}: skipped {n} of {self.read[source]} ({self.first[source]})"
                for source, n in self.skipped.items()]

    def check_usable(self, source: str, what: str) -> None:
        """A source that held records but not one usable is the wrong one: say so."""
        read = self.read.get(source, 0)
        if read and self.skipped.get(source, 0) == read:
            raise ValueError(f"{source}: none of its {read} records is {what}"
                             f" (first: {self.first[source]})")


def readout_events(raws: Iterable[Raw], skipped: Skipped, source: str = "events",
                   rules: Callable[[str], Inbox] | None = None) -> Iterator[dict[str, Any]]:
    """The valid events, as the fields the readout uses; dead letters skipped and counted.

    Inside a room the job also refuses events by its input rules (``features.state.inbox``:
    after the room's ``room_close``, far ahead of its clock, an id reused for other bytes)
    and drops redeliveries. Those rules read arrival order, which a room keeps in a file and
    in its Kafka partition, so the readout passes each room's events through the same rules
    (``rules``: a room's ``Inbox``, by default the job's default settings'; the experiment
    command gives the run's own): it refuses what the job refused, a purchase posted after
    the show ended converts no push, and none the job applied is left out. The events come
    out in each room's event-time order, as the job applies them.
    """
    if rules is None:
        from models.params import RoomParams

        rules = RoomParams().inbox
    inboxes: dict[str, Inbox] = {}
    for origin, raw in raws:
        skipped.count(source)
        event = decode_event(raw, origin)
        if isinstance(event, DeadLetter):
            skipped.skip(source, origin, event.error)
            continue
        inbox = inboxes.get(event.room_id)
        if inbox is None:
            inbox = inboxes[event.room_id] = rules(event.room_id)
        yield from _verdicts(inbox.arrive([event])[0], skipped, source)
    for inbox in inboxes.values():
        yield from _verdicts(inbox.flush(), skipped, source)


def _verdicts(verdicts: list[Verdict], skipped: Skipped, source: str
              ) -> Iterator[dict[str, Any]]:
    for v in verdicts:
        if isinstance(v, DeadLetter):
            first = v.error.split(". ")[0]
            skipped.skip(source, v.origin, f"the job's dead letter {v.reason!r} ({first})")
            continue
        yield {"event_id": v.event_id, "type": v.type, "ts": v.ts, "room_id": v.room_id,
               "user_id": v.user_id, "item_id": v.item_id, "amount": v.amount,
               "rec_id": v.rec_id}


_SWAPPED = ("; are --recs and --experiment-log (from Kafka: --output-topic and"
            " --experiment-topic) swapped?")


def readout_records(raws: Iterable[Raw], skipped: Skipped, source: str,
                    role: str = "") -> Iterator[dict[str, Any]]:
    """Pushes, ghost pushes and assignment records that have what the readout needs.

    ``role`` says which output ``source`` is. ``"pushes"``: every record is a push, whatever
    unknown ``kind`` it carries (the contract ignores unknown fields), but a ghost push or an
    assignment there is the experiment log: read as pushes they would make a holdout an
    exposed arm, so it is refused. ``"log"``: ghost pushes and assignments; a record without
    a ``kind`` is a push (refused the same way), another kind is skipped.
    """
    for origin, raw in raws:
        skipped.count(source)
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            skipped.skip(source, origin, f"not JSON ({err})")
            continue
        why = _unusable(record) or _misplaced(record, role, source, skipped.place(origin))
        if why:
            skipped.skip(source, origin, why)
            continue
        yield record


def _misplaced(record: dict[str, Any], role: str, source: str, place: str) -> str:
    """Why a usable record is not one of ``role``'s (to skip), or a ``ValueError``."""
    kind = record.get("kind")
    if role == "pushes" and kind in ("ghost_push", "assignment"):
        raise ValueError(f"{source} holds the experiment log's records ({place}: kind"
                         f" {kind!r}), not pushes{_SWAPPED}")
    if role == "log" and kind is None:
        raise ValueError(f"{source} holds pushes ({place}: no 'kind'), not ghost pushes or"
                         f" assignments{_SWAPPED}")
    if role == "log" and kind not in ("ghost_push", "assignment"):
        return f"'kind' {kind!r} is neither 'ghost_push' nor 'assignment'"
    return ""


def _unusable(record: Any) -> str:
    if not isinstance(record, dict):
        return "not a JSON object"
    needed = ASSIGNMENT_FIELDS if record.get("kind") == "assignment" else PUSH_FIELDS
    for name, kinds in needed.items():
        if type(record.get(name)) not in kinds:
            return f"{name!r} missing or not {' or '.join(_NAMES[k] for k in kinds)}"
    if not 0 <= record["ts"] <= MAX_TS:  # the events' range: a push is made at an event's ts
        return f"'ts' {record['ts']} outside the contract's range [0, {MAX_TS}]"
    if record.get("kind") == "assignment" and not 0.0 < record["probability"] <= 1.0:
        return "'probability' must be in (0, 1]"
    if "items" in needed and not all(
        isinstance(item, dict) and isinstance(item.get("item_id"), str)
        for item in record["items"]
    ):
        return "'items' must be objects with an 'item_id' string"
    return ""


def unique_assignments(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log's assignment records, once each (a viewer is assigned once per trigger), in
    a fixed order whatever order they were read in."""
    unique = {(r["room_id"], r["user_id"], r["trigger_id"]): r
              for r in records if r.get("kind") == "assignment"}
    return [unique[key] for key in sorted(unique)]
