"""``decode_event``: a valid message of each contract type decodes field by field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from features.contract.decoding import MAX_ID_LEN, MAX_SHOWCASE_ITEMS, decode_event
from features.contract.events import ENGAGEMENT_TYPES, DeadLetter, Event, Origin, ShowcaseItem
from tests.features.contract.helpers import ORIGIN, TS, VALID, encode


def decode(obj: Any, max_bytes: int | None = None) -> Event | DeadLetter:
    raw = obj if isinstance(obj, bytes) else encode(obj)
    if max_bytes is None:
        return decode_event(raw, ORIGIN)
    return decode_event(raw, ORIGIN, max_bytes)


def fields_of(event: Event) -> dict[str, Any]:
    return {
        name: getattr(event, name)
        for name in Event.__slots__  # type: ignore[attr-defined]
        if name not in ("raw", "read_at")
    }


@pytest.mark.parametrize("etype", sorted(VALID))
def test_every_valid_type_decodes_with_its_common_fields(etype: str) -> None:
    raw = encode(VALID[etype])
    event = decode_event(raw, ORIGIN)
    assert isinstance(event, Event), event
    assert event.type == etype
    assert event.event_id == VALID[etype]["event_id"]
    assert event.ts == TS and type(event.ts) is int
    assert event.room_id == "r-7"
    assert event.origin == ORIGIN
    assert event.raw == raw


def test_enter_fields() -> None:
    event = decode(VALID["enter"])
    assert isinstance(event, Event)
    assert event.user_id == "u-42"
    assert event.attrs == {"spend_tier": 3, "city": "Lyon"}
    assert event.item_id is None


def test_enter_without_attrs_has_empty_attrs() -> None:
    obj = dict(VALID["enter"])
    del obj["attrs"]
    event = decode(obj)
    assert isinstance(event, Event)
    assert event.attrs == {}


def test_leave_and_heartbeat_fields() -> None:
    leave = decode(VALID["leave"])
    assert isinstance(leave, Event) and leave.user_id == "u-42"
    beat = decode(VALID["heartbeat"])
    assert isinstance(beat, Event)
    assert (beat.user_id, beat.watch_ms) == ("u-42", 30000)
    zero = decode({**VALID["heartbeat"], "watch_ms": 0})
    assert isinstance(zero, Event) and zero.watch_ms == 0


@pytest.mark.parametrize("etype", sorted(ENGAGEMENT_TYPES))
def test_engagement_item_is_optional(etype: str) -> None:
    bare = decode(VALID[etype])
    assert isinstance(bare, Event)
    assert (bare.user_id, bare.item_id) == ("u-42", None)
    with_item = decode({**VALID[etype], "item_id": "sku-9"})
    assert isinstance(with_item, Event) and with_item.item_id == "sku-9"
    null_item = decode({**VALID[etype], "item_id": None})
    assert isinstance(null_item, Event) and null_item.item_id is None


@pytest.mark.parametrize("etype", ["item_click", "add_to_cart"])
def test_item_event_fields(etype: str) -> None:
    event = decode(VALID[etype])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id) == ("u-42", "sku-2")


def test_purchase_fields_and_qty_default() -> None:
    event = decode(VALID["purchase"])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id, event.amount, event.qty) == ("u-42", "sku-2", 89.0, 1)
    assert isinstance(event.amount, float)
    many = decode({**VALID["purchase"], "qty": 3, "amount": 0})
    assert isinstance(many, Event)
    assert (many.qty, many.amount) == (3, 0.0)


def test_push_open_fields() -> None:
    event = decode(VALID["push_open"])
    assert isinstance(event, Event)
    assert (event.user_id, event.item_id, event.rec_id) == ("u-42", "sku-2", "rec-1")


def test_showcase_fields() -> None:
    event = decode(VALID["showcase"])
    assert isinstance(event, Event)
    assert event.spotlight == "sku-2"
    assert event.items == (
        ShowcaseItem("sku-1", 19.9, "beauty", None),
        ShowcaseItem("sku-2", 89.0, "beauty", "Serum 30ml", {"size_ml": 30, "brand": "x"}),
    )
    assert isinstance(event.items[1].price, float)
    assert event.items[0].attrs == {}  # a fresh dict per item without attrs


def test_showcase_null_spotlight_and_empty_items() -> None:
    event = decode({**VALID["showcase"], "spotlight": None})
    assert isinstance(event, Event) and event.spotlight is None and len(event.items) == 2
    empty = decode({**VALID["showcase"], "items": [], "spotlight": None})
    assert isinstance(empty, Event) and empty.items == ()


def test_showcase_of_exactly_the_maximum_size_is_valid() -> None:
    items = [
        {"item_id": f"sku-{n}", "price": 1, "category": "c"} for n in range(MAX_SHOWCASE_ITEMS)
    ]
    event = decode({**VALID["showcase"], "items": items, "spotlight": "sku-499"})
    assert isinstance(event, Event)
    assert len(event.items) == MAX_SHOWCASE_ITEMS


def test_ids_of_exactly_max_length_are_valid() -> None:
    long = "x" * MAX_ID_LEN
    obj = {**VALID["push_open"], "event_id": long, "room_id": long, "user_id": long}
    obj.update(item_id=long, rec_id=long)
    event = decode(obj)
    assert isinstance(event, Event)
    assert event.event_id == event.room_id == event.user_id == event.item_id == long


def test_contract_examples_decode() -> None:
    lines = [
        b'{"event_id":"e-1","type":"enter","ts":1764331200000,"room_id":"r-7","user_id":"u-42"}',
        b'{"event_id":"e-2","type":"showcase","ts":1764331201000,"room_id":"r-7",'
        b'"spotlight":"sku-2","items":[{"item_id":"sku-1","price":19.9,"category":"beauty"},'
        b'{"item_id":"sku-2","price":89.0,"category":"beauty","title":"Serum 30ml"}]}',
        b'{"event_id":"e-3","type":"heartbeat","ts":1764331230000,"room_id":"r-7",'
        b'"user_id":"u-42","watch_ms":30000}',
        b'{"event_id":"e-4","type":"item_click","ts":1764331231000,"room_id":"r-7",'
        b'"user_id":"u-42","item_id":"sku-2"}',
        b'{"event_id":"e-5","type":"purchase","ts":1764331290000,"room_id":"r-7",'
        b'"user_id":"u-42","item_id":"sku-2","amount":89.0}',
    ]
    events = [decode_event(line, Origin("in.jsonl", 0, n + 1)) for n, line in enumerate(lines)]
    assert all(isinstance(e, Event) for e in events), events
    assert [e.type for e in events] == [  # type: ignore[union-attr]
        "enter", "showcase", "heartbeat", "item_click", "purchase",
    ]  # fmt: skip


@pytest.mark.parametrize("etype", sorted(VALID))
def test_unknown_extra_fields_are_ignored(etype: str) -> None:
    plain = decode(VALID[etype])
    extra = copy.deepcopy(VALID[etype])
    extra.update(v=2, future={"nested": [1, {"x": None}]}, flag=True, note="hi")
    if etype == "showcase":
        extra["items"][0]["colour"] = {"rgb": [1, 2, 3]}
    decoded = decode(extra)
    assert isinstance(plain, Event) and isinstance(decoded, Event), decoded
    assert fields_of(decoded) == fields_of(plain)
