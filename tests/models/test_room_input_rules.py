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
from tests.models.golden_room import (
    GOLDEN,
    PARAMS,
    T0,
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
    """The producers' clock really jumped: the first is refused, the second (another viewer)
    accepted; the room's time follows once two sources have reached it."""
    jump = [msg("e-j1", "like", 2_000_000, user_id="u-1"),
            msg("e-j2", "like", 2_000_100, user_id="u-2"),
            msg("e-j3", "like", 2_000_200, user_id="u-1")]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *jump])
    assert [letter.reason for letter in letters_of(outputs)] == ["ahead"]
    assert room.buffer.newest == T0 + 2_000_200
    assert room.clock == T0 + 2_000_100


def test_one_account_sending_two_events_far_ahead_is_two_dead_letters() -> None:
    """'Two in a row agree' needs two sources: one account cannot agree with itself."""
    jump = [msg("e-j1", "like", 2_000_000, user_id="u-1"),
            msg("e-j2", "like", 2_000_100, user_id="u-1")]  # fmt: skip
    room, outputs = run([*GOLDEN[:4], *jump])
    assert [letter.reason for letter in letters_of(outputs)] == ["ahead", "ahead"]
    assert room.buffer.newest == T0 + 2_000
    assert room.clock == T0 + 1_000  # the showcase: u-3 (enter at 2 s) alone is ahead of it


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
             msg("e-after-2", "showcase", 102_000, items=[], spotlight=None),
             msg("e-after-3", "enter", 100_900, user_id="u-9")]  # fmt: skip
    room, outputs = run([*GOLDEN, *after], batches=batches)
    letters = letters_of(outputs)
    assert [letter.reason for letter in letters] == ["closed"] * 3
    assert all("'e-close'" in letter.error for letter in letters)
    assert room.closed and applied(outputs) == len(GOLDEN)
    assert summaries(outputs) == summaries(run(GOLDEN)[1])


def test_dead_letters_keep_the_raw_bytes_and_origin() -> None:
    after = msg("e-after", "like", 101_500, user_id="u-3")
    _, outputs = run([*GOLDEN, after])
    (letter,) = letters_of(outputs)
    assert letter.raw == json.dumps(after).encode()
    assert letter.origin == Origin("room-events.jsonl", 0, len(GOLDEN) + 1)
    assert PARAMS.max_ahead_ms > 0
