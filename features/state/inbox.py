"""What arrives at a room, turned into what the room applies: the input rules in one place.

Events reach a room in any batching, some twice, some out of order, some forged. Before
anything is learned or ranked, the inbox decides from arrival order alone (never from wall
time or batching, so a replay decides the same) what each one is:

* a redelivery (same sender, same id, same bytes): dropped and counted;
* an id its sender already used for other content: a ``reused_id`` dead letter;
* anything after the room's ``room_close`` (arriving after it, or held and later than it in
  event time, then taken in arrival order as if it arrived just after the close): a
  ``closed`` dead letter, unless it is from before the close by at most ``lateness_ms``
  (tolerated disorder: handed on, and the closed room, whose state is gone, counts it);
  until a ``showcase`` that is not such a straggler opens a new session (the host starting
  again, whatever the close's ts said);
* an event far ahead of the room's time (``--max-ahead-ms``): held, with any later ones of the
  same sender, until an event of another sender says whether the producers' clock moved (that
  far ahead too: the held ones applied) or they were outliers (``ahead`` dead letters). The
  host is one sender like any viewer: a host clock an hour ahead is refused, not trusted;
* otherwise it goes through the ``ReorderBuffer``, which hands it back in event-time order
  once the watermark has passed it (an event already behind the watermark: at once).

The room applies what ``arrive`` returns in the order returned; the dead letters sit among the
events where they arose. The verdicts are those of the events arriving one at a time, however
they are batched (a property test holds it).

>>> from features.contract.events import Event, Origin
>>> def ev(i, ts, kind="heartbeat"):
...     user = None if kind == "room_close" else "u"
...     return Event(i, kind, ts, "r", Origin("t", 0, 0), raw=i.encode(), user_id=user)
>>> inbox = Inbox("r", lateness_ms=10)
>>> out, duplicates = inbox.arrive([ev("a", 100), ev("b", 95), ev("a", 100), ev("c", 120)])
>>> [e.event_id for e in out], duplicates
(['b', 'a'], 1)
>>> out, _ = inbox.arrive([ev("z", 121, "room_close"), ev("d", 122)])
>>> [getattr(e, "event_id", None) or e.reason for e in out]
['c', 'z', 'closed']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from features.contract.events import DeadLetter, Event, Origin, ShowcaseItem
from features.state.clock import AgreedClock
from features.state.dedup import Deduplicator, Seen, source_of
from features.state.reorder import ReorderBuffer

Verdict = Event | DeadLetter
"""An event to apply, in the room's event-time order, or a dead letter to emit."""


class Inbox:
    """A room's input rules and the state they keep (ids seen, events held, the close)."""

    __slots__ = ("buffer", "close_id", "close_ts", "closed", "dedup", "ids_clock", "late",
                 "room_id", "suspects")

    def __init__(
        self,
        room_id: str,
        lateness_ms: int,
        max_held: int = 50_000,
        max_ahead_ms: int | None = None,
        dedup_horizon_ms: int = 600_000,
        dedup_max_ids: int = 200_000,
    ) -> None:
        self.room_id = room_id
        self.dedup = Deduplicator(dedup_horizon_ms, dedup_max_ids)
        self.ids_clock = AgreedClock(stale_ms=dedup_horizon_ms)  # of arrivals, for the ids
        self.buffer: ReorderBuffer[Event] = ReorderBuffer(lateness_ms, max_held, max_ahead_ms)
        self.closed = False  # a room_close was accepted: what follows is refused, but a showcase
        self.close_id, self.close_ts = "", -1  # the last room_close (kept when open again)
        # Far-ahead events of one sender waiting for another sender (reorder.py's rule), each
        # with the clock it arrived against: applied if that one agrees, else dead letters.
        self.suspects: list[tuple[Event, int]] = []
        # The events of the last ``arrive`` that came more than the lateness behind the newest
        # one before them (``id``s): handed on at once, ahead of events held that came first.
        self.late: set[int] = set()

    def __len__(self) -> int:
        """Events held for event-time order (a quiet room's flush applies them)."""
        return len(self.buffer)

    def arrive(self, events: Iterable[Event]) -> tuple[list[Verdict], int]:
        """The verdicts on ``events`` (arrival order) and how many were redeliveries."""
        out: list[Verdict] = []
        duplicates = 0
        buffer = self.buffer
        self.late = set()
        for event in events:
            source = source_of(event.type, event.user_id)
            # The ids age by the time a majority of the room's newest senders agree on, as
            # the room's own clock does (``features.state.clock``): one account sending its
            # clock ahead, held, refused or within --max-ahead-ms, must not make the room
            # forget every id and let redeliveries through.
            now = self.ids_clock.observe(event.ts, source)
            seen = self.dedup.offer(event.event_id, event.ts, event.raw, source, now=now)
            if seen is Seen.DUPLICATE:
                duplicates += 1
            elif seen is Seen.REUSED:
                out.append(reused_id_letter(self.room_id, event))
            elif self.closed and (event.type != "showcase" or self._straggling(event.ts)):
                out.append(self._straggler(event))
            else:
                if self.closed:
                    self._reopen()
                if buffer.ahead(event.ts, source):
                    # Held, not refused yet: another sender's next event says whether the
                    # room's clock moved (a room quiet for a while) or these are outliers.
                    self._hold(event, out)
                else:
                    if self.suspects:
                        if buffer.agreed:  # another source that far ahead too: clock moved
                            self._confirm(event.ts, out)
                        else:
                            self._refuse_suspects(out)
                    if self.closed:  # a held event was the room_close
                        out.append(self._after_close(event))
                    else:
                        self._offer(event, out)
            # Released after every arrival, not once per batch: what a bounded buffer lets go
            # early, and where a dead letter falls among the events, then follow arrival order
            # alone, however the engine batched it.
            out.extend(buffer.release())
        return out, duplicates

    def flush(self, final: bool = True) -> list[Verdict]:
        """Everything still held back: the input ended (``final``), or the room went quiet
        for a while (not ``final``: a far-ahead event held for the next one to confirm waits
        on, since wall time must not decide what the room's events mean)."""
        out: list[Verdict] = []
        self.late = set()
        if final:
            self._refuse_suspects(out)
        out.extend(self.buffer.flush())
        return out

    # -- persistence (the room's snapshot holds these trees under "dedup" and "buffer") -------
    def dump(self) -> dict[str, Any]:
        """The ids remembered and the events held, as plain trees (``models.room_state``)."""
        dedup, buffer = self.dedup, self.buffer
        entries = dedup.entries()
        return {
            "dedup": {
                "newest": dedup.newest,
                "clock": self.ids_clock.dump(),
                "order": [[ts, event_id] for ts, event_id, _, _ in entries],
                "digests": [d.hex() for _, _, _, d in entries],
                "sources": [source for _, _, source, _ in entries],
            },
            "buffer": {
                "newest": buffer.newest,
                "refused_ahead": buffer.refused_ahead,
                "refused_by": buffer.refused_by,
                "seq": buffer._seq,
                "held": [[ts, seq, plain_event(e)] for ts, seq, e in buffer._heap],
                "suspects": [[plain_event(e), clock] for e, clock in self.suspects],
            },
        }

    def load(self, tree: dict[str, Any]) -> None:
        """Put back what ``dump`` wrote, or what an older release wrote: ids without digests
        (``""``: unknown) or sources (``None``: unknown) still drop their redelivery; a buffer
        without ``refused_by`` lets any other source agree; one with ``suspect`` held at most
        one far-ahead event, one without either held none (it refused them at once)."""
        stored = tree["dedup"]
        clock = stored.get("clock")  # older snapshots: the senders are heard anew
        if clock is not None:
            self.ids_clock.load(clock["newest"], clock["platform"])
        order = stored["order"]
        digests = stored.get("digests") or [""] * len(order)
        sources = stored.get("sources") or [None] * len(order)
        self.dedup.restore(stored["newest"], [
            (ts, event_id, source, bytes.fromhex(d))
            for (ts, event_id), d, source in zip(order, digests, sources, strict=True)
        ])
        stored, buffer = tree["buffer"], self.buffer
        buffer.newest, buffer._seq = stored["newest"], stored["seq"]
        buffer.refused_ahead = stored.get("refused_ahead", False)
        buffer.refused_by = stored.get("refused_by")
        buffer._heap = [(ts, seq, event_from_plain(e)) for ts, seq, e in stored["held"]]
        held = stored.get("suspects")
        if held is None:
            held = [] if stored.get("suspect") is None else [stored["suspect"]]
        self.suspects = [(event_from_plain(e), int(clock)) for e, clock in held]

    def _offer(self, event: Event, out: list[Verdict]) -> None:
        """Into the reorder buffer; a late event (behind the watermark) comes out at once,
        after what the watermark already passed: late only for the pushes already made."""
        if self.closed:  # held far ahead, confirmed after the close
            out.append(self._straggler(event))
            return
        buffer = self.buffer
        if not buffer.offer(event):
            out.extend(buffer.release())
            out.append(event)
            self.late.add(id(event))
        if event.type == "room_close":
            # It ends the room's stream: nothing later will move the watermark, so all that
            # is held (the close among it) is applied now, in event-time order; what is
            # later than the close in event time is after the end, though it came first.
            self.closed = True
            self.close_id, self.close_ts = event.event_id, event.ts
            ended, later = buffer.end_at(event.ts)
            out.extend(ended)
            # What is later than the close in event time is after the end of the stream,
            # though it came first: decided in arrival order as if it came just after the
            # close, so a new show's first showcase overtaken by the old show's close opens
            # the new session, as it would have arriving after it (red team 11 #8).
            for held in later:
                if self.closed and held.type != "showcase":
                    out.append(self._after_close(
                        held, "is later in event time, though it arrived first"))
                    continue
                if self.closed:
                    self._reopen()
                self._offer(held, out)
                out.extend(self.buffer.release())

    def _reopen(self) -> None:
        """The host's showcase after the close (in arrival order, and not a straggler from
        just before it) opens a new session, whatever the close's ts said: a stray or forged
        close, even one far ahead, silences the room until the next showcase, not for good.
        The closed session's time ended with it."""
        self.closed = False
        self.buffer.restart()

    def _hold(self, event: Event, out: list[Verdict]) -> None:
        """Hold a far-ahead event beside its sender's earlier ones (``ahead`` refuses only
        when no other sender's event came between). With the reorder buffer's, at most
        ``--max-held-events`` are held (one far ahead more while the buffer is full); past
        that the oldest is refused."""
        buffer = self.buffer
        self.suspects.append((event, buffer.newest))
        if len(self.suspects) > max(1, buffer.max_held - len(buffer)):
            event, clock = self.suspects.pop(0)
            self._forget(event)
            out.append(ahead_letter(self.room_id, event, clock, buffer.max_ahead_ms,
                                    bound=buffer.max_held))

    def _confirm(self, ts: int, out: list[Verdict]) -> None:
        """Another sender's event at ``ts`` moved the clock: the held events it vouches for
        (not themselves far ahead of it) are applied, in arrival order; any others refused."""
        reach = ts + (self.buffer.max_ahead_ms or 0)
        held, self.suspects = self.suspects, []
        for event, clock in held:
            if event.ts <= reach:
                self._offer(event, out)
            else:
                self._forget(event)
                out.append(ahead_letter(self.room_id, event, clock, self.buffer.max_ahead_ms))

    def _refuse_suspects(self, out: list[Verdict]) -> None:
        """The held far-ahead events agreed with nobody: their dead letters, each naming the
        clock it was measured against when it arrived."""
        held, self.suspects = self.suspects, []
        for event, clock in held:
            self._forget(event)
            out.append(ahead_letter(self.room_id, event, clock, self.buffer.max_ahead_ms))

    def _forget(self, event: Event) -> None:
        """A refused far-ahead event's id, remembered at its own far time, would hold the
        ids' age order (oldest first) until the room's clock got there: its redelivery is
        refused again anyway."""
        self.dedup.forget(event.event_id, source_of(event.type, event.user_id))

    def _straggling(self, ts: int) -> bool:
        """From before the close by at most the tolerated disorder."""
        return self.close_ts - self.buffer.lateness_ms <= ts <= self.close_ts

    def _straggler(self, event: Event) -> Verdict:
        """While closed: a straggler is no producer's fault: handed on (the closed room
        counts it), not refused."""
        return event if self._straggling(event.ts) else self._after_close(event)

    def _after_close(self, event: Event, why: str = "arrived after it") -> DeadLetter:
        return closed_letter(self.room_id, event, self.close_id, self.close_ts, why)


def plain_event(event: Event) -> dict[str, Any]:
    """An event as a plain tree for a snapshot, without its read time (a monotonic clock
    reading, meaningless after a restart)."""
    plain = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    plain["origin"] = dataclasses.astuple(event.origin)
    plain["items"] = [dataclasses.astuple(item) for item in event.items]
    plain.pop("read_at")
    return plain


def event_from_plain(stored: dict[str, Any]) -> Event:
    fields = {f.name for f in dataclasses.fields(Event)}
    values = {k: v for k, v in stored.items() if k in fields}
    values["origin"] = Origin(*stored["origin"])
    values["items"] = tuple(ShowcaseItem(*item) for item in stored["items"])
    return Event(**values)


def reused_id_letter(room_id: str, event: Event) -> DeadLetter:
    return DeadLetter(
        event.origin,
        "reused_id",
        f"event_id {event.event_id!r} was already used in room {room_id!r} for other"
        " bytes; the first event was kept. A redelivery must repeat the original bytes: if"
        " a relay or an archive re-encoded it (key order, spacing), send the bytes as first"
        " written; otherwise give every event its own event_id.",
        event.raw,
    )


def superseded_letter(room_id: str, event: Event, shown_id: str, shown_ts: int) -> DeadLetter:
    return DeadLetter(
        event.origin,
        "superseded",
        f"showcase {event.event_id!r} (ts {event.ts}) is older than showcase {shown_id!r}"
        f" (ts {shown_ts}), already in force in room {room_id!r}: it was not shown and"
        " pushed nothing. Send a room's showcases in event-time order (in Kafka, key every"
        " event by its room_id), within --lateness-ms of each other's arrival.",
        event.raw,
    )


def ahead_letter(
    room_id: str, event: Event, clock: int, max_ahead_ms: int | None, bound: int = 0
) -> DeadLetter:
    why = (f" and more than --max-held-events {bound} events were held waiting for another"
           " sender to agree" if bound else
           " and the next event of another sender did not agree")
    return DeadLetter(
        event.origin,
        "ahead",
        f"event {event.event_id!r} has ts {event.ts}, {event.ts - clock} ms ahead of room"
        f" {room_id!r}'s clock (ts {clock}), beyond --max-ahead-ms {max_ahead_ms},{why}; one"
        " sender does not move a room's clock (another sender's event that far ahead"
        " does). Fix the producer's clock.",
        event.raw,
    )


def closed_letter(room_id: str, event: Event, close_id: str, close_ts: int,
                  why: str = "arrived after it") -> DeadLetter:
    """``why``: "arrived after it" (the default), or how else the event fell after the close."""
    if why == "arrived after it":
        advice = (" A closed room applies nothing until the host's next showcase opens a new"
                  " session: if the show goes on, or the room id starts a new one, send that"
                  " showcase before the viewers' events; if it ended, send room_close last")
    else:  # held, later than the close in event time, though it came first
        advice = (" A room's events later than its room_close are after the end of its"
                  " stream: send room_close last, with the room's latest ts; a new show"
                  " under the same room id starts with a showcase sent after the close")
    return DeadLetter(
        event.origin,
        "closed",
        f"room {room_id!r} was closed by room_close {close_id!r} (ts {close_ts}) and event"
        f" {event.event_id!r} (ts {event.ts}) {why}.{advice} (in Kafka, key every event by its"
        " room_id, so that a room's events keep one partition's order).",
        event.raw,
    )
