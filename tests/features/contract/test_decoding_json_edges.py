"""``decode_event`` refuses what JSON lets by: out-of-range numbers, repeated keys, odd bytes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event
from features.contract.limits import MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS
from tests.features.contract.helpers import ORIGIN

_BASE = {"event_id": "e", "ts": 1, "room_id": "r", "user_id": "u"}
_ITEM = {"item_id": "s", "price": 1.0, "category": "c"}


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({**_BASE, "type": "leave", "ts": 2**63}, "ts"),
        ({**_BASE, "type": "leave", "ts": 2**64 - 1}, "ts"),
        ({**_BASE, "type": "leave", "ts": MAX_TS + 1}, "ts"),
        ({**_BASE, "type": "heartbeat", "watch_ms": MAX_WATCH_MS + 1}, "watch_ms"),
        ({**_BASE, "type": "purchase", "item_id": "s", "amount": 1e39}, "amount"),
        ({**_BASE, "type": "purchase", "item_id": "s", "amount": 1, "qty": 2**63}, "qty"),
        ({**_BASE, "type": "enter", "attrs": {"x": 1e39}}, "attrs.x"),
        ({**_BASE, "type": "enter", "attrs": {"x": -(10**31)}}, "attrs.x"),
        ({**_BASE, "type": "showcase", "spotlight": None, "items": [{**_ITEM, "price": 1e39}]},
         "items[0].price"),
        ({**_BASE, "type": "showcase", "spotlight": None,
          "items": [{**_ITEM, "attrs": {"w": 1e39}}]}, "items[0].attrs.w"),
    ],
)  # fmt: skip
def test_numbers_out_of_the_contract_range_are_dead_letters_naming_the_field(
    obj: dict[str, Any], field: str
) -> None:
    """A ts past 2^63 crashed presence; 1e39 overflowed float32 weights into NaN for good."""
    letter = decode_event(json.dumps(obj).encode(), ORIGIN)
    assert isinstance(letter, DeadLetter), letter
    assert letter.reason == "invalid"
    assert f"'{field}'" in letter.error and "range" in letter.error, letter.error


def test_numbers_at_the_edge_of_the_contract_range_are_valid() -> None:
    obj = {**_BASE, "type": "purchase", "item_id": "s", "ts": MAX_TS, "amount": MAX_MONEY,
           "qty": MAX_QTY}  # fmt: skip
    assert isinstance(decode_event(orjson.dumps(obj), ORIGIN), Event)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u","room_id":"other"}',
        b'{"event_id":"e","type":"leave","ts":1,"room_id" :"r","user_id":"u","room_id":"x"}',
        b'{"event_id":"e","type":"enter","ts":1,"room_id":"r","user_id":"u","attrs":{"a":1,"a":2}}',
    ],
)
def test_a_key_written_twice_is_a_dead_letter_naming_it(raw: bytes) -> None:
    """orjson keeps the last room_id: the event silently moved to another room."""
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter), letter
    assert letter.reason == "invalid" and "twice" in letter.error
    assert "'room_id'" in letter.error or "'a'" in letter.error


def test_a_colon_inside_a_string_is_not_a_duplicate() -> None:
    raw = b'{"event_id":"e\\":","type":"leave","ts":1,"room_id":"r","user_id":"u : v"}'
    assert isinstance(decode_event(raw, ORIGIN), Event)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"event_id":"\xff","type":"leave"}', "invalid UTF-8 at byte 13"),
        (b'{"event_id":"\xed\xa0\x80"}', "invalid UTF-8 at byte 13"),  # a surrogate
        (b'\xef\xbb\xbf{"event_id":"e"}', "byte order mark"),
        ('{"event_id":"e"}'.encode("utf-16-le"), "look like UTF-16"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "gzip-compressed"),  # not UTF-16
        (b'{"event_id":"e","x":1e400,"y":NaN}', "NaN is not JSON"),  # not "UTF-8"
        (b'{"event_id":"e","x":1e400,"y":"\\udc00"}', "lone surrogate"),
        (b'{"event_id":"e"}\r{"event_id":"f"}', "carriage returns"),
        (b'{"event_id":"e"}\x00', "ends with a NUL byte"),  # a C string, not UTF-16
        (b"", "the message is empty (a Kafka message with an empty or null value"),
    ],
)
def test_odd_encodings_have_a_clear_error(raw: bytes, words: str) -> None:
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter) and letter.reason == "not_json"
    assert words in letter.error, letter.error
    assert "surrogates not allowed" not in letter.error


def _nested_event(levels: int, opener: bytes) -> bytes:
    """A valid ``enter`` whose extra field ``x`` makes the message ``levels`` deep."""
    if opener == b"[":
        x = b"[" * (levels - 1) + b"]" * (levels - 1)
    else:
        x = b'{"a":' * (levels - 2) + b"{}" + b"}" * (levels - 2)
    return b'{"event_id":"e","type":"enter","ts":1,"room_id":"r","user_id":"u","x":' + x + b"}"


@pytest.mark.parametrize("opener", [b"[", b"{"])
def test_an_extra_field_nested_past_the_limit_is_a_dead_letter_that_says_so(
    opener: bytes,
) -> None:
    """500 levels used to be 'could not be decoded: RecursionError', which tells a producer
    nothing; the limit is the contract's, the same on the fast path and the readable one."""
    from features.contract.limits import MAX_NESTING
    from features.contract.validation import validate_event

    deepest = _nested_event(MAX_NESTING, opener)
    assert json.loads(deepest)  # valid JSON, exactly MAX_NESTING levels
    assert isinstance(decode_event(deepest, ORIGIN), Event)
    assert isinstance(validate_event(deepest, ORIGIN), Event)
    for levels in (MAX_NESTING + 1, 500, 1023, 2000):
        raw = _nested_event(levels, opener)
        letter = decode_event(raw, ORIGIN)
        assert isinstance(letter, DeadLetter), levels
        assert letter == validate_event(raw, ORIGIN)
        assert letter.reason == "invalid"
        assert f"nested more than {MAX_NESTING} levels deep" in letter.error
        assert ("field 'x'" in letter.error) == (levels < 1024)  # past orjson's own limit


OUT_OF_RANGE = ("field 'ts' is out of range, got {}: the contract wants an integer from 0 to"
                f" {MAX_TS} (epoch milliseconds, UTC, up to 9999-12-31)")
WHOLE = "field 'ts' must be an integer (digits only, without a decimal point or exponent), got {}"


@pytest.mark.parametrize(("ts", "error"), [
    (b"1000.0", WHOLE.format("1000.0")),  # refused as before: the contract's times are integers
    (b"1e3", WHOLE.format("1000.0")),
    (b"1e30", OUT_OF_RANGE.format("1e+30")),  # its size is what is wrong, not its spelling
    (b"-1e30", OUT_OF_RANGE.format("-1e+30")),
    (b"99999999999999999999", OUT_OF_RANGE.format("1e+20")),  # digits only, past 64 bits
    (b"253402300800000", f"field 'ts' must be <= {MAX_TS} (contract range), got 253402300800000"),
])
def test_a_float_or_huge_timestamp_says_what_is_wrong(ts: bytes, error: str) -> None:
    raw = b'{"event_id":"e","type":"leave","ts":' + ts + b',"room_id":"r","user_id":"u"}'
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter) and letter.reason == "invalid"
    assert letter.error == error


def test_other_whole_number_fields_say_out_of_range_too() -> None:
    raw = b'{"event_id":"e","type":"heartbeat","ts":1,"room_id":"r","user_id":"u","watch_ms":1e9}'
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter), letter
    assert letter.error == (
        f"field 'watch_ms' is out of range, got 1000000000.0: the contract wants an integer from"
        f" 0 to {MAX_WATCH_MS} (milliseconds, up to a day)"
    )


LEAVE = b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u"'


def test_a_number_past_float64_in_an_ignored_field_does_not_refuse_the_event() -> None:
    # found by a red team: `"note": 1e400` (JSON, in a field the contract says is ignored)
    # made the whole event a dead letter, since orjson cannot hold the number
    event = decode_event(LEAVE + b',"note":{"n":[1e400,-1e999]}}', ORIGIN)
    assert isinstance(event, Event) and event.user_id == "u"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (LEAVE.replace(b'"ts":1', b'"ts":1e400') + b"}", "'ts'"),
        (b'{"event_id":"e","type":"purchase","ts":1,"room_id":"r","user_id":"u",'
         b'"item_id":"i","qty":1,"amount":1e400}', "'amount'"),
        (b'{"event_id":"e","type":"enter","ts":1,"room_id":"r","user_id":"u",'
         b'"attrs":{"tier":-1e400}}', "attrs"),
    ],
)
def test_a_number_past_float64_in_a_field_the_job_reads_is_refused_by_name(
    raw: bytes, field: str
) -> None:
    letter = decode_event(raw, ORIGIN)
    assert isinstance(letter, DeadLetter) and letter.reason == "invalid", letter
    assert field in letter.error, letter.error


def test_an_integer_of_thousands_of_digits_is_read_as_past_float64() -> None:
    # red team 14: Python refuses to read an integer of over 4,300 digits, and its words
    # ("use sys.set_int_max_str_digits()") were the dead letter's
    huge = b"9" * 5000
    letter = decode_event(LEAVE.replace(b'"ts":1', b'"ts":' + huge) + b"}", ORIGIN)
    assert isinstance(letter, DeadLetter) and letter.reason == "invalid"
    assert letter.error.startswith("field 'ts' is out of range, got a number past 1.8e308")
    event = decode_event(LEAVE + b',"note":-' + huge + b"}", ORIGIN)  # a field not read
    assert isinstance(event, Event) and event.user_id == "u"
