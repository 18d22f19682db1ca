"""A room's fixed memory: what a room of junk ids holds until ``--room-idle-ms`` drops it.

A red team minted 100,000 room ids (a showcase and one viewer event each) and the job held
2.7 GB. The bounds below are the footprint measured on 2026-12-04 (docs/benchmarks.md, 16.7 KB
for a showcase of 8 and one viewer, 5.2 KB for a room that saw nothing) with about a quarter of
headroom; the release before held 36.3 KB and 18.5 KB. An initial capacity of 1024 rows for any
table, vector matrix or window, or a per-room copy of the choice model's constants, breaks them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from features.contract.events import Event
from flows.bench.ranking import ORIGIN, T0, showcase_event
from flows.bench.state import held_bytes_per_room, small_room
from models.params import RoomParams
from models.room import Room


@pytest.mark.parametrize(("items", "bound"), [(8, 21_000), (50, 53_000)])
def test_a_room_of_one_showcase_and_one_viewer_holds_little(items: int, bound: int) -> None:
    held = held_bytes_per_room(lambda n: small_room(f"junk-{n}", items))
    assert held <= bound, f"{held:,.0f} B per room with {items} items on show"


def test_a_room_that_saw_nothing_holds_little() -> None:
    held = held_bytes_per_room(lambda n: Room(f"fresh-{n}", RoomParams()))
    assert held <= 7_000, f"{held:,.0f} B per fresh room"


def _event(room_id: str, n: int, etype: str, **fields: Any) -> Event:
    return Event(f"{room_id}-{n}", etype, T0 + 1_000 * n, room_id, ORIGIN, **fields)


def test_what_a_room_learns_reaches_no_other_room() -> None:
    """Rooms share their starting state until they write (zeros, the model's start): a room
    that chooses, watches and learns leaves a quiet room's state, and a new room's, as it was."""
    quiet = small_room("quiet")
    before = quiet.snapshot()
    busy = small_room("busy")
    stream = [_event("busy", 1, "enter", user_id="u-2", attrs={"city": "Lyon", "spend_tier": 2})]
    for n in range(2, 40):
        etype = ("item_click", "add_to_cart", "heartbeat", "like")[n % 4]
        item = {"item_id": f"sku-{n % 8:04d}"} if etype in ("item_click", "add_to_cart") else {}
        watch = {"watch_ms": 30_000} if etype == "heartbeat" else {}
        stream.append(_event("busy", n, etype, user_id=f"u-{n % 3 + 1}", **item, **watch))
    busy.accept(stream)
    busy.flush()
    assert busy.model.learned > 5 and busy.choices.seg_chosen.any()
    assert busy.items.seg_chosen.any() and busy.window.total.any()
    assert quiet.snapshot() == before
    assert small_room("quiet").snapshot() == before


def test_the_shared_starting_state_refuses_writes() -> None:
    """What rooms share is read-only: a write into it fails instead of reaching every room."""
    a, b = Room("a", RoomParams()), Room("b", RoomParams())
    shared = [(a.model.precision, b.model.precision), (a.model.weights, b.model.weights),
              (a.choices.seg_chosen, b.choices.seg_chosen)]
    for mine, theirs in shared:
        assert np.shares_memory(mine, theirs)
        with pytest.raises(ValueError, match="read-only"):
            mine[0] = 1.0


def test_a_small_rooms_snapshot_leaves_out_the_zeros_nothing_wrote() -> None:
    """Bytewax snapshots every room touched in an epoch: the choice totals and the items'
    segment counts, shared zeros until written, are not stored (a restore makes them again),
    and the restored room goes on exactly as the live one."""
    from features.state.codec import decode

    room = small_room("snap")
    blob = room.snapshot()
    tree = decode(blob)
    assert tree["choices"] == {} and "seg_chosen" not in tree["items"]
    # 19,470 B when they were stored (20 features); 18,145 B with 28 features (the precision
    # matrix of the choice weights is 28² float64: 3.1 kB more than at 20)
    assert len(blob) < 19_000
    restored = Room.restore(blob, RoomParams())
    assert restored.snapshot() == blob
    later = [_event("snap", 9, "item_click", user_id="u-1", item_id="sku-0003"),
             showcase_event("snap-s2", T0 + 20_000, 8, "snap")]
    assert [repr(o) for o in restored.accept(later)] == [repr(o) for o in room.accept(later)]
    assert restored.snapshot() == room.snapshot()
    assert decode(room.snapshot())["choices"] != {}  # written now: stored
