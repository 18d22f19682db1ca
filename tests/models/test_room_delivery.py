"""The room under delivery problems: redeliveries, disorder, no look-ahead, batching."""

from __future__ import annotations

from collections.abc import Iterable

from features.contract.events import Event
from tests.models.golden_room import (
    GOLDEN,
    T0,
    by_trigger,
    index_of,
    letters_of,
    msg,
    run,
    stats_of,
    summaries,
    with_inserted,
)

# -- delivery problems --------------------------------------------------------------------------


def test_redelivered_duplicates_are_not_applied(golden) -> None:
    _, baseline = golden
    dup_s1, dup_click, dup_enter = (GOLDEN[index_of(e)] for e in ("e-s1", "e-click-1", "e-enter-3"))
    messages = with_inserted(index_of("e-click-1") + 1, dup_click)  # right after itself
    at = next(n for n, m in enumerate(messages) if m["event_id"] == "e-s2") + 1
    messages = [*messages[:at], dup_s1, dup_enter, dup_click, *messages[at:]]
    _, outputs = run(messages)
    assert summaries(outputs) == summaries(baseline)
    assert letters_of(outputs) == []
    assert sum(s.duplicates for s in stats_of(outputs)) == 4


def test_disorder_within_lateness_is_tolerated() -> None:
    swapped = list(GOLDEN)
    i = index_of("e-cart-2")
    swapped[i - 1], swapped[i] = swapped[i], swapped[i - 1]  # 3 200 arrives before 3 000
    _, outputs = run(swapped)
    _, baseline = run(GOLDEN)
    assert letters_of(outputs) == []
    assert summaries(outputs) == summaries(baseline)


def test_no_look_ahead() -> None:
    """An event with ts > T that arrives before the showcase at T does not change its pushes."""
    at = index_of("e-s2")
    future = msg("e-future", "purchase", 5_400, user_id="u-1", item_id="sku-6", amount=240.0)
    _, baseline = run(GOLDEN)
    _, outputs = run(with_inserted(at, future))
    assert letters_of(outputs) == []
    assert by_trigger(outputs)["e-s2"] == by_trigger(baseline)["e-s2"]
    assert by_trigger(outputs)["e-s1"] == by_trigger(baseline)["e-s1"]
    # Sanity: the same event *before* T does change the pushes of T, so the test has teeth.
    past = dict(future, ts=T0 + 4_900)
    _, changed = run(with_inserted(at, past))
    assert by_trigger(changed)["e-s2"] != by_trigger(baseline)["e-s2"]


def test_batching_of_arrivals_does_not_change_results() -> None:
    """The same arrivals, handed to the room one by one, in threes or all at once (as a
    stream engine may batch them differently on a replay), give the same pushes and the
    same dead letters."""
    late = msg("e-late", "like", 1_500, user_id="u-1", item_id="sku-1")
    messages = with_inserted(index_of("e-s2") + 1, late)

    def threes(events: list[Event]) -> Iterable[list[Event]]:
        return (events[n : n + 3] for n in range(0, len(events), 3))

    _, single = run(messages)
    _, grouped = run(messages, batches=threes)
    _, whole = run(messages, batches=lambda events: [events])
    reference = (summaries(single), [(d.reason, d.raw) for d in letters_of(single)])
    assert (summaries(grouped), [(d.reason, d.raw) for d in letters_of(grouped)]) == reference
    assert (summaries(whole), [(d.reason, d.raw) for d in letters_of(whole)]) == reference


def test_batching_without_late_events_does_not_change_pushes() -> None:
    _, single = run(GOLDEN)
    _, whole = run(GOLDEN, batches=lambda events: [events])
    assert summaries(whole) == summaries(single)
