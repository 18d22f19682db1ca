"""A scripted room, end to end through ``decode_event`` and ``Room.accept``/``Room.flush``.

Events are written as contract dicts, encoded and decoded exactly as the job reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from features.contract.ids import rec_id
from features.contract.messages import PushBatch, push_dicts
from models.arms import Arms
from models.params import RoomParams
from models.room import Room, RoomStats

ROOM = "r-7"
T0 = 1_764_331_200_000
PARAMS = RoomParams(
    top_k=3,
    dim=8,
    lateness_ms=1_000,
    arms=Arms.parse("attention=0.5,control=0.5"),
    experiment="golden",
)

S1 = [
    {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
    {"item_id": "sku-2", "price": 89.0, "category": "beauty", "title": "Serum 30ml"},
    {"item_id": "sku-3", "price": 35.0, "category": "fashion"},
    {"item_id": "sku-4", "price": 12.0, "category": "home"},
]
S2 = [
    {"item_id": "sku-6", "price": 240.0, "category": "home"},
    {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
    {"item_id": "sku-5", "price": 55.0, "category": "home"},
    {"item_id": "sku-3", "price": 35.0, "category": "fashion"},
]
S3 = [
    {"item_id": "sku-7", "price": 15.0, "category": "beauty", "attrs": {"shade": "rose"}},
    {"item_id": "sku-5", "price": 55.0, "category": "home"},
]
SHOWCASE_ITEMS = {"e-s1": S1, "e-s2": S2, "e-s3": S3}


def msg(event_id: str, etype: str, t: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": etype, "ts": T0 + t, "room_id": ROOM, **fields}


# The golden stream, in arrival order (which here is event-time order).
GOLDEN: list[dict[str, Any]] = [
    msg("e-enter-1", "enter", 0, user_id="u-1", attrs={"spend_tier": 3, "city": "Lyon"}),
    msg("e-enter-2", "enter", 100, user_id="u-2"),
    msg("e-s1", "showcase", 1_000, items=S1, spotlight="sku-2"),
    msg("e-enter-3", "enter", 2_000, user_id="u-3"),
    msg("e-click-1", "item_click", 3_000, user_id="u-1", item_id="sku-3"),
    msg("e-cart-2", "add_to_cart", 3_200, user_id="u-2", item_id="sku-1"),
    msg("e-hb-3", "heartbeat", 3_500, user_id="u-3", watch_ms=1_500),
    msg("e-leave-2", "leave", 4_000, user_id="u-2"),
    msg("e-s2", "showcase", 5_000, items=S2, spotlight=None),
    msg("e-enter-4", "enter", 11_500, user_id="u-4"),
    msg("e-buy-3", "purchase", 12_000, user_id="u-3", item_id="sku-5", amount=55.0),
    msg("e-like-4", "like", 12_500, user_id="u-4"),
    msg("e-hb-3b", "heartbeat", 100_000, user_id="u-3", watch_ms=30_000),
    msg("e-s3", "showcase", 100_500, items=S3, spotlight="sku-7"),
    msg("e-close", "room_close", 101_000),
]

# (trigger_id, trigger, viewers who must get exactly this push)
EXPECTED_PUSHES = [
    ("e-s1", "showcase", ["u-1", "u-2"]),
    ("e-enter-3", "enter", ["u-3"]),
    ("e-s2", "showcase", ["u-1", "u-3"]),  # u-2 left
    ("e-enter-4", "enter", ["u-4"]),
    ("e-s3", "showcase", ["u-3", "u-4"]),  # u-1 silent since 3 000: timed out at 100 500
]


def decode_all(messages: Iterable[dict[str, Any]]) -> list[Event]:
    events = []
    for line, obj in enumerate(messages, start=1):
        event = decode_event(json.dumps(obj).encode(), Origin("room-events.jsonl", 0, line))
        assert isinstance(event, Event), event
        events.append(event)
    return events


def run(
    messages: list[dict[str, Any]],
    params: RoomParams = PARAMS,
    batches: Callable[[list[Event]], Iterable[list[Event]]] | None = None,
) -> tuple[Room, list[Any]]:
    """Feed the messages in arrival order (one ``accept`` per event unless ``batches``)."""
    events = decode_all(messages)
    room = Room(ROOM, params)
    out: list[Any] = []
    for batch in (batches or (lambda es: ([e] for e in es)))(events):
        out.extend(room.accept(batch))
    out.extend(room.flush())
    return room, out


def batches_of(outputs: list[Any]) -> list[PushBatch]:
    return [o for o in outputs if isinstance(o, PushBatch)]


def letters_of(outputs: list[Any]) -> list[DeadLetter]:
    return [o for o in outputs if isinstance(o, DeadLetter)]


def stats_of(outputs: list[Any]) -> list[RoomStats]:
    return [o for o in outputs if isinstance(o, RoomStats)]


def summary(batch: PushBatch) -> tuple:
    """Everything a push batch says, exactly (floats included)."""
    return (
        batch.room_id,
        batch.trigger,
        batch.trigger_id,
        batch.ts,
        tuple(batch.user_ids),
        tuple(batch.arms),
        tuple(batch.item_ids),
        batch.top.tolist(),
        batch.score.tolist(),
        batch.attention.tolist(),
        batch.propensity.tolist(),
        batch.why.tolist(),
    )


def summaries(outputs: list[Any]) -> list[tuple]:
    return [summary(b) for b in batches_of(outputs)]


def by_trigger(outputs: list[Any]) -> dict[str, tuple]:
    return {b.trigger_id: summary(b) for b in batches_of(outputs)}


def with_inserted(at: int, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*GOLDEN[:at], *extra, *GOLDEN[at:]]


def index_of(event_id: str) -> int:
    return next(n for n, m in enumerate(GOLDEN) if m["event_id"] == event_id)


@pytest.fixture(scope="module")
def golden() -> tuple[Room, list[Any]]:
    return run(GOLDEN)


# -- the golden room -------------------------------------------------------------------------


def test_golden_room_pushes_exactly_the_expected_triggers_and_viewers(golden) -> None:
    _, outputs = golden
    got = [(b.trigger_id, b.trigger, sorted(b.user_ids)) for b in batches_of(outputs)]
    assert got == EXPECTED_PUSHES
    assert letters_of(outputs) == []


def test_golden_room_push_contents(golden) -> None:
    _, outputs = golden
    ts_of = {m["event_id"]: m["ts"] for m in GOLDEN}
    showcase_of = {"e-enter-3": "e-s1", "e-enter-4": "e-s2"}
    for batch in batches_of(outputs):
        source = showcase_of.get(batch.trigger_id, batch.trigger_id)
        showcase_ids = {item["item_id"] for item in SHOWCASE_ITEMS[source]}
        assert batch.ts == ts_of[batch.trigger_id]
        assert batch.room_id == ROOM
        assert sorted(batch.item_ids) == sorted(showcase_ids)
        for push in push_dicts(batch, emitted_at=T0 + 999_999):
            items = push["items"]
            assert isinstance(items, list)
            assert len(items) == min(PARAMS.top_k, len(showcase_ids))
            ids = [item["item_id"] for item in items]
            assert len(set(ids)) == len(ids)
            assert set(ids) <= showcase_ids
            assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
            scores = [item["score"] for item in items]
            assert scores == sorted(scores, reverse=True)
            for item in items:
                assert 0.0 <= item["attention"] <= 1.0 and 0.0 <= item["propensity"] <= 1.0
            assert set(push) >= {
                "rec_id", "room_id", "user_id", "trigger", "trigger_id", "ts", "emitted_at",
                "arm", "items",
            }  # fmt: skip
            assert push["trigger"] == batch.trigger
            assert push["trigger_id"] == batch.trigger_id
            assert push["ts"] == batch.ts and push["emitted_at"] == T0 + 999_999
            assert push["room_id"] == ROOM


def test_golden_room_spotlight_first_for_cold_viewers(golden) -> None:
    """Nobody has history at the first showcase: both arms put the item on stage first."""
    _, outputs = golden
    first = batches_of(outputs)[0]
    assert first.trigger_id == "e-s1"
    for push in push_dicts(first, emitted_at=0):
        assert push["items"][0]["item_id"] == "sku-2"  # type: ignore[index]
        assert push["why"] == "on stage now"


def test_golden_room_arms_are_stable_per_user(golden) -> None:
    _, outputs = golden
    seen: dict[str, str] = {}
    for batch in batches_of(outputs):
        for user, arm in zip(batch.user_ids, batch.arms, strict=True):
            assert arm == PARAMS.arms.assign(user, PARAMS.experiment)
            assert seen.setdefault(user, arm) == arm


def test_control_arm_ranks_the_spotlight_first(golden) -> None:
    _, outputs = golden
    checked = 0
    for batch in batches_of(outputs):
        source = {"e-enter-3": "e-s1", "e-enter-4": "e-s2"}.get(batch.trigger_id, batch.trigger_id)
        spotlight = next(m["spotlight"] for m in GOLDEN if m["event_id"] == source)
        if spotlight is None:
            continue
        for v, arm in enumerate(batch.arms):
            if arm == "control":
                assert batch.item_ids[batch.top[v, 0]] == spotlight
                checked += 1
    assert checked >= 3


def test_rec_ids_are_deterministic_and_unique(golden) -> None:
    _, outputs = golden
    _, again = run(GOLDEN)
    first = [p["rec_id"] for b in batches_of(outputs) for p in push_dicts(b, emitted_at=1)]
    second = [p["rec_id"] for b in batches_of(again) for p in push_dicts(b, emitted_at=2)]
    assert first == second
    assert len(set(first)) == len(first)
    for batch in batches_of(outputs):
        for push in push_dicts(batch, emitted_at=0):
            assert push["rec_id"] == rec_id(batch.trigger_id, str(push["user_id"]))


def test_same_input_twice_gives_identical_results(golden) -> None:
    _, outputs = golden
    _, again = run(GOLDEN)
    assert summaries(again) == summaries(outputs)
    assert letters_of(again) == letters_of(outputs)


def test_room_close_sets_closed(golden) -> None:
    room, outputs = golden
    assert room.closed
    stats = stats_of(outputs)
    assert stats[-1].closed and stats[-1].present == 0
    assert sum(s.events["room_close"] for s in stats) == 1
    # closed from the accept that received room_close on: it applies what was held at once
    # instead of waiting for a later event that would never come
    first = next(n for n, s in enumerate(stats) if s.events["room_close"])
    assert [s.closed for s in stats] == [n >= first for n in range(len(stats))]
    assert sum(sum(s.events.values()) for s in stats) == len(GOLDEN)


# -- presence ----------------------------------------------------------------------------------


def test_enter_before_any_showcase_pushes_nothing() -> None:
    _, outputs = run(GOLDEN[:2])
    assert batches_of(outputs) == []


def test_enter_into_a_room_with_a_showcase_pushes_to_that_viewer_only() -> None:
    _, outputs = run(GOLDEN[:4])
    enter = [b for b in batches_of(outputs) if b.trigger == "enter"]
    assert len(enter) == 1 and enter[0].user_ids == ["u-3"]


def test_viewer_who_left_gets_no_push() -> None:
    _, outputs = run(GOLDEN)
    for batch in batches_of(outputs):
        if batch.ts > T0 + 4_000:
            assert "u-2" not in batch.user_ids


@pytest.mark.parametrize(("silent_for", "pushed"), [(89_000, True), (91_000, False)])
def test_presence_timeout_is_90_seconds(silent_for: int, pushed: bool) -> None:
    messages = [
        msg("e-s0", "showcase", 0, items=S1, spotlight=None),
        msg("e-enter-9", "enter", 1_000, user_id="u-9"),
        msg("e-enter-8", "enter", 1_000 + silent_for - 100, user_id="u-8"),
        msg("e-s9", "showcase", 1_000 + silent_for, items=S2, spotlight="sku-5"),
    ]
    _, outputs = run(messages, RoomParams(dim=8, lateness_ms=1_000))
    last = batches_of(outputs)[-1]
    assert last.trigger_id == "e-s9"
    assert ("u-9" in last.user_ids) is pushed
    assert "u-8" in last.user_ids


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


# -- recovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("split", range(1, len(GOLDEN)))
def test_snapshot_restore_mid_stream_gives_the_same_later_pushes(split: int) -> None:
    events = decode_all(GOLDEN)
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


# -- bounded state -----------------------------------------------------------------------------


def test_state_stays_bounded_as_viewers_come_and_go() -> None:
    params = RoomParams(
        dim=8,
        lateness_ms=1_000,
        forget_after_ms=120_000,
        sweep_every_ms=10_000,
        dedup_max_ids=1_000,
    )
    messages: list[dict[str, Any]] = []
    for n in range(2_000):
        t = n * 1_000
        if n % 20 == 0:
            items = [
                {"item_id": f"sku-{n}-{j}", "price": 10.0 + j, "category": f"c{j % 3}"}
                for j in range(4)
            ]
            messages.append(msg(f"e-s-{n}", "showcase", t, items=items, spotlight=None))
        messages.append(msg(f"e-in-{n}", "enter", t + 1, user_id=f"u-{n}"))
        messages.append(
            msg(
                f"e-click-{n}",
                "item_click",
                t + 2,
                user_id=f"u-{n}",
                item_id=f"sku-{n - n % 20}-{n % 4}",
            )
        )
        messages.append(msg(f"e-out-{n}", "leave", t + 500, user_id=f"u-{n}"))
    events = decode_all(messages)
    room = Room(ROOM, params)
    peak_capacity = 0
    for n in range(0, len(events), 50):
        room.accept(events[n : n + 50])
        peak_capacity = max(peak_capacity, room.viewers.rows.capacity)
    room.flush()
    # viewers heard from within forget_after (+ one sweep period) of the end: ~130, not 2 000
    assert len(room.viewers) <= 135
    assert peak_capacity <= 512
    assert len(room.items) <= 4 * (130 // 20 + 2)
    assert len(room.dedup) <= 1_000
    assert len(room.mf.users) <= 512 and len(room.pushed_at) <= 512


def test_a_stuck_producer_clock_is_held_only_up_to_the_bound_and_nothing_is_lost() -> None:
    """Every event at one ts: the watermark never moves, so without a bound the room would
    hold them all. Each is applied exactly once, none is a dead letter."""
    params = RoomParams(dim=4, max_held_events=100)
    room = Room(ROOM, params)
    events = decode_all(
        msg(f"e-{n}", "heartbeat", 1_000, user_id=f"u-{n % 7}", watch_ms=1) for n in range(2_000)
    )
    applied = 0
    for start in range(0, len(events), 64):
        out = room.accept(events[start : start + 64])
        assert not any(isinstance(o, DeadLetter) for o in out)
        applied += sum(sum(o.events.values()) for o in out if isinstance(o, RoomStats))
        assert len(room.buffer) <= 100
    applied += sum(sum(o.events.values()) for o in room.flush() if isinstance(o, RoomStats))
    assert applied == 2_000
