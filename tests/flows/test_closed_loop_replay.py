"""The closed loop's written stream, replayed through the Bytewax flow, gives its pushes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from features.contract.events import Origin
from flows.dataflow import build_flow
from flows.settings import Settings
from models.sim.closed_loop import run_closed_loop
from tests.flows.helpers import (
    CLOSED_LOOP_ARMS,
    assert_replays,
    moved_shares,
    split_experiment_log,
)


@pytest.mark.parametrize("allocation", ["fixed", "thompson", "bayes-ucb"])
def test_replay_of_the_closed_loop_stream_gives_the_same_pushes_and_ghosts(
    allocation: str,
) -> None:
    settings = Settings.load(
        {"arms": CLOSED_LOOP_ARMS, "quiet_flush_ms": 0, "allocation": allocation,
         "allocation_min_pushes": 20},
        env={},
    )
    run = run_closed_loop(settings.room, seed=4, rooms=4, viewers=200, minutes=12)
    opens = [e for e in run.events if e["type"] == "push_open"]
    assert opens and all(e["rec_id"] for e in opens)
    assert {p["arm"] for p in run.pushes} == {"attention", "capped", "control"}
    lines = [orjson.dumps(e) for e in run.events]
    records = [(Origin("replay", 0, n + 1), line, 0.0) for n, line in enumerate(lines)]
    pushes: list[Any] = []
    letters: list[Any] = []
    log: list[Any] = []
    run_main(build_flow(settings, TestingSource(records, 64), TestingSink(pushes),
                        TestingSink(letters), None, TestingSink(log)))
    replayed = [orjson.loads(v) for _, messages in pushes for _, v in messages]
    logged = [orjson.loads(v) for _, messages in log for _, v in messages]
    ghosts, assignments = split_experiment_log(logged)
    assert not letters and run.dead_letters == 0
    assert_replays(run, replayed, logged)
    assert ghosts
    if allocation != "fixed":
        # sticky: a viewer is assigned again in a room only after the room forgot them
        assert assignments
        last: dict[tuple[str, str], int] = {}
        for a in sorted(assignments, key=lambda a: a["ts"]):
            key = (a["room_id"], a["user_id"])
            assert key not in last or a["ts"] - last[key] > settings.forget_after_ms
            last[key] = a["ts"]
        assert moved_shares(assignments, CLOSED_LOOP_ARMS)  # the shares moved
    else:
        assert not assignments
    # every open names a push that was really sent to that viewer
    sent = {p["rec_id"]: p for p in replayed}
    for ev in opens:
        assert sent[ev["rec_id"]]["user_id"] == ev["user_id"]
        assert ev["item_id"] in {i["item_id"] for i in sent[ev["rec_id"]]["items"]}
