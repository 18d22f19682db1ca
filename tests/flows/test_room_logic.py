"""The Bytewax adapter's wall-clock timers and room lifetime, driven directly."""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
import pytest

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from features.contract.messages import PushBatch
from flows.dataflow import RoomLogic
from flows.lifecycle import STOP
from models.params import RoomParams
from models.room import RoomStats


def _events(*dicts: dict) -> list[Event]:
    out = []
    for n, d in enumerate(dicts):
        event = decode_event(orjson.dumps({"room_id": "r", **d}), Origin("t", 0, n + 1))
        assert isinstance(event, Event), event
        out.append(event)
    return out


ENTER = {"event_id": "e1", "type": "enter", "ts": 1_000, "user_id": "u"}
SHOW = {
    "event_id": "e2",
    "type": "showcase",
    "ts": 2_000,
    "spotlight": None,
    "items": [{"item_id": "a", "price": 1, "category": "c"}],
}


def test_a_quiet_room_applies_its_held_events_when_the_timer_fires() -> None:
    logic = RoomLogic(RoomParams(lateness_ms=2_000), quiet_s=5.0, idle_s=3600.0, resume=None)
    out, discard = logic.on_batch(_events(ENTER, SHOW))
    assert not discard and not [o for o in out if isinstance(o, PushBatch)]  # held back
    assert logic.notify_at() == logic.heard + timedelta(seconds=5)
    out, discard = logic.on_notify()
    pushes = [o for o in out if isinstance(o, PushBatch)]
    assert not discard and [p.trigger_id for p in pushes] == ["e2"]
    assert logic.notify_at() == logic.heard + timedelta(seconds=3600)  # nothing held now


def test_a_room_silent_past_the_idle_timeout_is_dropped() -> None:
    logic = RoomLogic(RoomParams(), quiet_s=5.0, idle_s=3600.0, resume=None)
    logic.on_batch(_events(ENTER))
    logic.heard -= timedelta(seconds=3601)
    _, discard = logic.on_notify()
    assert discard


def test_room_close_applies_what_was_held_and_keeps_the_closed_room_until_idle() -> None:
    """Kept, so a later event of the room is a dead letter naming the close in any batching
    (dropping at once let a later batch silently start a fresh room)."""
    logic = RoomLogic(RoomParams(lateness_ms=2_000), quiet_s=0.0, idle_s=3600.0, resume=None)
    close = {"event_id": "e3", "type": "room_close", "ts": 2_500}
    out, discard = logic.on_batch(_events(ENTER, SHOW, close))
    assert not discard
    assert [o.trigger_id for o in out if isinstance(o, PushBatch)] == ["e2"]
    late = {"event_id": "e4", "type": "like", "ts": 2_600, "user_id": "u"}
    out, discard = logic.on_batch(_events(late))
    assert [o.reason for o in out if isinstance(o, DeadLetter)] == ["closed"]
    logic.heard -= timedelta(seconds=3601)
    _, discard = logic.on_notify()
    assert discard


def test_a_showcase_after_the_close_opens_the_room_again_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator must hear of a room_close in a live show at once, not from the letters."""
    logic = RoomLogic(RoomParams(lateness_ms=2_000), quiet_s=0.0, idle_s=3600.0, resume=None)
    close = {"event_id": "e3", "type": "room_close", "ts": 2_500}
    again = {**SHOW, "event_id": "e5", "ts": 9_000}
    late_enter = {**ENTER, "event_id": "e6", "ts": 8_500}
    with caplog.at_level(logging.WARNING, "roomrank"):
        logic.on_batch(_events(ENTER, SHOW, close))
        assert caplog.records == []
        out, discard = logic.on_batch(_events(again, late_enter))
        assert caplog.records == []  # the showcase is held for order
        out, discard = logic.on_eof()
    assert not discard and logic.room is not None and not logic.room.closed
    assert [o.trigger_id for o in out if isinstance(o, PushBatch)] == ["e5"]  # to u, back
    (said,) = [r.getMessage() for r in caplog.records]
    assert said.startswith("room 'r': a showcase after its room_close (ts 2500) opened")


def test_timers_off_schedule_nothing() -> None:
    logic = RoomLogic(RoomParams(), quiet_s=0.0, idle_s=0.0, resume=None)
    logic.on_batch(_events(ENTER, SHOW))
    assert logic.notify_at() is None


def test_a_graceful_stop_applies_held_events_unless_a_recovery_store_keeps_them() -> None:
    """Without a store nothing would carry them to a restart: applied, their pushes out."""
    for recovering, pushed in ((False, ["e2"]), (True, [])):
        logic = RoomLogic(RoomParams(lateness_ms=2_000), quiet_s=5.0, idle_s=3600.0,
                          resume=None, recovering=recovering)
        out, _ = logic.on_batch(_events(ENTER, SHOW))
        assert not [o for o in out if isinstance(o, PushBatch)]  # held back
        STOP.set()
        try:
            out, _ = logic.on_eof()
        finally:
            STOP.clear()
        assert [o.trigger_id for o in out if isinstance(o, PushBatch)] == pushed


def test_a_restored_room_tells_the_metrics_it_is_open_before_its_next_event() -> None:
    # found by a red team: after a resume the rooms and viewers gauges read 0 for restored
    # open rooms (48 viewers) until each got a new event, never for a room that stayed quiet
    params = RoomParams(lateness_ms=0)
    first = RoomLogic(params, quiet_s=5.0, idle_s=3600.0, resume=None)
    first.on_batch(_events(ENTER, SHOW))
    restored = RoomLogic(params, quiet_s=5.0, idle_s=3600.0, resume=first.snapshot())
    assert restored.notify_at() == restored.heard  # at once
    out, discard = restored.on_notify()
    assert not discard
    assert [(o.room_id, o.present, o.closed) for o in out if isinstance(o, RoomStats)] == [
        ("r", 1, False)]
    assert len(list(out)) == 1  # nothing applied, nothing pushed
    assert restored.notify_at() == restored.heard + timedelta(seconds=3600)  # as before
