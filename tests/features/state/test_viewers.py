"""``ViewerTable``: viewer presence, attributes and segments, and forgetting idle viewers."""

from __future__ import annotations

import numpy as np

from features.state.viewers import SEGMENT_SLOTS, ViewerTable


def table() -> ViewerTable:
    return ViewerTable(presence_timeout_ms=90_000, forget_after_ms=600_000)


def test_enter_makes_a_viewer_present_and_leave_removes_them() -> None:
    v = table()
    a = v.enter("a", 1_000, {})
    b = v.enter("b", 2_000, {})
    assert a != b
    assert v.present_rows(3_000).tolist() == sorted([a, b])
    v.leave("a", 4_000)
    assert v.present_rows(5_000).tolist() == [b]
    assert a not in v.present_rows(5_000) and (b in v.present_rows(5_000))
    assert v.present_count(5_000) == 1
    assert len(v) == 2  # a left but is still known


def test_a_late_event_from_before_a_leave_does_not_bring_the_viewer_back() -> None:
    # found by a red team: a like sent before the leave, arriving after the watermark had
    # passed the leave, made the viewer present again, and they were pushed
    v = table()
    a = v.enter("a", 1_000, {})
    v.leave("a", 10_000)
    v.touch("a", 5_000)
    assert a not in v.present_rows(11_000)
    v.touch("a", 12_000)  # a newer event, but no enter: still gone (red team 10)
    assert a not in v.present_rows(13_000)
    v.enter("a", 14_000, {})
    assert a in v.present_rows(15_000)


def test_a_viewer_who_left_is_back_only_by_entering_again() -> None:
    """Red team 10: a heartbeat flushed 100 ms after the leave, or a push opened later, made
    a viewer who had left present again, and the next showcase pushed to them. The contract
    says present is "entered, not left"; a viewer first heard from without an enter is still
    present (the job may start mid-stream)."""
    v = table()
    a, b = v.enter("a", 1_000, {}), v.enter("b", 1_000, {})
    v.leave("a", 2_000)
    v.touch("a", 2_100)  # the client's last heartbeat
    v.leave("b", 2_000)
    v.touch("b", 3_000)  # opened a push
    new, _ = v.touch("c", 3_000)  # never entered: first heard from mid-stream
    assert v.present_rows(4_000).tolist() == [new]
    v.enter("a", 1_500, {})  # a late enter, older than the leave: still gone
    assert v.present_rows(4_000).tolist() == [new]
    assert a not in v.present_rows(4_000) and b not in v.present_rows(4_000)


def test_a_late_leave_older_than_a_return_does_not_make_the_viewer_absent() -> None:
    v = table()
    a = v.enter("a", 0, {})
    v.enter("a", 6_000, {})  # back
    v.leave("a", 2_000)  # the first stay's leave, arriving late
    assert a in v.present_rows(9_000)


def test_presence_times_out_without_news() -> None:
    v = table()
    row = v.enter("a", 0, {})
    assert (row in v.present_rows(89_999))
    assert row not in v.present_rows(90_001)
    assert v.present_rows(90_001).size == 0
    v.touch("a", 100_000)  # a heartbeat: present again
    assert (row in v.present_rows(150_000))
    assert v.present_rows(150_000).tolist() == [row]


def test_heartbeat_from_unknown_viewer_implies_presence() -> None:
    v = table()
    row, new = v.touch("mid-stream", 50_000)
    assert new
    assert (row in v.present_rows(60_000))
    assert v.present_rows(60_000).tolist() == [row]
    again, new = v.touch("mid-stream", 55_000)
    assert (again, new) == (row, False)
    assert v.last_seen[row] == 55_000


def test_older_touch_does_not_move_last_seen_back() -> None:
    v = table()
    row = v.enter("a", 10_000, {})
    v.touch("a", 5_000)
    assert v.last_seen[row] == 10_000


def test_enter_records_tier_and_segments() -> None:
    """The tier is a number; every other str/int attribute value is a segment slot, exact per
    room; float attributes (no natural segments) are not."""
    v = table()
    row = v.enter("a", 0, {"spend_tier": 4, "city": "Lyon", "new_user": 1, "score": 0.3})
    other = v.enter("b", 0, {"city": "Paris"})
    same = v.enter("c", 0, {"city": "Lyon"})
    plain = v.enter("d", 0, {})
    assert v.tier[row] == 4.0 and v.has_tier[row] == 1.0 and v.has_tier[other] == 0.0
    assert v.segment_names == ["city=Lyon", "new_user=1", "city=Paris"]
    assert np.flatnonzero(v.segments[row]).tolist() == [0, 1]
    assert np.flatnonzero(v.segments[other]).tolist() == [2]
    assert np.flatnonzero(v.segments[same]).tolist() == [0]
    assert v.segments[plain].sum() == 0


def test_a_tier_sent_as_a_string_is_read_and_one_that_is_no_number_is_a_segment() -> None:
    v = table()
    spelled = v.enter("a", 0, {"spend_tier": "3"})
    named = v.enter("b", 0, {"spend_tier": "gold", "city": "Lyon"})
    assert v.tier[spelled] == 3.0 and v.has_tier[spelled] == 1.0
    assert v.segments[spelled].sum() == 0  # a number: the tier's column only
    assert v.has_tier[named] == 0.0
    assert v.segment_names == ["spend_tier=gold", "city=Lyon"]
    assert np.flatnonzero(v.segments[named]).tolist() == [0, 1]


def test_segment_slots_are_bounded() -> None:
    v = table()
    for n in range(3 * SEGMENT_SLOTS):
        v.enter(f"u-{n}", 0, {"city": f"c{n}"})
    assert len(v.segment_names) == SEGMENT_SLOTS
    assert v.segments.shape[1] == SEGMENT_SLOTS
    assert (v.segments.sum(axis=1)[: 3 * SEGMENT_SLOTS] == 1).all()  # beyond: shared slots


def test_forget_idle_frees_rows_and_reentry_gets_a_clean_row() -> None:
    v = table()
    old = v.enter("old", 0, {"spend_tier": 5, "city": "Paris"})
    v.cat_chosen[old, 3] = 4
    v.cat_exposed[old, 2] = 1.5
    v.recent_item[old] = [3, 2, 0]
    v.price_w[old], v.price_lp[old] = 2.0, 7.0
    keep = v.enter("keep", 550_000, {})
    assert v.forget_idle(600_000) == []  # exactly forget_after behind: not yet
    assert v.forget_idle(600_001) == [old]
    assert v.rows.get("old") is None and len(v) == 1
    assert v.present_rows(600_001).tolist() == [keep]
    again = v.enter("old", 700_000, {})
    assert again == old  # the freed row is reused
    assert v.rows.get("old") == again
    for name in ViewerTable._COLUMNS:
        if name not in ("last_seen", "present"):
            assert not getattr(v, name)[again].any(), name
    assert v.last_seen[again] == 700_000 and v.present[again]


def test_forget_idle_keeps_memory_bounded() -> None:
    v = table()
    for n in range(2_000):
        now = n * 10_000
        v.enter(f"u-{n}", now, {})
        v.forget_idle(now)
    assert len(v) <= 61  # only viewers heard from in the last 600 s remain
    assert v.rows.capacity <= 128


def test_forget_after_is_at_least_the_presence_timeout() -> None:
    v = ViewerTable(presence_timeout_ms=90_000, forget_after_ms=1_000)
    row = v.enter("a", 0, {})
    assert v.forget_idle(50_000) == []
    assert (row in v.present_rows(50_000))
