"""The decoder's fast path, compiled from ``schema.EVENT_FIELDS`` once, at import time.

A loop over the table for every message would cost the fast path most of what it saves, so each
type's entry is turned into the source of one straight-line function (read the fields, one
combined condition, plain slot stores into a new ``Event``), which is what a hand-written fast
path would be, and compiled. A list field's nested table (a showcase's items) becomes a function
of its own, the same straight line inside one loop over the entries. The table stays the only
statement of the contract; this module only knows how each *kind* of field is accepted. orjson
only makes exact str/int/float/dict/list objects, so ``type(v) is int`` is
``isinstance(v, int)`` without the bool.

>>> for line in source("leave").splitlines()[:4]:
...     print(line)
def fast_leave(obj, event_id, ts, room_id, origin, raw):
    user_id = obj['user_id']
    if not ((type(user_id) is str and 0 < len(user_id) <= 128)):
        return None
>>> for line in source("showcase").splitlines()[:9]:
...     print(line)
def plain_items(_raw):
    if type(_raw) is not list or len(_raw) > 500:
        return None
    _out = []
    _seen = set()
    for _entry in _raw:
        if type(_entry) is not dict:
            return None
        item_id = _entry['item_id']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from features.contract.events import Event, Origin, ShowcaseItem
from features.contract.limits import MAX_ATTR
from features.contract.schema import EVENT_FIELDS, MAX_ID_LEN, Field, spotlit

FastDecoder = Callable[[dict[str, Any], str, int, str, Origin, bytes], Event | None]


def plain_attrs(attrs: dict[str, Any]) -> bool:
    """``validation._attrs`` would accept this dict: every value a string or a finite number."""
    for value in attrs.values():
        kind = type(value)
        if not (kind is str or ((kind is int or kind is float) and -MAX_ATTR <= value <= MAX_ATTR)):
            return False
    return True


def _accepts(f: Field, fields: tuple[Field, ...]) -> str:
    """The condition under which ``validation`` accepts the value in the local ``f.name``."""
    v = f.name
    if f.kind == "id":
        return f"type({v}) is str and 0 < len({v}) <= {MAX_ID_LEN!r}"
    if f.kind == "str":
        return f"type({v}) is str"
    if f.kind == "int":
        return f"type({v}) is int and {f.low!r} <= {v} <= {f.high!r}"
    if f.kind == "money":  # also false for NaN; ints were made floats when read
        return f"type({v}) is float and {float(f.low)!r} <= {v} <= {float(f.high)!r}"
    if f.kind == "attrs":
        return f"type({v}) is dict and _plain_attrs({v})"
    if f.kind == "items":  # plain_<name> gave None for anything it would not accept
        return f"{v} is not None"
    if f.kind == "spotlight":  # the entries' keys were checked with the entries
        items, key = spotlit(fields)
        return f"{v} is None or (type({v}) is str and any(i.{key} == {v} for i in {items.name}))"
    raise AssertionError(f"no fast check for kind {f.kind!r}")


def _default(record: type, name: str) -> Any:
    """``record``'s default for ``name``; None for a field it does not keep (an item's attrs)."""
    field = {f.name: f for f in dataclasses.fields(record)}.get(name)
    if field is None:
        return None
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _reads(
    fields: tuple[Field, ...], obj: str, record: type, pad: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """Lines (indented by ``pad``) reading ``fields`` from the dict named ``obj`` into locals of
    the same names; the conditions under which ``validation`` accepts each; and, for an optional
    field whose ``record`` default is mutable, the expression to store (a fresh default per
    record, as the dataclass would make)."""
    lines: list[str] = []
    conditions: list[str] = []
    after: dict[str, str] = {}
    for f in fields:
        v = f.name
        read = f"{obj}[{v!r}]" if f.required else f"{obj}.get({v!r})"
        lines.append(f"{pad}{v} = plain_{v}({read})" if f.kind == "items" else f"{pad}{v} = {read}")
        if f.kind == "money":
            lines.append(f"{pad}if type({v}) is int:\n{pad}    {v} = float({v})")
        if f.required:
            conditions.append(f"({_accepts(f, fields)})")
            continue
        assert f.kind != "items", "an optional list needs its own fast check"
        default = _default(record, v)
        if default is None or isinstance(default, dict):
            conditions.append(f"({v} is None or ({_accepts(f, fields)}))")
            if default is not None:
                after[v] = f"{default!r} if {v} is None else {v}"
        else:  # an immutable default stands in for an absent value, as the record's would
            lines.append(f"{pad}if {v} is None:\n{pad}    {v} = {default!r}")
            conditions.append(f"({_accepts(f, fields)})")
    return lines, conditions, after


def _stored(
    record: type, fields: tuple[Field, ...], after: dict[str, str], given: dict[str, str]
) -> dict[str, str]:
    """Per attribute of ``record``, in order: the expression that fills it (``given``, else what
    ``_reads`` read, else the record's default)."""
    named = {f.name for f in fields}
    stored: dict[str, str] = {}
    for name in (f.name for f in dataclasses.fields(record)):
        if name in given:
            stored[name] = given[name]
        elif name in after:
            stored[name] = after[name]
        elif name in named:
            stored[name] = name
        else:
            stored[name] = repr(_default(record, name))
    return stored


def _entries_source(f: Field) -> str:
    """The source of ``plain_<f.name>``: the ``ShowcaseItem`` tuple that ``validation`` makes
    of a list it would accept, else None."""
    assert f.entries is not None
    fields, key = f.entries.fields, f.entries.key
    reads, conditions, after = _reads(fields, "_entry", ShowcaseItem, "        ")
    item = ", ".join(_stored(ShowcaseItem, fields, after, {}).values())
    return "\n".join([
        f"def plain_{f.name}(_raw):",
        f"    if type(_raw) is not list or len(_raw) > {f.high!r}:",
        "        return None",
        "    _out = []",
        "    _seen = set()",
        "    for _entry in _raw:",
        "        if type(_entry) is not dict:",
        "            return None",
        *reads,
        f"        if not ({' and '.join([*conditions, f'{key} not in _seen'])}):",
        "            return None",
        f"        _seen.add({key})",
        f"        _out.append(_ShowcaseItem({item}))",
        "    return tuple(_out)",
    ])  # fmt: skip


def source(etype: str) -> str:
    """The Python source of ``etype``'s fast decoder, after those of its lists' entries (public
    so that it can be read)."""
    fields = EVENT_FIELDS[etype].fields
    assert {f.name for f in fields} <= set(Event.__slots__), "a type's field fills an Event slot"
    lines = [_entries_source(f) + "\n\n" for f in fields if f.kind == "items"]
    lines.append(f"def fast_{etype}(obj, event_id, ts, room_id, origin, raw):")
    reads, conditions, after = _reads(fields, "obj", Event, "    ")
    lines += reads
    if conditions:
        lines.append(f"    if not ({' and '.join(conditions)}):\n        return None")
    given = {name: name for name in ("event_id", "ts", "room_id", "origin", "raw")}
    lines.append("    event = _new(Event)")
    for slot, value in _stored(Event, fields, after, {**given, "type": repr(etype)}).items():
        lines.append(f"    event.{slot} = {value}")
    lines.append("    return event")
    return "\n".join(lines)


def _compile(etype: str) -> FastDecoder:
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "Event": Event,
        "_ShowcaseItem": ShowcaseItem,
        "_plain_attrs": plain_attrs,
    }
    exec(compile(source(etype), f"<fast decoder for {etype!r}>", "exec"), namespace)
    decoder: FastDecoder = namespace[f"fast_{etype}"]
    return decoder


FAST: Final[dict[str, FastDecoder]] = {etype: _compile(etype) for etype in EVENT_FIELDS}
"""Per type: the ``Event`` that ``validate_event`` would return, or None (or an exception) when
the message is not plainly valid."""

# Every slot set, and to the same defaults as ``Event`` (an unset slot raises AttributeError).
_PROBE: Final = ("e", 0, "r", Origin("t", 0, 1), b"")
assert FAST["room_close"]({}, *_PROBE) == Event("e", "room_close", 0, "r", *_PROBE[3:]), (
    "features.contract.fastpath is out of step with Event"
)
