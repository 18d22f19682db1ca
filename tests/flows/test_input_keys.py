"""Kafka messages keyed other than by their ``room_id`` (found by a red team: a round-robin
producer changed the pushes without a word): each is applied, counted, and the first named in
one warning."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from features.contract.events import Origin
from flows.dataflow import build_flow
from flows.input_keys import OffKey
from flows.metrics import INPUT_OFF_KEY, Recorder
from flows.settings import Settings
from flows.summary import RunSummary
from tests.flows.helpers import stable, world_lines


def _run(records: list[Any]) -> tuple[list[dict], list[OffKey]]:
    pushes: list[Any] = []
    seen: list[Any] = []
    flow = build_flow(Settings.load(env={}), TestingSource(records, batch_size=50),
                      TestingSink(pushes), TestingSink([]), observe=seen.append)
    run_main(flow)
    values = [orjson.loads(v) for _route, messages in pushes for _k, v in messages]
    return values, [x for x in seen if isinstance(x, OffKey)]


def test_off_key_events_are_applied_and_each_one_observed() -> None:
    lines = world_lines(rooms=3, viewers=60, minutes=4)
    rooms = [orjson.loads(line)["room_id"] for line in lines]
    keyed = [(Origin("in", 0, n), line, 0.0, room.encode())
             for n, (line, room) in enumerate(zip(lines, rooms, strict=True))]
    off = {5, 17, 40}  # one with no key, two keyed by something else
    mixed = [(o, line, t, None if n == 5 else b"u-9" if n in off else key)
             for n, (o, line, t, key) in enumerate(keyed)]
    pushes_keyed, none = _run(keyed)
    pushes_mixed, seen = _run(mixed)
    assert none == []
    assert sorted(o.origin.offset for o in seen) == sorted(off)
    assert {o.origin.offset: o.key for o in seen}[5] is None
    assert {o.room_id for o in seen} <= set(rooms)
    assert stable(pushes_mixed) == stable(pushes_keyed)  # same order here: same pushes
    files = [(o, line, t) for o, line, t, _key in keyed]  # file records carry no key
    assert _run(files)[1] == []


def test_the_recorder_counts_each_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    summary = RunSummary()
    before = INPUT_OFF_KEY._value.get()  # type: ignore[attr-defined]
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="roomrank.kafka"):
        for n in range(3):
            recorder(OffKey(Origin("live.room-events", 2, 40 + n), f"e-{n}", "r-7", "u-1"))
    assert INPUT_OFF_KEY._value.get() - before == 3  # type: ignore[attr-defined]
    said = [r.getMessage() for r in caplog.records if r.name == "roomrank.kafka"]
    assert len(said) == 1
    assert "live.room-events[2] offset 40: event 'e-0' of room 'r-7' came keyed 'u-1'" in said[0]
    assert "Key each message by its room_id" in said[0]
    assert ", 3 events not keyed by room_id in " in summary.line()
