"""The room's rules for hostile or disordered input (issue 14 #2, #3, #4, #6).

Each depends on arrival order alone: the same messages batched differently give the same
pushes and the same dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from features.contract.events import DEAD_LETTER_REASONS, Event, Origin
from models.room import Room
from tests.models.golden_room import (
    GOLDEN,
    PARAMS,
    REOPENED,
    ROOM,
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


def in_batches(size: int) -> Any:
    def split(events: list[Event]) -> Iterable[list[Event]]:
        return (events[i : i + size] for i in range(0, len(events), size))

    return split


BATCHINGS = [in_batches(1), in_batches(2), in_batches(3), in_batches(1_000)]


@pytest.fixture(scope="module")
def baseline() -> list[Any]:
    return run(GOLDEN)[1]


def applied(outputs: list[Any]) -> int:
    return sum(sum(s.events.values()) for s in stats_of(outputs))


@pytest.mark.parametrize("batches", BATCHINGS)
def test_one_event_far_ahead_is_a_dead_letter_and_does_not_move_the_clock(
    baseline: list[Any], batches: Any
) -> None:
    outlier = msg("e-future", "like", 3_600_000 * 24 * 365 * 75, user_id="u-1")
    _, outputs = run(with_inserted(index_of("e-click-1"), outlier), batches=batches)
    letters = letters_of(outputs)
    assert [letter.reason for letter in letters] == ["ahead"]
    assert "ahead" in DEAD_LETTER_REASONS
    assert str(outlier["ts"]) in letters[0].error and str(T0 + 2_000) in letters[0].error
    assert summaries(outputs) == summaries(baseline)  # every later event applied, room_close too
    assert applied(outputs) == len(GOLDEN)


def test_two_events_in_a_row_far_ahead_from_two_sources_move_the_clock() -> None:
    """The producers' clock really jumped: the first is held until the second (another viewer)
    agrees, then both are applied; the room's time follows once a majority of its sources
    (three of four) have reached it."""
    jump = [msg("e-j1", "like", 2_000_000, user_id="u-1"),
            msg("e-j2", "like", 2_000_100, user_id="u-2"),
            msg("e-j3", "like", 2_000_200, user_id="u-1")]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *jump])
    assert letters_of(outputs) == []
    assert sum(s.events["like"] for s in stats_of(outputs)) == 3
    assert room.inbox.buffer.newest == T0 + 2_000_200
    assert room.clock == T0 + 2_000  # two of four ahead: the third newest is u-3's enter
    room.accept(decode_all([msg("e-j4", "like", 2_000_300, user_id="u-3")]))
    room.flush()
    assert room.clock == T0 + 2_000_100


@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_quiet_rooms_next_showcase_is_held_until_a_viewer_confirms_the_time(
    batches: Any,
) -> None:
    """Eleven minutes without an event (more than --max-ahead-ms), then the host's next
    showcase and a viewer entering: the showcase is not an outlier, and the viewer's push
    ranks its items."""
    gap = PARAMS.max_ahead_ms + 60_000
    later = [msg("e-s9", "showcase", 2_000 + gap, spotlight=None,
                 items=[{"item_id": "sku-9", "price": 5.0, "category": "toys"}]),
             msg("e-enter-9", "enter", 2_000 + gap + 500, user_id="u-9")]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *later], batches=batches)
    assert letters_of(outputs) == []
    assert room.showcase is not None and room.showcase.event_id == "e-s9"
    pushed = by_trigger(outputs)["e-enter-9"]
    assert "sku-9" in str(pushed)


def test_one_stale_event_first_does_not_refuse_the_rooms_real_start() -> None:
    """A first event with ts 0 (a producer's unset clock) is applied; the room's real first
    events, 56 years later, are held and confirmed by the next viewer, not refused."""
    stale = msg("e-stale", "like", -T0, user_id="u-0")  # ts 0
    _, outputs = run([stale, *GOLDEN])
    assert letters_of(outputs) == []
    assert {"e-s1", "e-s2"} <= set(by_trigger(outputs))


def test_a_held_event_no_one_confirms_is_a_dead_letter_at_the_end_not_on_a_quiet_pause() -> (
    None
):
    events = decode_all([*GOLDEN[:4], msg("e-far", "like", 2_000_000, user_id="u-1")])
    room = Room(ROOM, PARAMS)
    for event in events:
        room.accept([event])
    assert letters_of(room.flush(final=False)) == []  # a quiet pause: wall time decides nothing
    restored = Room.restore(room.snapshot(), PARAMS)
    assert [e.event_id for e, _ in restored.inbox.suspects] == ["e-far"]
    letters = letters_of(restored.flush())  # the input ended: no one agreed
    assert [letter.reason for letter in letters] == ["ahead"]
    assert str(T0 + 2_000) in letters[0].error  # measured against the clock it arrived to


def test_one_account_sending_two_events_far_ahead_is_two_dead_letters() -> None:
    """'Two in a row agree' needs two sources: one account cannot agree with itself."""
    jump = [msg("e-j1", "like", 2_000_000, user_id="u-1"),
            msg("e-j2", "like", 2_000_100, user_id="u-1")]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *jump])
    assert [letter.reason for letter in letters_of(outputs)] == ["ahead", "ahead"]
    assert room.inbox.buffer.newest == T0 + 2_000
    assert room.clock == T0 + 100  # u-2's enter: three of the four sources reached it


@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_viewer_entering_a_room_quiet_for_longer_than_max_ahead_gets_their_push(
    batches: Any
) -> None:
    """Found by a red team: a room quiet for 15 minutes, then one viewer's enter and
    heartbeat (one sender, held together) and the host's next showcase. The enter was an
    ``ahead`` dead letter and its push lost; the host's clock now confirms both."""
    gap = PARAMS.max_ahead_ms + 300_000
    quiet = [msg("e-in-9", "enter", gap, user_id="u-9", attrs={"spend_tier": 2}),
             msg("e-hb-9", "heartbeat", gap + 30_000, user_id="u-9", watch_ms=30_000),
             msg("e-s9", "showcase", gap + 60_000, items=S2, spotlight=None)]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *quiet], batches=batches)
    assert letters_of(outputs) == []
    pushed = by_trigger(outputs)
    assert "u-9" in pushed["e-in-9"][4] and "u-9" in pushed["e-s9"][4]  # the user ids
    assert room.inbox.buffer.newest == T0 + gap + 60_000


@pytest.mark.parametrize("batches", BATCHINGS)
def test_an_event_behind_the_watermark_is_applied_not_dead_lettered(
    baseline: list[Any], batches: Any
) -> None:
    late = msg("e-late", "purchase", 1_500, user_id="u-1", item_id="sku-1", amount=19.9)
    _, outputs = run(with_inserted(index_of("e-s2") + 1, late), batches=batches)
    assert letters_of(outputs) == []
    assert applied(outputs) == len(GOLDEN) + 1
    assert sum(s.events["purchase"] for s in stats_of(outputs)) == 2
    # pushes made before it arrived are unchanged (no look-ahead)
    before = [b for b in summaries(outputs) if b[0] in ("e-s1", "e-enter-3", "e-s2")]
    assert before == [b for b in summaries(baseline) if b[0] in ("e-s1", "e-enter-3", "e-s2")]


@pytest.mark.parametrize("batches", BATCHINGS)
def test_late_events_give_the_same_result_under_any_batching(batches: Any) -> None:
    late = msg("e-late", "item_click", 1_500, user_id="u-1", item_id="sku-1")
    messages = with_inserted(index_of("e-enter-4") + 1, late)
    assert summaries(run(messages, batches=batches)[1]) == summaries(run(messages)[1])


@pytest.mark.parametrize("batches", BATCHINGS)
def test_an_older_showcase_arriving_late_does_not_replace_the_one_in_force(
    baseline: list[Any], batches: Any
) -> None:
    """Red team 10's "late-stale-showcase": a showcase from before the one in force, arriving
    after it beyond the lateness, became the room's showcase, and u-4's enter push carried
    items the host had replaced. It is a ``superseded`` dead letter naming both showcases;
    the room goes on showing e-s2, and every push is as without it."""
    stale = msg("e-s-old", "showcase", 1_500, items=S2[:1], spotlight=None)
    _, outputs = run(with_inserted(index_of("e-enter-4") + 1, stale), batches=batches)
    letters = letters_of(outputs)
    assert [letter.reason for letter in letters] == ["superseded"]
    assert "'e-s-old'" in letters[0].error and "'e-s2'" in letters[0].error
    assert summaries(outputs) == summaries(baseline)


@pytest.mark.parametrize("batches", BATCHINGS)
@pytest.mark.parametrize("ts", [2_000, 4_500])
def test_a_trigger_the_rooms_time_passed_pushes_nothing_and_is_counted(
    baseline: list[Any], batches: Any, ts: int
) -> None:
    """Red team 10's "late-trigger-lookahead": an enter applied after later events was
    pushed the showcase in force then, one from after its time. Late: a majority of the
    room's sources passed it by more than the lateness (2 000), or the showcase in force is
    newer than it (4 500, before e-s2 at 5 000). No push; the others' as without it."""
    late = msg("e-late-enter", "enter", ts, user_id="u-9")
    _, outputs = run(with_inserted(index_of("e-enter-4") + 1, late), batches=batches)
    assert "e-late-enter" not in by_trigger(outputs)
    assert sum(s.late_triggers["enter"] for s in stats_of(outputs)) == 1
    assert letters_of(outputs) == []
    assert summaries(outputs) == summaries(baseline)  # (u-9 is silent by e-s3: timed out)


def test_a_reused_event_id_with_other_content_is_a_dead_letter(baseline: list[Any]) -> None:
    reuse = msg("e-s2", "showcase", 5_100, items=[], spotlight=None)  # same id, other content
    _, outputs = run(with_inserted(index_of("e-s2") + 1, reuse))
    letters = letters_of(outputs)
    assert [letter.reason for letter in letters] == ["reused_id"]
    assert "'e-s2'" in letters[0].error
    assert summaries(outputs) == summaries(baseline)  # the first content is kept


def test_a_redelivery_with_the_same_bytes_is_a_silent_duplicate(baseline: list[Any]) -> None:
    again = GOLDEN[index_of("e-s2")]
    _, outputs = run(with_inserted(index_of("e-s2") + 1, again))
    assert letters_of(outputs) == []
    assert sum(s.duplicates for s in stats_of(outputs)) == 1


@pytest.mark.parametrize("batches", BATCHINGS)
def test_events_after_room_close_are_dead_letters_naming_the_close(batches: Any) -> None:
    after = [msg("e-after-1", "like", 101_500, user_id="u-3"),
             msg("e-after-2", "comment", 99_000, user_id="u-4"),  # before it
             msg("e-after-3", "enter", 99_900, user_id="u-9")]  # before it, beyond lateness
    room, outputs = run([*GOLDEN, *after], batches=batches)
    letters = letters_of(outputs)
    assert [letter.reason for letter in letters] == ["closed"] * 3
    assert all("'e-close'" in letter.error for letter in letters)
    assert room.closed and applied(outputs) == len(GOLDEN)
    assert summaries(outputs) == summaries(run(GOLDEN)[1])


@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_showcase_after_the_close_opens_a_new_session_that_pushes(batches: Any) -> None:
    """Red teams 8 and 10: a stray room_close silenced a live room until it had been quiet
    for an hour. The host's next showcase opens a new session (the closed one's learning
    stays shed); what came between is refused, naming the close."""
    after = REOPENED
    room, outputs = run([*GOLDEN, *after], batches=batches)
    assert [(letter.reason, letter.raw) for letter in letters_of(outputs)] == [
        ("closed", json.dumps(after[0]).encode())]
    assert not room.closed and room.showcase is not None
    pushes = by_trigger(outputs)
    assert set(pushes["e-s4"][4]) == {"u-9"}  # entered before it, in the new session
    # u-3 heard from after it: present; u-2, who left before the close, is still gone after
    # a heartbeat (red team 11 #7: the close shed the leave, and the heartbeat brought u-2 back)
    assert set(pushes["e-s5"][4]) == {"u-3", "u-9"}
    assert summaries(outputs)[: len(summaries(run(GOLDEN)[1]))] == summaries(run(GOLDEN)[1])


def test_a_viewer_who_left_before_a_close_returns_to_the_new_session_by_a_newer_enter() -> None:
    back = [msg("e-old-enter-2", "enter", 3_900, user_id="u-2"),  # before the leave: late
            msg("e-s6", "showcase", 104_500, items=S2, spotlight=None),
            msg("e-enter-2b", "enter", 105_000, user_id="u-2"),
            msg("e-s7", "showcase", 106_000, items=S2, spotlight=None)]
    quiet = [msg("e-enter-8", "enter", 50_000, user_id="u-8"),  # leaves, never heard again
             msg("e-leave-8", "leave", 60_000, user_id="u-8")]
    room, outputs = run([*GOLDEN[:-1], *quiet, GOLDEN[-1], *REOPENED, *back])
    pushes = by_trigger(outputs)
    assert "u-2" not in pushes["e-s6"][4]
    assert pushes["e-enter-2b"][4] == ("u-2",) and "u-2" in pushes["e-s7"][4]
    # u-2 was taken back into the viewer table with its leave; u-8 is remembered until the
    # new session forgets it as its viewer table forgets the idle
    assert room.departed == {"u-8": T0 + 60_000}
    def heard(t: int) -> list[Event]:  # the room's time moves as its sources move
        return decode_all([msg(f"e-hb-{u}-{t}", "heartbeat", t, user_id=u, watch_ms=0)
                           for u in ("u-2", "u-3", "u-9")])
    forgotten = 60_000 + PARAMS.forget_after_ms
    for t in range(130_000, forgotten - 30_000, 30_000):
        room.accept(heard(t))
    assert room.departed == {"u-8": T0 + 60_000}
    for t in range(forgotten - 30_000, forgotten + 90_000, 30_000):
        room.accept(heard(t))
    assert room.departed == {}


@pytest.mark.parametrize("batches", BATCHINGS)
def test_a_straggler_from_just_before_the_close_is_counted_not_refused(batches: Any) -> None:
    """Found by a red team: a purchase 500 ms before the close, arriving just after it, was a
    ``closed`` dead letter telling the producer to send room_close last, though the contract
    tolerates that much disorder. The closed room has shed its state: it counts the event,
    and pushes nothing for it."""
    late = [msg("e-buy-late", "purchase", 100_500, user_id="u-1", item_id="sku-1", amount=1),
            msg("e-in-late", "enter", 100_800, user_id="u-9")]  # fmt: skip
    room, outputs = run([*GOLDEN, *late], batches=batches)
    assert letters_of(outputs) == []
    assert room.closed and applied(outputs) == len(GOLDEN) + 2
    assert summaries(outputs) == summaries(run(GOLDEN)[1])


def test_dead_letters_keep_the_raw_bytes_and_origin() -> None:
    after = msg("e-after", "like", 101_500, user_id="u-3")
    _, outputs = run([*GOLDEN, after])
    (letter,) = letters_of(outputs)
    assert letter.raw == json.dumps(after).encode()
    assert letter.origin == Origin("room-events.jsonl", 0, len(GOLDEN) + 1)
    assert PARAMS.max_ahead_ms > 0
