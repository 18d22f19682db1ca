"""``Inbox``: the input rules decide from arrival order alone, and survive a snapshot."""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import given
from hypothesis import strategies as st

from features.contract.events import DeadLetter, Event, Origin
from features.state.codec import decode, encode
from features.state.inbox import Inbox, Verdict
from tests.features.state.helpers import PROPERTY


def _event(event_id: str, ts: int, kind: str = "heartbeat", user: str = "u",
           body: str = "") -> Event:
    return Event(event_id, kind, ts, "r", Origin("t", 0, 0), raw=(event_id + body).encode(),
                 user_id=None if kind in ("showcase", "room_close") else user)


def _inbox() -> Inbox:
    return Inbox("r", lateness_ms=1_000, max_held=3, max_ahead_ms=60_000)  # 3: bound reached


def _shown(verdicts: list[Verdict]) -> list[str]:
    return [v.reason if isinstance(v, DeadLetter) else v.event_id for v in verdicts]


def _exactly(verdicts: list[Verdict]) -> list[tuple[str, str, bytes]]:
    return [(type(v).__name__, _shown([v])[0], v.raw) for v in verdicts]


def test_a_late_room_close_closes_the_room_and_names_itself_in_later_letters() -> None:
    inbox = _inbox()
    out, _ = inbox.arrive([_event("a", 10_000), _event("z", 5_000, "room_close"),
                           _event("b", 10_001)])
    # z is late: applied at once (a close ends the stream: all held is let go); a, which
    # arrived before it but is later in event time, is after the end too; b arrived after it
    assert _shown(out) == ["z", "closed", "closed"]
    assert inbox.closed and (inbox.close_id, inbox.close_ts) == ("z", 5_000)
    early, letter = out[1], out[2]
    assert isinstance(early, DeadLetter) and "later in event time" in early.error
    assert isinstance(letter, DeadLetter) and "'z' (ts 5000)" in letter.error
    assert "'b' (ts 10001) arrived after it" in letter.error
    out, _ = inbox.arrive([_event("c", 10_002)])
    assert _shown(out) == ["closed"]


def test_a_showcase_after_the_close_opens_a_new_session() -> None:
    """A stray (or forged) room_close, or a room id used again: the host's next showcase
    opens the room again (red teams 8 and 10: a room was silenced for an hour)."""
    inbox = _inbox()
    out, _ = inbox.arrive([_event("a", 1_000), _event("z", 2_000, "room_close"),
                           _event("s0", 1_900, "showcase"),  # from before the close: a straggler
                           _event("h", 2_500),  # after the close: refused
                           _event("s1", 3_000, "showcase"),  # after the close: a new session
                           _event("e", 2_900, "enter", user="v"),  # the new session's, late
                           _event("old", 1_950)])  # from before the close, late: handed on
    assert _shown(out) == ["a", "z", "s0", "closed", "old"]
    assert not inbox.closed
    out, _ = inbox.arrive([_event("h2", 4_500, user="v")])  # moves the watermark
    assert _shown(out) == ["e", "s1"]


def test_a_new_show_overtaken_by_the_old_close_opens_as_if_the_close_came_first() -> None:
    """Red team 11 #8: the old show's close, late within the lateness, arrived after the new
    show's first showcase and viewers; they were ``closed`` dead letters (the room silent
    until the next showcase). What the close found held and later than it is now decided in
    arrival order as if it arrived just after it: a viewer before the showcase is refused,
    the showcase opens the new session, and what follows it is the new session's."""
    overtaken = Inbox("r", lateness_ms=1_000, max_held=50)
    in_order = Inbox("r", lateness_ms=1_000, max_held=50)
    old = [_event("a", 1_000), _event("b", 1_500)]
    early = _event("early", 2_050, "enter", user="w")  # before the new show's showcase
    new = [_event("s", 2_100, "showcase"), _event("in", 2_200, "enter", user="v"),
           _event("h", 2_300, user="v")]
    close = _event("z", 2_000, "room_close")
    late, _ = overtaken.arrive([*old, early, *new, close])
    ordered, _ = in_order.arrive([*old, close, early, *new])
    assert _shown(late) == _shown(ordered) == ["a", "b", "z", "closed"]
    assert isinstance(late[3], DeadLetter) and "later in event time" in late[3].error
    assert not overtaken.closed and not in_order.closed
    rest = [_event("h2", 4_000, user="v"), _event("s2", 4_100, "showcase")]
    assert _shown(overtaken.arrive(rest)[0]) == _shown(in_order.arrive(rest)[0]) == [
        "s", "in", "h"]
    assert _shown(overtaken.flush()) == _shown(in_order.flush()) == ["h2", "s2"]


def test_a_close_far_ahead_silences_the_room_only_until_the_next_showcase() -> None:
    """Red team 11: a close an hour ahead (confirmed by one forged heartbeat), or one as the
    room's first event at the end of time, silenced the whole show: no showcase was later."""
    inbox = _inbox()
    hour, end = 3_600_000, 253_402_300_799_999
    out, _ = inbox.arrive([_event("a", 1_000), _event("z", hour, "room_close"),
                           _event("forged", hour, user="x"),  # agrees: the close applies
                           _event("h", 2_000), _event("s1", 3_000, "showcase"),
                           _event("e", 3_100, "enter", user="v"), _event("h2", 6_000)])
    assert _shown(out) == ["a", "z", "closed", "closed", "s1", "e"]
    first = Inbox("r", lateness_ms=1_000, max_held=3, max_ahead_ms=60_000)
    out, _ = first.arrive([_event("z", end, "room_close"), _event("in", 10, "enter"),
                           _event("s", 20, "showcase"), _event("h", 5_000)])
    assert _shown(out) == ["z", "closed", "s"]


def test_a_room_close_held_as_far_ahead_closes_the_room_when_the_next_sender_agrees() -> None:
    inbox = _inbox()
    out, _ = inbox.arrive([_event("a", 0), _event("z", 100_000, "room_close"),
                           _event("b", 100_001, user="v")])
    assert _shown(out) == ["a", "z", "closed"]
    assert inbox.closed


def test_a_far_ahead_event_nobody_agrees_with_is_refused_at_the_end() -> None:
    inbox = _inbox()
    out, _ = inbox.arrive([_event("a", 0), _event("far", 100_000)])
    assert _shown(out) == [] and inbox.suspects
    assert _shown(inbox.flush(final=False)) == ["a"]  # a quiet room decides nothing
    assert inbox.suspects
    assert _shown(inbox.flush(final=True)) == ["ahead"]


def test_a_quiet_room_s_next_sender_and_the_host_confirm_every_event_held_since() -> None:
    # a room quiet past --max-ahead-ms: a viewer enters and heartbeats (one sender, held
    # together), then the host's showcase, which the room trusts, confirms both
    inbox = _inbox()
    out, _ = inbox.arrive([_event("s1", 0, "showcase"), _event("in", 900_000, "enter"),
                           _event("hb", 930_000), _event("s2", 960_000, "showcase")])
    assert _shown(out + inbox.flush()) == ["s1", "in", "hb", "s2"]


def test_a_host_clock_far_ahead_is_refused_when_a_viewer_speaks_at_the_rooms_time() -> None:
    # a host console an hour ahead (a time-zone bug): a dead letter that says so, not an hour
    # of every viewer's events made late (an adversarial review of a trust once given here)
    inbox = _inbox()
    out, _ = inbox.arrive([_event("s1", 0, "showcase"), _event("bad", 3_600_000, "showcase"),
                           _event("hb", 3_000)])
    assert _shown(out + inbox.flush()) == ["ahead", "s1", "hb"]
    assert inbox.buffer.newest == 3_000


def test_held_events_confirmed_keep_their_ids_so_redeliveries_are_dropped() -> None:
    # an adversarial review: ids of held events were remembered at the room's old time, and
    # aged out the moment the clock moved, so their redeliveries were applied again
    inbox = Inbox("r", lateness_ms=1_000, max_ahead_ms=60_000, dedup_horizon_ms=60_000)
    inbox.arrive([_event("s1", 0, "showcase"), _event("buy", 900_000, "item_click"),
                  _event("s2", 900_500, "showcase"), _event("hb", 902_000)])
    _, duplicates = inbox.arrive([_event("buy", 900_000, "item_click"),
                                  _event("s2", 900_500, "showcase")])
    assert duplicates == 2


def test_one_account_jumping_ahead_within_the_limit_does_not_age_the_ids() -> None:
    # an adversarial review: an account 600 s ahead (accepted: within --max-ahead-ms) made
    # the room forget every id before it, and a redelivered purchase was applied twice
    inbox = Inbox("r", lateness_ms=1_000, max_ahead_ms=600_000, dedup_horizon_ms=600_000)
    inbox.arrive([_event("s", 0, "showcase"), _event("a", 1_000), _event("b", 5_000, user="v"),
                  *(_event(f"j{i}", 605_000 * (i + 1), user="x") for i in range(3))])
    _, duplicates = inbox.arrive([_event("a", 1_000)])
    assert duplicates == 1
    restored = Inbox("r", lateness_ms=1_000, max_ahead_ms=600_000, dedup_horizon_ms=600_000)
    restored.load(decode(encode(inbox.dump())))
    assert restored.ids_clock.newest == inbox.ids_clock.newest
    assert restored.arrive([_event("a", 1_000)])[1] == 1


def test_held_events_and_the_buffer_together_keep_to_max_held() -> None:
    inbox = _inbox()  # max_held 3
    out, _ = inbox.arrive([_event("s1", 0, "showcase"), _event("a", 0), _event("b", 0, user="v"),
                           *(_event(f"far{i}", 100_000 + i, user="w") for i in range(3))])
    assert len(inbox) + len(inbox.suspects) <= 3 + 1  # one held far ahead is always allowed
    letters = [v for v in out if isinstance(v, DeadLetter)]
    assert letters and "more than --max-held-events 3 events were held" in letters[0].error


def test_a_held_event_far_ahead_of_the_one_that_confirms_the_clock_is_still_refused() -> None:
    inbox = _inbox()
    out, _ = inbox.arrive([_event("a", 0), _event("far", 10**12, user="v"),
                           _event("b", 100_000, "showcase")])
    assert _shown(out + inbox.flush()) == ["ahead", "a", "b"]


def test_an_outlier_far_ahead_does_not_age_the_ids_that_catch_redeliveries() -> None:
    inbox = Inbox("r", lateness_ms=1_000, max_ahead_ms=60_000, dedup_horizon_ms=60_000)
    inbox.arrive([_event("a", 0), _event("far", 10**12, user="v")])
    _, duplicates = inbox.arrive([_event("a", 0)])
    assert duplicates == 1


def test_redeliveries_are_counted_and_a_reused_id_is_a_dead_letter() -> None:
    inbox = _inbox()
    out, duplicates = inbox.arrive([_event("a", 0), _event("a", 0), _event("a", 0, body="!")])
    assert duplicates == 1
    assert _shown(out) == ["reused_id"]  # "a" itself is still held for event-time order
    assert _shown(inbox.flush()) == ["a"]


def test_dump_and_load_keep_held_events_the_suspect_and_the_ids() -> None:
    inbox = _inbox()
    inbox.arrive([_event("a", 0), _event("b", 500), _event("far", 100_000, user="v")])
    restored = _inbox()
    restored.load(decode(encode(inbox.dump())))
    assert restored.arrive([_event("a", 0)])[1] == 1  # still remembered: a redelivery
    assert [e.event_id for e, _ in restored.suspects] == ["far"]
    assert _shown(restored.flush()) == ["ahead", "a", "b"]


def test_a_held_event_whose_attrs_keys_start_with_a_dollar_survives_a_snapshot() -> None:
    # the contract allows any string key in attrs; the snapshot codec reserves "$" for its
    # references, so such a key once crashed every snapshot taken while the event was held
    inbox = _inbox()
    held = dataclasses.replace(_event("a", 0, "enter"), attrs={"$ref": "x", "$a": 3})
    inbox.arrive([held])
    restored = _inbox()
    restored.load(decode(encode(inbox.dump())))
    (back,) = restored.flush()
    assert isinstance(back, Event) and back.attrs == {"$ref": "x", "$a": 3}


_ARRIVALS = st.lists(
    st.tuples(st.sampled_from("abcdefgh"),
              st.one_of(st.integers(0, 3_000), st.integers(0, 200_000)),
              st.sampled_from(["heartbeat", "item_click", "room_close"]),
              st.sampled_from(["u", "v"]), st.sampled_from(["", "!"])),
    max_size=30,
)


@PROPERTY
@given(_ARRIVALS, st.lists(st.integers(0, 30), max_size=4))
def test_verdicts_do_not_depend_on_how_arrivals_are_batched(
    arrivals: list[tuple[str, int, str, str, str]], cuts: list[int]
) -> None:
    events = [_event(i, ts, kind, user, body) for i, ts, kind, user, body in arrivals]
    whole = _inbox()
    verdicts, duplicates = whole.arrive(events)
    at_once = _exactly(verdicts + whole.flush())
    split = _inbox()
    batched: list[Verdict] = []
    counted = 0
    bounds = sorted({0, len(events), *(min(c, len(events)) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        part, dups = split.arrive(events[start:end])
        batched, counted = batched + part, counted + dups
    batched += split.flush()
    assert _exactly(batched) == at_once
    assert counted == duplicates
