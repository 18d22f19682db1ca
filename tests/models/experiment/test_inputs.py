"""What the readout reads: events through the job's decoder, records checked, skips counted."""

from __future__ import annotations

import orjson
import pytest

from features.contract.events import DeadLetter, Origin
from models.experiment.inputs import (
    Skipped,
    readout_events,
    readout_records,
    unique_assignments,
)
from models.params import RoomParams


def _raws(*lines: bytes) -> list[tuple[Origin, bytes]]:
    return [(Origin("t", 1, n), line) for n, line in enumerate(lines)]


PUSH = {"rec_id": "r1", "room_id": "r", "user_id": "u", "trigger_id": "t1", "ts": 5,
        "arm": "attention", "items": [{"item_id": "i", "rank": 1}]}
ASSIGNED = {"kind": "assignment", "room_id": "r", "user_id": "u", "trigger_id": "t1", "ts": 5,
            "arm": "attention", "probability": 0.5}


def test_events_the_job_would_dead_letter_are_skipped_and_counted() -> None:
    good = (b'{"event_id":"e1","type":"push_open","ts":7,"room_id":"r","user_id":"u",'
            b'"item_id":"i","rec_id":"r1"}')
    skipped = Skipped()
    events = list(readout_events(_raws(good, b"not json", b'{"event_id":"e2","type":"x"}'),
                                 skipped))
    assert events == [{"event_id": "e1", "type": "push_open", "ts": 7, "room_id": "r",
                       "user_id": "u", "item_id": "i", "amount": 0.0, "rec_id": "r1"}]
    (line,) = skipped.lines()
    assert line.startswith("events: skipped 2 of 3 (partition 1 offset 1: ")
    skipped.check_usable("events", "a valid room event")  # one was usable: no error


def test_records_without_what_the_readout_needs_are_skipped_with_the_reason() -> None:
    bad_items = {**PUSH, "items": ["i"]}
    no_arm = {k: v for k, v in PUSH.items() if k != "arm"}
    text_ts = {**ASSIGNED, "ts": "5"}
    skipped = Skipped()
    raws = _raws(*(orjson.dumps(r) for r in (PUSH, ASSIGNED, bad_items, no_arm, text_ts)),
                 b"[1]", b"{")
    kept = list(readout_records(raws, skipped, "topic recs"))
    assert kept == [PUSH, ASSIGNED]
    assert skipped.skipped == {"topic recs": 5}
    assert "'items' must be objects with an 'item_id' string" in skipped.first["topic recs"]


@pytest.mark.parametrize("record", [b"[]", b'{"rec_id": 1}', b"\xff"])
def test_a_source_with_nothing_usable_is_the_wrong_one(record: bytes) -> None:
    skipped = Skipped()
    assert list(readout_records(_raws(record, record), skipped, "--recs x.jsonl")) == []
    with pytest.raises(ValueError, match=r"--recs x.jsonl: none of its 2 records is a push"):
        skipped.check_usable("--recs x.jsonl", "a push")


def test_an_empty_source_is_no_error() -> None:
    skipped = Skipped()
    assert list(readout_records([], skipped, "topic log")) == []
    skipped.check_usable("topic log", "a ghost push or an assignment")
    assert skipped.lines() == []


def test_assignments_count_once_in_a_fixed_order() -> None:
    other = {**ASSIGNED, "user_id": "a", "arm": "control"}
    once = unique_assignments([ASSIGNED, PUSH, other, ASSIGNED])
    assert once == [ASSIGNED, other] or once == [other, ASSIGNED]
    assert once == unique_assignments([other, ASSIGNED, other])


def _event(n: int, etype: str, ts: int, room: str = "r", **more: object) -> bytes:
    user = {} if etype == "room_close" else {"user_id": f"u{n}"}
    return orjson.dumps({"event_id": f"e{n}", "type": etype, "ts": ts, "room_id": room,
                         **user, **more})


def test_what_arrives_after_a_rooms_close_is_skipped_as_the_job_refuses_it() -> None:
    buy = {"item_id": "i", "amount": 1.0}
    skipped = Skipped()
    raws = _raws(_event(1, "purchase", 10_000, **buy), _event(2, "room_close", 20_000),
                 _event(2, "room_close", 20_000),  # its redelivery: the readout drops it
                 _event(3, "purchase", 25_000, **buy),  # after the close: refused
                 _event(4, "purchase", 19_000, **buy),  # a straggler within 2 s: counted
                 _event(5, "purchase", 17_000, **buy),  # older than that: refused
                 _event(6, "purchase", 25_000, room="s", **buy),  # another room: open
                 _event(1, "purchase", 10_000, **buy))  # a redelivery: dropped as a repeat
    kept = [e["event_id"] for e in readout_events(raws, skipped, rules=RoomParams(
        lateness_ms=2_000).inbox)]
    assert kept == ["e1", "e2", "e4", "e6"]  # redeliveries dropped, as the job drops them
    assert skipped.lines() == ["events: skipped 2 of 8 (partition 1 offset 3: the job's dead"
                               " letter 'closed' (room 'r' was closed by room_close 'e2' (ts"
                               " 20000) and event 'e3' (ts 25000) arrived after it))"]


def test_the_readout_refuses_what_the_job_refuses_through_a_close_and_a_new_session() -> None:
    """The job's rooms (``Room``) and the readout read the same arrival order: the events
    after a close, and the closed session's after a showcase opened a new one."""
    from models.room import Room
    from tests.models.golden_room import GOLDEN, PARAMS, REOPENED, ROOM, decode_all

    stream = [*GOLDEN, *REOPENED]
    room = Room(ROOM, PARAMS)
    letters = [o for e in decode_all(stream) for o in room.accept([e])
               if isinstance(o, DeadLetter)]
    refused = {orjson.loads(letter.raw)["event_id"] for letter in letters}
    skipped = Skipped()
    kept = {e["event_id"] for e in readout_events(
        _raws(*(orjson.dumps(e) for e in stream)), skipped, rules=PARAMS.inbox)}
    assert refused == {"e-gap"}
    assert kept == {e["event_id"] for e in stream} - refused


def test_a_log_record_of_another_kind_is_skipped_with_its_kind() -> None:
    skipped = Skipped()
    ghost = {**PUSH, "kind": "ghost_push"}
    other = {**PUSH, "kind": "push"}
    raws = _raws(*(orjson.dumps(r) for r in (ghost, ASSIGNED, other)))
    assert list(readout_records(raws, skipped, "topic log", "log")) == [ghost, ASSIGNED]
    assert skipped.first["topic log"].endswith("'kind' 'push' is neither 'ghost_push' nor"
                                               " 'assignment'")


@pytest.mark.parametrize("ts", [2**63, -1, 253_402_300_800_000])
def test_a_record_with_a_ts_outside_the_contracts_range_is_skipped(ts: int) -> None:
    """A push is made at an event's ts, which the contract bounds; 2^63 crashed the plots."""
    skipped = Skipped()
    raws = _raws(orjson.dumps(PUSH), orjson.dumps({**PUSH, "ts": ts}),
                 orjson.dumps({**ASSIGNED, "ts": ts}))
    assert list(readout_records(raws, skipped, "topic recs")) == [PUSH]
    assert skipped.skipped == {"topic recs": 2}
    assert f"'ts' {ts} outside the contract's range" in skipped.first["topic recs"]
