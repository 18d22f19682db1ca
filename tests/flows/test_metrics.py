"""``flows.metrics.Recorder``: what the dataflow's outputs make of the metrics."""

from __future__ import annotations

import time

import numpy as np
from prometheus_client import REGISTRY

from features.contract.messages import PushBatch
from flows.metrics import ArmShares, Recorder
from models.experiment.allocation import Assignments
from models.room import RoomStats


class _NoScan(dict[str, int]):
    """A room table that fails the test if the recorder walks it (cost ∝ rooms)."""

    def values(self):  # type: ignore[override]
        raise AssertionError("the recorder walked every room on one record")

    def __iter__(self):  # type: ignore[override]
        raise AssertionError("the recorder walked every room on one record")


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def test_recording_one_room_costs_the_same_whatever_the_number_of_rooms() -> None:
    recorder = Recorder()
    recorder.present = _NoScan()
    for n in range(2_000):
        recorder(RoomStats(f"r-{n}", present=3))
    assert _gauge("roomrank_present_viewers") == 6_000
    assert _gauge("roomrank_rooms_active") == 2_000
    recorder(RoomStats("r-7", present=10))  # a room's newer count replaces its older one
    recorder(RoomStats("r-8", closed=True))
    assert _gauge("roomrank_present_viewers") == 6_000 + 7 - 3
    assert _gauge("roomrank_rooms_active") == 1_999
    recorder(RoomStats("r-8", closed=True))  # closing twice changes nothing
    assert _gauge("roomrank_present_viewers") == 6_004


def _labelled(name: str, arm: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"arm": arm})


def test_allocation_share_and_posterior_mean_conversion_per_arm() -> None:
    recorder = Recorder()
    recorder.recent = ArmShares(4)
    recorder(Assignments("r", "t1", 0, ["u1", "u2", "u3"], ["x-a", "x-a", "x-b"],
                         [0.5, 0.5, 0.5]))
    assert _labelled("roomrank_allocation_share", "x-a") == round(2 / 3, 6)
    recorder(Assignments("r", "t2", 1, ["u4", "u5"], ["x-b", "x-b"], [0.6, 0.6]))
    # the window holds the last 4 assignments: a, b, b, b
    assert _labelled("roomrank_allocation_share", "x-a") == 0.25
    assert _labelled("roomrank_allocation_share", "x-b") == 0.75
    empty = np.zeros((3, 0))
    users = ["u1", "u2", "u3"]
    recorder(PushBatch("r", "showcase", "t3", 2, users, ["x-a", "x-a", "x-b"], [], empty,
                       empty, empty, empty, empty))
    stats = RoomStats("r", conversions=[("x-a", "purchase"), ("x-a", "click"), ("x-b", "click")])
    recorder(stats)
    assert _labelled("roomrank_arm_conversion_posterior_mean", "x-a") == (1 + 1) / (2 + 2)
    assert _labelled("roomrank_arm_conversion_posterior_mean", "x-b") == 1 / (2 + 1)


def test_the_reorder_hold_is_its_own_histogram_and_unknown_holds_are_not_guessed() -> None:
    def count(name: str) -> float:
        return REGISTRY.get_sample_value(f"{name}_count") or 0.0

    def total(name: str) -> float:
        return REGISTRY.get_sample_value(f"{name}_sum") or 0.0

    before = (count("roomrank_push_hold_seconds"), total("roomrank_push_hold_seconds"),
              count("roomrank_push_latency_seconds"))
    recorder = Recorder()
    empty = np.zeros((1, 0))
    for held in (2.5, None):
        batch = PushBatch("r", "showcase", "t", 1, ["u"], ["control"], [], empty, empty, empty,
                          empty, empty, read_at=time.monotonic(), held_s=held)
        recorder(batch)
    assert count("roomrank_push_hold_seconds") - before[0] == 1
    assert total("roomrank_push_hold_seconds") - before[1] == 2.5
    assert count("roomrank_push_latency_seconds") - before[2] == 2
