"""The roomrank dataflow: wiring only; all behaviour lives in ``features`` and ``models``.

    raw records → decode → (dead letters) | key by room → Room.accept → pushes | dead letters
                                                                       ↘ stats → observer

Rooms are Bytewax keys, so a room's events meet in one ``Room`` in arrival order whatever
the number of workers or processes: pushes do not depend on the deployment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event
from features.contract.messages import PushBatch, encode_dead_letter, encode_pushes
from flows.connectors.files import Messages, RawRecord
from flows.crash import Guarded
from flows.input_keys import KeyedRecord, off_key
from flows.lifecycle import STOP
from flows.settings import Settings
from models.experiment.allocation import Assignments
from models.experiment.log import ExperimentRecord, encode_experiment
from models.experiment.serving import Ghosts
from models.params import RoomParams
from models.room import Output, Room, RoomStats

log = logging.getLogger("roomrank")

InputRecord = TypeVar("InputRecord", RawRecord, RawRecord | KeyedRecord)
"""A file's records, or Kafka's (which may carry the message's key)."""

Observer = Callable[[Any], None]
"""Receives every DeadLetter, RoomStats, OffKey and (after encoding) PushBatch, for metrics."""


class RoomLogic(StatefulBatchLogic[Event, Output, bytes]):
    """Bytewax adapter around ``Room``; snapshots are its versioned state (``models.room_state``).

    Wall time enters here only, through two timers: a room silent for ``quiet_flush_ms``
    applies the events its reorder buffer holds (no later event will move its watermark),
    and a room silent for ``room_idle_ms`` is dropped (a stream that ended without
    ``room_close``). Both are long compared with the gaps of a live room, so they do not
    change pushes while the room is live.
    """

    def __init__(
        self, params: RoomParams, quiet_s: float, idle_s: float, resume: bytes | None,
        recovering: bool = False,
    ) -> None:
        self.params = params
        self.quiet_s = quiet_s
        self.idle_s = idle_s
        # A graceful stop keeps held events for the restart only when a recovery store will
        # carry them there; without one it applies them, or they would be lost unannounced.
        self.recovering = recovering
        self.room: Room | None = Room.restore(resume, params) if resume is not None else None
        self.heard = datetime.now(UTC)
        self.census_due = resume is not None  # the metrics learn of a restored room at once

    def on_batch(self, values: list[Event]) -> tuple[Iterable[Output], bool]:
        if self.room is None:
            self.room = Room(values[0].room_id, self.params)
        self.heard = datetime.now(UTC)
        self.census_due = False  # the batch's own stats say it
        out = _said(self.room.accept(values, read_at=min(e.read_at for e in values)))
        # A closed room is kept (retained) until it has been silent for room_idle_ms, so
        # that its late arrivals are dead letters naming the close, whatever the batching.
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if self.room is None:
            return None
        if self.census_due:
            return self.heard
        if self.quiet_s and self.room.holding:
            return self.heard + timedelta(seconds=self.quiet_s)
        if self.idle_s:
            return self.heard + timedelta(seconds=self.idle_s)
        return None

    def on_notify(self) -> tuple[Iterable[Output], bool]:
        if self.room is None:
            return [], StatefulBatchLogic.DISCARD
        if self.census_due:
            self.census_due = False
            return [self.room.census()], StatefulBatchLogic.RETAIN
        silent = (datetime.now(UTC) - self.heard).total_seconds()
        dropping = bool(self.idle_s) and silent >= self.idle_s
        out = (_said(self.room.flush(read_at=time.monotonic(), final=dropping))
               if self.room.holding or dropping else [])
        if dropping:
            if not self.room.closed:
                log.info("dropping a room silent for %.0f s (no room_close)", silent)
            # The metrics forget a dropped room as they forget a closed one.
            return [*out, RoomStats(self.room.room_id, closed=True)], StatefulBatchLogic.DISCARD
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Output], bool]:
        if self.room is None:
            return [], StatefulBatchLogic.DISCARD
        if STOP.is_set() and self.recovering:  # a stop: held events wait in the snapshot
            return [], StatefulBatchLogic.RETAIN
        # A closed room is dropped at the end of the input, unless a resume may read on: its
        # close, ids and who had left must then stand (red team 13: a resumed file run pushed
        # to viewers who had left); the idle timer drops it later, as in a live run.
        return _said(self.room.flush()), self.room.closed and not self.recovering

    def snapshot(self) -> bytes:
        assert self.room is not None
        return self.room.snapshot()


def _said(out: list[Output]) -> list[Output]:
    """``out``, after logging what an operator must hear of at once: a room opened again."""
    stats = out[-1] if out else None
    if isinstance(stats, RoomStats) and stats.reopened >= 0:
        log.warning("room %r: a showcase after its room_close (ts %d) opened a new"
                    " session, which starts from nothing (who had left stays gone). A room id"
                    " used for a new show does this; in a live show, the room_close was a"
                    " producer's bug or a forged event, and the room's events between it and"
                    " this showcase were dead letters 'closed'", stats.room_id, stats.reopened)
    return out


def _decode(
    max_bytes: int, observe: Observer | None
) -> Callable[[RawRecord | KeyedRecord], Event | DeadLetter]:
    def decode(record: RawRecord | KeyedRecord) -> Event | DeadLetter:
        origin, raw, read_at = record[0], record[1], record[2]
        event = decode_event(raw, origin, max_bytes)
        if isinstance(event, Event):
            event.read_at = read_at
            if observe is not None and len(record) == 4:  # Kafka: is the key the room?
                off = off_key(record, event.event_id, event.room_id)
                if off is not None:
                    observe(off)
        return event

    return decode


def _encode_pushes(observe: Observer | None) -> Callable[[PushBatch], tuple[str, Messages]]:
    def encode(batch: PushBatch) -> tuple[str, Messages]:
        messages = encode_pushes(batch, emitted_at=int(time.time() * 1000))
        if observe is not None:
            observe(batch)
        return ("pushes", messages)

    return encode


def _encode_experiment(
    observe: Observer | None,
) -> Callable[[ExperimentRecord], tuple[str, Messages]]:
    def encode(item: ExperimentRecord) -> tuple[str, Messages]:
        if observe is not None:
            observe(item)
        return ("experiment-log", encode_experiment(item, emitted_at=int(time.time() * 1000)))

    return encode


def _encode_dead_letter(letter: DeadLetter) -> tuple[str, Messages]:
    return ("dead-letters", [encode_dead_letter(letter)])


def build_flow(
    settings: Settings,
    source: Source[InputRecord],
    sink: Sink[Any],
    dead_letter_sink: Sink[Any],
    observe: Observer | None = None,
    experiment_sink: Sink[Any] | None = None,
) -> Dataflow:
    """The job, on any source of raw records and any sinks of ``(key, [(key, value)])``.

    Ghost pushes (holdout viewers' would-be pushes) go to ``experiment_sink``, never to the
    push sink; without one they are only counted."""
    params = settings.room
    flow = Dataflow("roomrank")
    raw = op.input("read", flow, source)
    decoded = op.map("decode", raw, _decode(settings.max_message_bytes, observe))
    valid = op.branch("valid", decoded, lambda x: isinstance(x, Event))
    rooms = op.key_on("key_room", cast(Stream[Event], valid.trues), lambda event: event.room_id)
    quiet_s, idle_s = settings.quiet_flush_ms / 1000.0, settings.room_idle_ms / 1000.0
    recovering = bool(settings.recovery_dir)
    outputs = op.stateful_batch(
        "room", rooms,
        lambda resume: Guarded(RoomLogic(params, quiet_s, idle_s, resume, recovering)),
    )
    results = op.map("unkey", outputs, lambda keyed: keyed[1])
    is_push = op.branch("pushes", results, lambda x: isinstance(x, PushBatch))
    is_ghost = op.branch(
        "experiment", is_push.falses, lambda x: isinstance(x, Ghosts | Assignments)
    )
    is_letter = op.branch("late", is_ghost.falses, lambda x: isinstance(x, DeadLetter))
    letters = cast(Stream[DeadLetter], op.merge("dead_letters", valid.falses, is_letter.trues))
    if observe is not None:
        op.inspect("observe_letters", letters, lambda _step, x: observe(x))
        op.inspect("observe_stats", is_letter.falses, lambda _step, x: observe(x))
    op.output(
        "write_pushes",
        op.map("encode_pushes", cast(Stream[PushBatch], is_push.trues), _encode_pushes(observe)),
        sink,
    )
    ghosts = cast(Stream[ExperimentRecord], is_ghost.trues)
    if experiment_sink is not None:
        encoded = op.map("encode_experiment", ghosts, _encode_experiment(observe))
        op.output("write_experiment_log", encoded, experiment_sink)
    elif observe is not None:
        op.inspect("observe_experiment", ghosts, lambda _step, x: observe(x))
    op.output(
        "write_dead_letters",
        op.map("encode_dead_letters", letters, _encode_dead_letter),
        dead_letter_sink,
    )
    return flow


__all__ = ["RoomStats", "build_flow"]
