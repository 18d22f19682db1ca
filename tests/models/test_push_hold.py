"""How long a trigger waited in its room's reorder buffer travels with its pushes (a red team
found the latency metric blind to it: pushes 2 and 5 s after their trigger were recorded as
under 10 ms)."""

from __future__ import annotations

from features.contract.messages import PushBatch
from models.params import RoomParams
from models.room import Room
from tests.models.choice_rooms import T0, event

ITEMS = [{"item_id": "a", "price": 1.0, "category": "c"}]


def _read(at: float, n: int, **fields: object):  # type: ignore[no-untyped-def]
    e = event(n, **fields)
    e.read_at = at
    return e


def _pushes(out: list) -> list[PushBatch]:
    return [x for x in out if isinstance(x, PushBatch)]


def test_a_held_trigger_carries_its_wait_and_is_timed_from_its_release() -> None:
    params = RoomParams()
    room = Room("r", params)
    held = room.accept([_read(100.0, 1, type="enter", ts=T0, user_id="u"),
                        _read(100.0, 2, type="showcase", ts=T0 + 1, spotlight=None, items=ITEMS)],
                       read_at=100.0)
    assert _pushes(held) == []  # within the lateness: held
    later = T0 + 1 + params.lateness_ms + 1
    out = room.accept([_read(102.5, 3, type="heartbeat", ts=later, user_id="u", watch_ms=0)],
                      read_at=102.5)
    [batch] = _pushes(out)
    assert batch.trigger_id == "e2"
    assert (batch.read_at, batch.held_s) == (102.5, 2.5)


def test_a_trigger_released_by_the_quiet_flush_and_one_restored_from_a_snapshot() -> None:
    room = Room("r", RoomParams())
    room.accept([_read(100.0, 1, type="enter", ts=T0, user_id="u"),
                 _read(100.0, 2, type="showcase", ts=T0 + 1, spotlight=None, items=ITEMS)],
                read_at=100.0)
    restored = Room.restore(room.snapshot(), RoomParams())
    [batch] = _pushes(room.flush(read_at=105.0, final=False))
    assert batch.held_s == 5.0
    [batch] = _pushes(restored.flush(read_at=7.0, final=False))  # another process's clock
    assert batch.held_s is None
