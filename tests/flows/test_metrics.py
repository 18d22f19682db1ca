"""``flows.metrics.Recorder``: what the dataflow's outputs make of the metrics."""

from __future__ import annotations

from prometheus_client import REGISTRY

from flows.metrics import Recorder
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
