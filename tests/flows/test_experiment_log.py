"""Ghost pushes travel to the experiment log, never to the recommendations sink."""

from __future__ import annotations

from typing import Any

import orjson
from bytewax.testing import TestingSink, TestingSource, run_main

from features.contract.events import Origin
from flows.dataflow import build_flow
from flows.settings import Settings
from tests.flows.helpers import world_lines


def test_holdout_ghosts_go_to_the_experiment_sink_only() -> None:
    lines = world_lines(minutes=6)
    records = [(Origin("test", 0, n + 1), line, 0.0) for n, line in enumerate(lines)]
    pushes: list[Any] = []
    letters: list[Any] = []
    log: list[Any] = []
    settings = Settings.load({"arms": "attention=0.7,holdout=0.3"}, env={})
    run_main(build_flow(settings, TestingSource(records, 50), TestingSink(pushes),
                        TestingSink(letters), None, TestingSink(log)))
    sent = [orjson.loads(v) for _, messages in pushes for _, v in messages]
    ghosts = [orjson.loads(v) for _, messages in log for _, v in messages]
    assert sent and ghosts
    assert {p["arm"] for p in sent} == {"attention"} and all("kind" not in p for p in sent)
    assert {g["arm"] for g in ghosts} == {"holdout"}
    assert {g["kind"] for g in ghosts} == {"ghost_push"}
    assert not {p["rec_id"] for p in sent} & {g["rec_id"] for g in ghosts}
