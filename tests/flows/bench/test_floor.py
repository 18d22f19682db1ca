"""The rooms' floor the bench reports: the floor rooms do what they claim (each event applied
once; one vector update per feedback signal), and the table names all three rooms (timings are
not asserted)."""

from __future__ import annotations

import re

import orjson
import pytest

from flows.bench.dataflows import world_file
from flows.bench.floor import FloorRoom, OrderedRoom, room_floor
from flows.bench.profile import event_path
from models.params import FEEDBACK
from models.room import Room, RoomStats
from tests.flows.helpers import until_close


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    path = tmp_path_factory.mktemp("floor") / "world.jsonl"
    world_file(path, 2, 60, 3.0)
    return until_close([line for line in path.read_bytes().splitlines() if line.strip()])


def test_room_floor_times_all_three_rooms_on_a_small_world(lines: list[bytes]) -> None:
    table = room_floor(lines, repeats=1)
    rows = re.findall(r"^\| (.+) \| ([\d.]+) \|$", table, flags=re.MULTILINE)
    assert [name for name, _ in rows] == [
        "de-duplicate and reorder only",
        "+ presence and one vector update per feedback event (the floor)",
        "the job's room (`Room`)",
    ]
    assert all(float(us) > 0 for _, us in rows)


def _run_rooms(kind: type[Room], lines: list[bytes]) -> tuple[list[Room], int]:
    """Every room ``event_path`` made of ``kind``, and how many events they applied."""
    rooms: list[Room] = []
    applied = 0

    class Kept(kind):  # type: ignore[valid-type,misc]
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            rooms.append(self)

        def _finish(self, out: list, stats: RoomStats) -> list:
            nonlocal applied
            applied += sum(stats.events.values())
            return super()._finish(out, stats)

    event_path(lines, room_type=Kept)()
    return rooms, applied


def test_floor_rooms_apply_each_event_once_and_learn_once_per_signal(lines: list[bytes]) -> None:
    unique = {(e["room_id"], e["event_id"]): e for e in map(orjson.loads, lines)}
    _, applied = _run_rooms(OrderedRoom, lines)
    assert applied == len(unique)
    rooms, applied = _run_rooms(FloorRoom, lines)
    assert applied == len(unique)
    learned = sum(int(room.mf.user_updates.sum()) for room in rooms)
    signals = [e for e in unique.values() if FEEDBACK.get(e["type"]) and e.get("user_id")]
    naming_an_item = [e for e in signals if e.get("item_id")]
    # one update per signal that names an item, and per other signal while an item is on stage
    assert len(naming_an_item) < learned <= len(signals)
    assert all(not room.pending[0] for room in rooms)  # flushed at the end of every call
