"""Memory follows the live population: junk ids are given back after they are forgotten."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from features.state.rows import RowIndex
from models.params import RoomParams
from models.room import Room
from tests.models.golden_room import decode_all, msg, summaries

PARAMS = RoomParams(
    dim=8,
    lateness_ms=0,
    forget_after_ms=60_000,
    presence_timeout_ms=60_000,
    dedup_horizon_ms=60_000,  # the event-id memory has its own horizon: keep it out of the way
)
ITEMS = [{"item_id": f"sku-{n}", "price": 10.0 + n, "category": f"c{n % 3}"} for n in range(8)]
JUNK = 20_000


def _live(until_ms: int) -> list[dict[str, Any]]:
    """A small live room: 50 viewers heartbeating, a click now and then, showcases."""
    out: list[dict[str, Any]] = []
    for t in range(0, until_ms, 10_000):
        if t % 60_000 == 0:
            out.append(
                msg(f"s-{t}", "showcase", t, spotlight=f"sku-{t // 60_000 % 8}", items=ITEMS)
            )
        for u in range(50):
            out.append(msg(f"h-{t}-{u}", "heartbeat", t + 1 + u, user_id=f"u-{u}", watch_ms=10_000))
        out.append(
            msg(
                f"c-{t}",
                "item_click",
                t + 60,
                user_id=f"u-{t // 10_000 % 50}",
                item_id=f"sku-{t // 10_000 % 8}",
            )
        )
    return out


def _junk(kind: str) -> list[dict[str, Any]]:
    if kind == "clicks":
        return [
            msg(f"j-{n}", "item_click", 5_000, user_id="u-0", item_id=f"junk-{n}")
            for n in range(JUNK)
        ]
    return [msg(f"j-{n}", "leave", 5_000, user_id=f"stranger-{n}") for n in range(JUNK)]


def _run(messages: list[dict[str, Any]], compact: bool = True) -> tuple[Room, list[Any]]:
    room = Room("r-1", PARAMS)
    if not compact:  # the room as it was: rows reused, arrays never shrunk
        room.viewers.rows.__class__ = _NeverSparse
        room.items.rows.__class__ = _NeverSparse
    events = sorted(decode_all(messages), key=lambda e: e.ts)
    out: list[Any] = []
    for start in range(0, len(events), 500):
        out.extend(room.accept(events[start : start + 500]))
    return room, out + room.flush()


class _NeverSparse(RowIndex):
    __slots__ = ()

    @property
    def sparse(self) -> bool:
        return False


def _nbytes(room: Room) -> int:
    parts = [room.viewers, room.items, room.mf, room.window]
    arrays = [v for p in parts for v in vars(p).values() if isinstance(v, np.ndarray)]
    arrays += [room.arm, room.pushed_at, room.pushed_items]
    return sum(a.nbytes for a in arrays)


@pytest.mark.parametrize("kind", ["clicks", "leaves"])
def test_junk_ids_are_given_back_once_forgotten(kind: str) -> None:
    clean, _ = _run(_live(200_000))
    junked, _ = _run(_live(200_000) + _junk(kind))
    assert len(junked.snapshot()) < 1.5 * len(clean.snapshot())
    assert _nbytes(junked) < 1.5 * _nbytes(clean)
    kept, _ = _run(_live(200_000) + _junk(kind), compact=False)  # what it was before
    assert len(kept.snapshot()) > 5 * len(clean.snapshot())


def test_compaction_changes_no_push() -> None:
    stream = _live(200_000) + _junk("clicks") + _junk("leaves")
    _, compacted = _run(stream)
    _, uncompacted = _run(stream, compact=False)
    assert summaries(compacted) == summaries(uncompacted)
    assert len(summaries(compacted)) >= 3


def test_a_closed_room_keeps_only_what_turns_later_events_into_dead_letters() -> None:
    stream = [*_live(120_000), msg("close", "room_close", 130_000)]
    room, out = _run(stream)
    assert room.closed and summaries(out)
    live, _ = _run(_live(120_000))
    assert len(room.snapshot()) < len(live.snapshot()) / 2
    assert len(room.viewers) == 0 and len(room.items) == 0
    restored = Room.restore(room.snapshot(), PARAMS)
    later = restored.accept(decode_all([msg("late-hb", "heartbeat", 131_000, user_id="u-1",
                                             watch_ms=1)]))
    assert [o.reason for o in later if hasattr(o, "reason")] == ["closed"]


def test_a_closed_room_remembers_at_most_as_many_who_left_as_ids_the_newest() -> None:
    """Red team 13: who had left grew a closed room's snapshot without bound (400,000 leaves:
    25 MB); it is kept to ``dedup_max_ids``, the newest leaves."""
    room = Room("r-7", RoomParams(dedup_max_ids=3))
    leaves = [msg(f"e-{n}", "leave", 1_000 * n, user_id=f"u-{n}") for n in range(1, 6)]
    room.accept(decode_all([*leaves, msg("e-close", "room_close", 9_000)]))
    room.flush()
    assert room.closed
    assert room.departed == {f"u-{n}": 1_764_331_200_000 + 1_000 * n for n in (3, 4, 5)}
