"""``flows.jobs.execute``: how the engine's failures reach the operator."""

from __future__ import annotations

import logging

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

from features.state.codec import SnapshotError
from flows.jobs import execute
from flows.settings import Settings


def _unreadable(_: int) -> int:
    raise SnapshotError("the recovery store holds room state of version 9")


def test_unreadable_room_state_ends_the_run_with_exit_2_and_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow = Dataflow("unreadable")
    op.inspect("out", op.map("restore", op.input("in", flow, TestingSource([1])), _unreadable))
    with caplog.at_level(logging.ERROR):
        assert execute(flow, Settings.load(env={})) == 2
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and "version 9" in lines[0] and "\n" not in lines[0]


def test_other_engine_failures_still_raise() -> None:
    def fail(_: int) -> int:
        raise RuntimeError("a bug")

    flow = Dataflow("bug")
    op.inspect("out", op.map("fail", op.input("in", flow, TestingSource([1])), fail))
    with pytest.raises(Exception) as err:
        execute(flow, Settings.load(env={}))
    chain: list[BaseException] = []
    seen: BaseException | None = err.value
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    assert any(isinstance(e, RuntimeError) and "a bug" in str(e) for e in chain)
