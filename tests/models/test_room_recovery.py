"""A room restored from its snapshot goes on as the uninterrupted one."""

from __future__ import annotations

from typing import Any

import pytest

from features.contract.events import DeadLetter
from models.room import Room
from tests.models.golden_room import (
    GOLDEN,
    PARAMS,
    REOPENED,
    ROOM,
    batches_of,
    decode_all,
    msg,
    summaries,
)

# -- recovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("split", range(1, len(GOLDEN) + len(REOPENED)))
def test_snapshot_restore_mid_stream_gives_the_same_later_pushes(split: int) -> None:
    """Through a close and the showcase that opens the room again (REOPENED) too."""
    events = decode_all([*GOLDEN, *REOPENED])
    uninterrupted = Room(ROOM, PARAMS)
    expected: list[Any] = []
    for n, event in enumerate(events):
        out = uninterrupted.accept([event])
        if n >= split:
            expected.extend(out)
    expected.extend(uninterrupted.flush())

    first = Room(ROOM, PARAMS)
    for event in events[:split]:
        first.accept([event])
    blob = first.snapshot()
    assert isinstance(blob, bytes)
    first.accept(decode_all([msg("e-noise", "like", 2_000, user_id="u-1")]))  # after snapshot
    restored = Room.restore(blob, PARAMS)
    got: list[Any] = []
    for event in events[split:]:
        got.extend(restored.accept([event]))
    got.extend(restored.flush())
    assert summaries(got) == summaries(expected)
    assert [o for o in got if isinstance(o, DeadLetter)] == [
        o for o in expected if isinstance(o, DeadLetter)]
    assert restored.closed == uninterrupted.closed


def test_a_restored_room_grows_again_like_the_original() -> None:
    """Snapshots leave out the arrays' growth slack; the restored room must still take many
    new viewers (and reuse freed rows) exactly as the room it was taken from."""
    show = msg(
        "e-show",
        "showcase",
        10,
        spotlight="sku-1",
        items=[{"item_id": f"sku-{n}", "price": 5.0 * n, "category": "c"} for n in range(6)],
    )
    before = [
        *(msg(f"e-in-{n}", "enter", 20 + n, user_id=f"u-{n}") for n in range(5)),
        msg("e-hb", "heartbeat", 5_000, user_id="u-0", watch_ms=1_000),  # releases the above
    ]
    after = [
        *(msg(f"e-in-{n}", "enter", 100 + n, user_id=f"u-{n}") for n in range(5, 60)),
        *(
            msg(f"e-ck-{n}", "item_click", 200 + n, user_id=f"u-{n}", item_id=f"sku-{n % 6}")
            for n in range(60)
        ),
        msg(
            "e-show-2",
            "showcase",
            900_000,
            spotlight=None,  # past forget_after: rows freed
            items=[{"item_id": "sku-9", "price": 1.0, "category": "d"}],
        ),
        *(msg(f"e-back-{n}", "enter", 900_100 + n, user_id=f"v-{n}") for n in range(20)),
        msg(
            "e-show-3",
            "showcase",
            901_000,
            spotlight="sku-9",
            items=[{"item_id": "sku-9", "price": 1.0, "category": "d"}],
        ),
    ]
    original = Room(ROOM, PARAMS)
    original.accept(decode_all([show, *before]))
    restored = Room.restore(original.snapshot(), PARAMS)
    assert len(restored.mf.users) < len(original.mf.users)  # the slack was left out
    expected = original.accept(decode_all(after)) + original.flush()
    got = restored.accept(decode_all(after)) + restored.flush()
    assert summaries(got) == summaries(expected)
    assert len(batches_of(got)) >= 3
