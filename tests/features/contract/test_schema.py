"""``schema.EVENT_FIELDS`` is the contract's one statement of each type's fields, and its
nested ``SHOWCASE_ITEM`` that of a showcase item's fields.

They must say what ``EVENTS.md`` (the page producers read) says, and they must really drive
both the readable validation and the compiled fast path: a rule changed in a table changes both
verdicts, with no other edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest

import features.contract.fastpath as fastpath
import features.contract.schema as schema
import features.contract.validation as validation
from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from features.contract.schema import EVENT_FIELDS, SHOWCASE_ITEM, Field, TypeSpec, spotlit
from features.contract.validation import validate_event

ORIGIN = Origin("live.room-events", 0, 1)
EVENTS_MD = Path(schema.__file__).with_name("EVENTS.md")


def documented_fields() -> dict[str, dict[str, bool]]:
    """Per type in EVENTS.md's input table: field name -> required (False: "optional"/"default")."""
    table = EVENTS_MD.read_text(encoding="utf-8").split("| type | extra required fields")[1]
    documented: dict[str, dict[str, bool]] = {}
    for row in table.split("\n\n")[0].splitlines()[2:]:
        types_cell, fields_cell = row.split("|")[1:3]
        fields: dict[str, bool] = {}
        for part in fields_cell.split(";"):
            optional = "optional" in part or "default" in part
            for name in re.findall(r"`(\w+)`", part):
                fields[name] = not optional
        for etype in re.findall(r"`(\w+)`", types_cell):
            documented[etype] = fields
    return documented


def documented_lower_bounds() -> dict[tuple[str, str], int]:
    """``(type, field) -> N`` for every ``field`` (int >= N) of EVENTS.md's input table."""
    bounds: dict[tuple[str, str], int] = {}
    text = EVENTS_MD.read_text(encoding="utf-8").split("| type | extra required fields")[1]
    for row in text.split("\n\n")[0].splitlines()[2:]:
        types_cell, fields_cell = row.split("|")[1:3]
        for name, low in re.findall(r"`(\w+)` \(int >= (\d+)", fields_cell):
            for etype in re.findall(r"`(\w+)`", types_cell):
                bounds[(etype, name)] = int(low)
    return bounds


def documented_items() -> tuple[dict[str, tuple[bool, str]], tuple[int, int]]:
    """EVENTS.md's sentence on ``items``: field name -> (required, the type as written), and
    the documented number of entries (low, high)."""
    text = EVENTS_MD.read_text(encoding="utf-8").split("`items` is the complete")[1]
    text = text.split("`spotlight` is")[0]
    low, high = re.findall(r"\((\d+) to (\d+) entries\)", text)[0]
    required, optional = text.split("plus optional")
    fields: dict[str, tuple[bool, str]] = {}
    for part, is_required in ((required, True), (optional, False)):
        for name, written in re.findall(r'"(\w+)": (\{[^}]*\}|[^,}`]+)', part):
            fields[name] = (is_required, written.strip())
    return fields, (int(low), int(high))


def documented_kind(name: str, written: str) -> tuple[str, float]:
    """The (kind, low) an item field written ``written`` in EVENTS.md has in the table."""
    if written == "str":  # "Ids are non-empty strings of at most 128 characters"
        return ("id" if name.endswith("_id") else "str"), 0
    number = re.fullmatch(r"number >= (\d+)", written)
    if number:
        return "money", int(number[1])
    assert written == "{str: str | number}", written
    return "attrs", 0


def test_the_table_names_exactly_the_fields_events_md_names() -> None:
    documented = documented_fields()
    assert set(documented) == set(EVENT_FIELDS)
    for etype, spec in EVENT_FIELDS.items():
        assert {f.name: f.required for f in spec.fields} == documented[etype], etype


def test_the_table_has_the_integer_bounds_events_md_states() -> None:
    bounds = documented_lower_bounds()
    assert bounds  # the parser found the documented bounds (watch_ms, qty)
    for (etype, name), low in bounds.items():
        (field,) = [f for f in EVENT_FIELDS[etype].fields if f.name == name]
        assert field.kind == "int" and field.low == low


def test_the_item_table_states_the_items_events_md_describes() -> None:
    documented, entries = documented_items()
    assert len(documented) == 5  # the parser found them all (item_id ... attrs)
    items, key = spotlit(EVENT_FIELDS["showcase"].fields)
    assert items.entries is SHOWCASE_ITEM and key == "item_id"
    assert (items.low, items.high) == entries
    table = {f.name: (f.required, f.kind, f.low) for f in SHOWCASE_ITEM.fields}
    assert table == {
        name: (required, *documented_kind(name, written))
        for name, (required, written) in documented.items()
    }


@contextmanager
def changed(etype: str, spec: TypeSpec) -> Iterator[None]:
    """The contract with ``etype``'s entry replaced, the fast path recompiled from it."""
    with mock.patch.dict(EVENT_FIELDS, {etype: spec}):
        compiled = fastpath._compile(etype)  # from the changed table
        with mock.patch.dict(fastpath.FAST, {etype: compiled}):
            yield


def _no_fallback(*args: Any) -> Any:
    raise AssertionError("took the careful path")


def verdicts(obj: dict[str, Any]) -> tuple[Event | DeadLetter, Event | DeadLetter]:
    raw = orjson.dumps(obj)
    return decode_event(raw, ORIGIN), validate_event(raw, ORIGIN)


def fast_only(obj: dict[str, Any]) -> Event | DeadLetter:
    with mock.patch.object(validation, "validate_event", _no_fallback):
        return decode_event(orjson.dumps(obj), ORIGIN)


HEARTBEAT = {"event_id": "e", "type": "heartbeat", "ts": 1, "room_id": "r", "user_id": "u"}


def test_a_bound_changed_in_the_table_changes_both_verdicts() -> None:
    obj = {**HEARTBEAT, "watch_ms": 5000}
    assert isinstance(fast_only(obj), Event)
    user, watch = EVENT_FIELDS["heartbeat"].fields
    with changed(
        "heartbeat", replace(EVENT_FIELDS["heartbeat"], fields=(user, replace(watch, high=1000)))
    ):
        fast, careful = verdicts(obj)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert fast.error == "field 'watch_ms' must be <= 1000 (contract range), got 5000"
        assert isinstance(fast_only({**obj, "watch_ms": 1000}), Event)
    assert isinstance(fast_only(obj), Event)  # the table restored, the old verdict back


def test_a_field_made_required_in_the_table_is_required_by_both() -> None:
    like = {"event_id": "e", "type": "like", "ts": 1, "room_id": "r", "user_id": "u"}
    assert isinstance(fast_only(like), Event)
    user, item = EVENT_FIELDS["like"].fields
    with changed("like", schema._spec(user, replace(item, required=True))):
        fast, careful = verdicts(like)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert fast.error == "missing required field 'item_id' for type 'like'"
        assert fast_only({**like, "item_id": "i"}).item_id == "i"  # type: ignore[union-attr]


def test_a_field_added_in_the_table_is_checked_and_filled_by_both() -> None:
    obj = {"event_id": "e", "type": "room_close", "ts": 1, "room_id": "r", "rec_id": ""}
    assert isinstance(fast_only(obj), Event)  # unknown extra fields are ignored
    with changed("room_close", schema._spec(Field("rec_id", "id", required=False))):
        fast, careful = verdicts(obj)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert "field 'rec_id' must be a non-empty id" in fast.error
        assert fast_only({**obj, "rec_id": "x"}).rec_id == "x"  # type: ignore[union-attr]
        assert validate_event(orjson.dumps({**obj, "rec_id": "x"}), ORIGIN).rec_id == "x"  # type: ignore[union-attr]


def test_a_kind_without_a_fast_check_fails_at_compile_time() -> None:
    bogus = Field("user_id", "nonsense")  # type: ignore[arg-type]
    with (
        mock.patch.dict(EVENT_FIELDS, {"leave": schema._spec(bogus)}),
        pytest.raises(AssertionError, match="no fast check"),
    ):
        fastpath._compile("leave")


def test_a_type_field_without_an_event_attribute_fails_at_compile_time() -> None:
    """Only an item may carry a field its record does not keep; an event's would be lost."""
    with (
        mock.patch.dict(EVENT_FIELDS, {"leave": schema._spec(Field("sku", "id"))}),
        pytest.raises(AssertionError, match="fills an Event slot"),
    ):
        fastpath._compile("leave")


ITEM: dict[str, Any] = {"item_id": "a", "price": 5000, "category": "c"}
SHOWCASE: dict[str, Any] = {
    "event_id": "e", "type": "showcase", "ts": 1, "room_id": "r", "spotlight": "a", "items": [ITEM]
}  # fmt: skip


def showcase(**item: Any) -> dict[str, Any]:
    """``SHOWCASE`` with its one item changed."""
    return {**SHOWCASE, "items": [{**ITEM, **item}]}


def item_field_changed(name: str, **changes: Any) -> TypeSpec:
    """The showcase's entry with the item field ``name`` changed (or added, if new)."""
    items, spotlight = EVENT_FIELDS["showcase"].fields
    assert items.entries is not None
    fields = items.entries.fields
    if name in {f.name for f in fields}:
        fields = tuple(replace(f, **changes) if f.name == name else f for f in fields)
    else:
        fields = (*fields, Field(name, **changes))
    entries = replace(items.entries, fields=fields)
    return schema._spec(replace(items, entries=entries), spotlight)


def test_an_item_bound_changed_in_the_table_changes_both_verdicts() -> None:
    assert isinstance(fast_only(SHOWCASE), Event)
    with changed("showcase", item_field_changed("price", high=1000)):
        fast, careful = verdicts(SHOWCASE)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert fast.error == "field 'items[0].price' must be <= 1000 (contract range), got 5000"
        assert fast_only(showcase(price=1000)).items[0].price == 1000.0  # type: ignore[union-attr]
    assert isinstance(fast_only(SHOWCASE), Event)  # the table restored, the old verdict back


def test_the_list_bound_changed_in_the_table_changes_both_verdicts() -> None:
    two = {**SHOWCASE, "items": [ITEM, {**ITEM, "item_id": "b"}]}
    assert isinstance(fast_only(two), Event)
    items, spotlight = EVENT_FIELDS["showcase"].fields
    with changed("showcase", schema._spec(replace(items, high=1), spotlight)):
        fast, careful = verdicts(two)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert fast.error == "field 'items' has 2 entries; the contract allows at most 1"
        assert isinstance(fast_only(SHOWCASE), Event)


def test_an_item_field_made_required_in_the_table_is_required_by_both() -> None:
    assert isinstance(fast_only(SHOWCASE), Event)
    with changed("showcase", item_field_changed("title", required=True)):
        fast, careful = verdicts(SHOWCASE)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert fast.error == "field 'items[0].title' must be a string, got null"
        assert fast_only(showcase(title="T")).items[0].title == "T"  # type: ignore[union-attr]


def test_an_item_field_added_to_the_table_is_checked_by_both() -> None:
    obj = showcase(sku="")
    assert isinstance(fast_only(obj), Event)  # unknown extra fields are ignored
    with changed("showcase", item_field_changed("sku", kind="id", required=False)):
        fast, careful = verdicts(obj)
        assert fast == careful
        assert isinstance(fast, DeadLetter)
        assert "field 'items[0].sku' must be a non-empty id" in fast.error
        fine = orjson.dumps(showcase(sku="x"))
        assert fast_only(showcase(sku="x")) == validate_event(fine, ORIGIN)  # checked, not kept
