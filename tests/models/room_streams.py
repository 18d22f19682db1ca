"""Random event streams of one room (Hypothesis), for property tests of the room's fast paths.

A stream mixes showcase changes (items drawn from a pool larger than a showcase, so items
leave, come back and are forgotten), viewers entering with attributes and tiers, choices
(clicks, carts, purchases, push opens, some on items no longer on show), engagement and
pauses long enough for sweeps to forget and compact. ``params`` makes forgetting quick.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from models.params import RoomParams

T0 = 1_764_331_200_000
ITEMS = 12  # the pool
USERS = 6

params = RoomParams(forget_after_ms=20_000, presence_timeout_ms=15_000, sweep_every_ms=2_000,
                    lateness_ms=0)

_ACTIONS = ("item_click", "item_click", "add_to_cart", "purchase", "push_open", "like")
_item = st.integers(0, ITEMS - 1)
_user = st.integers(0, USERS - 1)
_step = st.one_of(
    st.tuples(st.just("showcase"), st.sets(_item, min_size=1, max_size=6),
              st.integers(-1, 5)),
    st.tuples(st.just("enter"), _user, st.integers(0, 3), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.sampled_from(_ACTIONS), _user, _item),
    st.tuples(st.just("wait"), st.sampled_from([500, 3_000, 12_000])),
)
steps = st.lists(_step, min_size=1, max_size=40)


def _line(n: int, ts: int, step: tuple[Any, ...]) -> dict[str, Any]:
    kind = step[0]
    base: dict[str, Any] = {"event_id": f"e{n}", "room_id": "r", "type": kind, "ts": ts}
    if kind == "showcase":
        ids = sorted(step[1])
        spot = f"sku-{ids[step[2]]}" if 0 <= step[2] < len(ids) else None
        items = [{"item_id": f"sku-{i}", "price": 5.0 + 13 * i, "category": f"c{i % 4}"}
                 for i in ids]
        return {**base, "items": items, "spotlight": spot}
    if kind == "enter":
        return {**base, "user_id": f"u-{step[1]}",
                "attrs": {"spend_tier": step[2], "city": step[3]}}
    if kind == "like":
        return {**base, "user_id": f"u-{step[1]}"}
    extra = {"purchase": {"amount": 10.0}, "push_open": {"rec_id": "p"}}.get(kind, {})
    return {**base, "user_id": f"u-{step[1]}", "item_id": f"sku-{step[2]}", **extra}


def events(drawn: list[tuple[Any, ...]]) -> list[Event]:
    """The stream's events in event-time order (a showcase first, so choices are choices)."""
    out, ts = [], T0
    for n, step in enumerate([("showcase", {0, 1, 2, 3}, 0), *drawn]):
        if step[0] == "wait":
            ts += step[1]
            continue
        ts += 100
        decoded = decode_event(orjson.dumps(_line(n, ts, step)), Origin("t", 0, n + 1))
        assert isinstance(decoded, Event), decoded
        out.append(decoded)
    return out
