"""Arms as variants, ghost pushes of the holdout, and the push policy, through ``Room``.

Pushes never feed the learners, so a viewer's ranking at a trigger does not depend on the
arms of the others: a run with every viewer in ``attention`` is the oracle of each variant.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch, push_dicts
from models.arms import Arms, ArmSpec
from models.experiment.policy import policy_keep, policy_keep_reference
from models.experiment.serving import Ghosts
from models.params import RoomParams
from models.room import Room, RoomStats
from models.sim.world import iter_world

BASE = RoomParams(dim=8, experiment="exp-t")


def _events(minutes: float = 8) -> dict[str, list[Event]]:
    rooms: dict[str, list[Event]] = defaultdict(list)
    for n, ev in enumerate(iter_world(5, 3, 150, minutes, dup_rate=0, late_rate=0)):
        event = decode_event(orjson.dumps(ev), Origin("t", 0, n + 1), 1 << 20)
        assert isinstance(event, Event)
        rooms[event.room_id].append(event)
    return rooms


EVENTS = _events()


def _run(arms: str) -> tuple[dict[str, dict], dict[str, dict], Counter]:
    """(pushes by rec_id, ghosts by rec_id, skipped by (arm, reason))."""
    params = replace(BASE, arms=Arms.parse(arms))
    pushes: dict[str, dict] = {}
    ghosts: dict[str, dict] = {}
    skipped: Counter = Counter()
    for room_id, events in EVENTS.items():
        room = Room(room_id, params)
        out = []
        for n in range(0, len(events), 37):
            out += room.accept(events[n : n + 37])
        out += room.flush()
        for item in out:
            if isinstance(item, PushBatch):
                pushes.update((p["rec_id"], p) for p in push_dicts(item, 0))
            elif isinstance(item, Ghosts):
                ghosts.update((p["rec_id"], p) for p in push_dicts(item.batch, 0))
            elif isinstance(item, RoomStats):
                skipped.update(item.skipped)
    return pushes, ghosts, skipped


ORACLE, _, _ = _run("attention=1")


def _items(push: dict) -> list[str]:
    return [i["item_id"] for i in push["items"]]


def test_holdout_gets_ghosts_equal_to_the_push_it_would_have_had() -> None:
    pushes, ghosts, _ = _run("attention=0.5,holdout=0.5")
    assert ghosts and pushes
    assert {p["arm"] for p in pushes.values()} == {"attention"}
    assert {g["arm"] for g in ghosts.values()} == {"holdout"}
    assert not set(pushes) & set(ghosts)
    assert set(pushes) | set(ghosts) == set(ORACLE)  # everyone ranked at every trigger
    for rid, ghost in ghosts.items():
        assert _items(ghost) == _items(ORACLE[rid])


def test_a_variant_changes_only_its_own_viewers() -> None:
    pushes, ghosts, _ = _run("attention=0.5,wide=0.5:k=5:temperature=3")
    assert not ghosts and set(pushes) == set(ORACLE)
    wide = [p for p in pushes.values() if p["arm"] == "wide"]
    assert wide and max(len(p["items"]) for p in wide) == 5
    for rid, push in pushes.items():
        if push["arm"] == "attention":
            assert _items(push) == _items(ORACLE[rid])
    # a temperature of 3 flattens attention: some first item must differ from T = 1
    assert any(_items(p)[:3] != _items(ORACLE[r]) for r, p in pushes.items() if p["arm"] == "wide")


def test_policy_sends_exactly_what_the_reference_policy_keeps() -> None:
    spec = ArmSpec("capped", cap_ms=60_000, skip_same=True)
    pushes, _, skipped = _run("capped=1:cap=60:skip_same=1")
    last: dict[tuple[str, str], tuple[int, list[int]]] = {}
    expected: set[str] = set()
    reasons: Counter = Counter()
    ids: dict[str, int] = {}
    for rid, push in sorted(ORACLE.items(), key=lambda kv: (kv[1]["ts"], kv[1]["trigger_id"])):
        key = (push["room_id"], push["user_id"])
        rows = [ids.setdefault(i, len(ids)) for i in _items(push)]
        at, items = last.get(key, (-1, []))
        keep, reason = policy_keep_reference(spec, push["ts"], at, items, rows)
        if keep:
            expected.add(rid)
            last[key] = (push["ts"], rows)
        else:
            reasons[("capped", reason)] += 1
    assert set(pushes) == expected
    assert skipped == reasons
    assert reasons[("capped", "same_items")] > 0 and reasons[("capped", "frequency_cap")] > 0
    assert len(pushes) < len(ORACLE)


@given(
    st.lists(
        st.tuples(
            st.integers(-1, 200_000),
            st.lists(st.integers(-1, 4), min_size=3, max_size=3),
            st.lists(st.integers(-1, 4), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 120_000),
    st.booleans(),
)
def test_policy_keep_agrees_with_its_reference(rows: list, cap_ms: int, skip: bool) -> None:
    spec = ArmSpec("a", cap_ms=cap_ms, skip_same=skip)
    ts = 200_000
    keep, same, capped = policy_keep(
        spec,
        ts,
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
    )
    expected = [policy_keep_reference(spec, ts, a, b, c) for a, b, c in rows]
    assert keep.tolist() == [k for k, _ in expected]
    assert same == sum(r == "same_items" for _, r in expected)
    assert capped == sum(r == "frequency_cap" for _, r in expected)
