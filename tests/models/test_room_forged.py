"""Forged ids and forged clocks (docs/evaluation.md, "Forged ids and clocks"): one account
must not block another's events by using their ids first, nor age everyone else's state by
sending its own clock ahead."""

from __future__ import annotations

from typing import Any

import pytest

from features.state.windows import CLICKS
from models.room import Room
from tests.models.golden_room import (
    GOLDEN,
    PARAMS,
    ROOM,
    S1,
    S2,
    T0,
    by_trigger,
    decode_all,
    index_of,
    letters_of,
    msg,
    run,
    stats_of,
    summaries,
    with_inserted,
)
from tests.models.test_room_input_rules import BATCHINGS


def heartbeat(event_id: str, t: int, user: str = "attacker", watch_ms: int = 0) -> dict[str, Any]:
    return msg(event_id, "heartbeat", t, user_id=user, watch_ms=watch_ms)


# -- ids --------------------------------------------------------------------------------------
@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_viewer_sending_the_coming_showcase_id_first_does_not_stop_the_showcase(
    batches: Any,
) -> None:
    squat = heartbeat("e-s2", 4_999)  # the showcase's id, one ms before it
    _, outputs = run(with_inserted(index_of("e-s2"), squat), batches=batches)
    assert letters_of(outputs) == []
    push = by_trigger(outputs)["e-s2"]
    assert set(push[6]) == {item["item_id"] for item in S2}  # the pushes name its items
    assert {"u-1", "u-3"} <= set(push[4])
    assert "e-s3" in by_trigger(outputs)  # and the room went on


def test_squatting_the_ids_after_a_trigger_dead_letters_no_honest_event() -> None:
    later = [m["event_id"] for m in GOLDEN[index_of("e-s2"):]]
    squats = [heartbeat(event_id, 4_500 + n) for n, event_id in enumerate(later)]
    _, outputs = run(with_inserted(index_of("e-s2"), *squats))
    assert letters_of(outputs) == []
    assert sum(s.duplicates for s in stats_of(outputs)) == 0
    assert [s[2] for s in summaries(outputs)] == ["e-s1", "e-enter-3", "e-s2", "e-enter-4", "e-s3"]


def test_a_viewer_reusing_its_own_id_for_other_content_is_still_a_dead_letter() -> None:
    again = msg("e-click-1", "item_click", 3_100, user_id="u-1", item_id="sku-4")
    _, outputs = run(with_inserted(index_of("e-click-1") + 1, again))
    assert [letter.reason for letter in letters_of(outputs)] == ["reused_id"]


# -- clocks -----------------------------------------------------------------------------------
AHEAD = 599_000  # inside max_ahead_ms (600 s): accepted, not an outlier


def jumps(start: int, n: int) -> list[dict[str, Any]]:
    """One account's heartbeats, each 599 s ahead of the one before (of the room's newest)."""
    return [heartbeat(f"e-jump-{k}", start + (k + 1) * AHEAD, watch_ms=1_000) for k in range(n)]


def farmer_click(event_id: str, t: int) -> dict[str, Any]:
    return msg(event_id, "item_click", t, user_id="farmer", item_id="sku-3")


@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_lone_jumper_forgets_no_other_viewer_and_buys_no_second_vote(batches: Any) -> None:
    """Two jumps put one account's clock 20 min ahead (past forget_after_ms, 10 min): before
    the fix every other viewer was forgotten at the next sweep, and a forgotten viewer's
    next click counted as a new vote."""
    at = index_of("e-like-4") + 1
    stream = [*GOLDEN[:index_of("e-click-1") + 1], farmer_click("e-farm-1", 3_100),
              *GOLDEN[index_of("e-click-1") + 1:at], *jumps(12_500, 2),
              farmer_click("e-farm-2", 13_000), *GOLDEN[at:index_of("e-close")]]
    room, outputs = run(stream, batches=batches)
    assert letters_of(outputs) == []
    assert room.clock < T0 + 200_000  # the room's time stayed where two sources agree
    for user in ("u-1", "u-3", "u-4", "farmer"):
        assert room.viewers.rows.get(user) is not None, user
    u1 = room.viewers.rows.get("u-1")
    assert u1 is not None and room.viewers.voted[u1] != 0 and room.viewers.cat_chosen[u1].sum()
    sku3 = room.items.rows.get("sku-3")
    assert sku3 is not None
    # u-1 and the farmer, once each (the farmer's repeat is no second vote), still in the
    # window: the jumper's heartbeats (watch time on stage) did not age the momentum
    assert room.window.totals(room.clock)[sku3, CLICKS] == 2.0


def test_the_jumper_changes_no_push_of_the_others_beyond_its_own_presence() -> None:
    at = index_of("e-like-4") + 1
    _, clean = run(GOLDEN)
    _, attacked = run([*GOLDEN[:at], *jumps(12_500, 3), *GOLDEN[at:]])
    mine = by_trigger(attacked)
    for trigger, push in by_trigger(clean).items():
        assert set(push[4]) <= set(mine[trigger][4]), trigger  # nobody lost a push


def test_a_quiet_room_with_one_viewer_still_pushes_and_keeps_its_viewer() -> None:
    stream = [msg("e-enter", "enter", 0, user_id="u-1"),
              msg("e-s1", "showcase", 1_000, items=S2[:2], spotlight=None),
              *[heartbeat(f"e-hb-{k}", 30_000 * k, user="u-1", watch_ms=30_000)
                for k in range(1, 40)],
              msg("e-s2", "showcase", 1_200_000, items=S2, spotlight=None)]  # fmt: skip
    room, outputs = run(stream)
    pushes = by_trigger(outputs)
    assert pushes["e-s2"][4] == ("u-1",)
    assert room.clock == T0 + 30_000 * 39  # the viewer's newest: both sources reached it


VIEWERS = [f"u-{n}" for n in range(12)]


def five_jumpers() -> list[dict[str, Any]]:
    """A dozen viewers heard every 30 s for 20 minutes; from the second minute on, five
    accounts 599 s ahead, together."""
    stream = [msg("e-s1", "showcase", 0, items=S1, spotlight="sku-2"),
              *[msg(f"e-enter-{v}", "enter", 100 + n, user_id=v) for n, v in enumerate(VIEWERS)]]
    for k in range(1, 40):
        t = 30_000 * k
        stream += [heartbeat(f"e-hb-{k}-{v}", t + 1_000 * n, user=v, watch_ms=30_000)
                   for n, v in enumerate(VIEWERS)]
        if k >= 4:
            stream += [heartbeat(f"e-jump-{k}-{j}", t + 12_000 + AHEAD, user=f"jumper-{j}")
                       for j in range(5)]
    return stream


def test_five_accounts_jumping_together_stay_near_a_larger_audiences_time() -> None:
    """Five accounts are a majority of the room's eight newest sources, which alone moved the
    room's time 599 s (and forgot every viewer at the next sweep); against the dozen viewers
    heard lately they are few, and the time stays within half a presence timeout of theirs."""
    room, _ = run(five_jumpers())
    newest = T0 + 30_000 * 39 + 11_000
    assert newest <= room.clock <= newest + PARAMS.presence_timeout_ms // 2
    for viewer in VIEWERS:  # nobody forgotten
        assert room.viewers.rows.get(viewer) is not None, viewer


@pytest.mark.parametrize("split", [100, 250, 400, 550])
def test_a_restored_room_holds_its_time_where_the_uninterrupted_one_does(split: int) -> None:
    """The bound and its wait are state: a room restored while it binds caps at the same
    events."""
    events = decode_all(five_jumpers())
    uninterrupted = Room(ROOM, PARAMS)
    expected = []
    for n, event in enumerate(events):
        uninterrupted.accept([event])
        if n >= split:
            expected.append(uninterrupted.clock)
    first = Room(ROOM, PARAMS)
    for event in events[:split]:
        first.accept([event])
    restored = Room.restore(first.snapshot(), PARAMS)
    assert (restored.bound.limit, restored.bound.wait) == (first.bound.limit, first.bound.wait)
    got = []
    for event in events[split:]:
        restored.accept([event])
        got.append(restored.clock)
    assert got == expected
