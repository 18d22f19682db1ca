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


def test_a_room_closed_by_its_first_event_restores_to_the_same_pushes() -> None:
    """Red team 13 (a fuzzer, 5 of 4,000 random streams; 7 before this stop): a room whose
    close came before anything it had counted skipped the shed ("nothing to shed": its
    tables were empty), kept the close's time in its clock of sources, and a restored copy,
    whose tables are not empty, shed it: the two pushed other scores after the reopening."""
    items = [{"item_id": f"i{j}", "price": 1.0 + j, "category": "c"} for j in (1, 2, 3)]
    stream = [
        msg("e1", "showcase", 500, spotlight="i1", items=items[:2]),
        msg("e2", "room_close", -1_550),  # before the showcase: the showcase opens the room
        msg("e3", "item_click", -50, user_id="u10", item_id="i2"),
        msg("e4", "heartbeat", -50, user_id="u7", watch_ms=100),
        msg("e5", "heartbeat", 4_350, user_id="u4", watch_ms=100),
        msg("e9", "showcase", 6_100, spotlight="i1", items=items[:2]),
        msg("e10", "item_click", 6_500, user_id="u10", item_id="i2"),
        msg("e19", "showcase", 12_752, spotlight="i1", items=items),
        msg("e20", "heartbeat", 16_000, user_id="u7", watch_ms=100),
    ]
    events = decode_all(stream)
    straight = Room(ROOM, PARAMS)
    out = [o for e in events for o in straight.accept([e])] + straight.flush()
    cut = Room(ROOM, PARAMS)
    cut_out = cut.accept(events[:2])
    cut = Room.restore(cut.snapshot(), PARAMS)
    cut_out += [o for e in events[2:] for o in cut.accept([e])] + cut.flush()
    assert summaries(out) and summaries(cut_out) == summaries(out)
