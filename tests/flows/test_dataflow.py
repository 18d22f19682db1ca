"""The whole dataflow under bytewax.testing: coverage, contract validity, determinism."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import jsonschema
import orjson
import pytest

from features.contract.schemas import load
from flows.settings import Settings
from tests.flows.helpers import expected_audiences, run_lines, stable, world_lines


@pytest.fixture(scope="module")
def world() -> list[bytes]:
    return world_lines()


@pytest.fixture(scope="module")
def outputs(world: list[bytes]) -> tuple[list[dict], list[dict]]:
    return run_lines(world)

ENTER = b'{"event_id":"e1","type":"enter","ts":1,"room_id":"r","user_id":"u"}'


def test_every_present_viewer_is_pushed_at_every_trigger(world, outputs) -> None:
    pushes, letters = outputs
    events = [orjson.loads(line) for line in world]
    expected = expected_audiences(events)
    got: dict[str, set[str]] = defaultdict(set)
    for push in pushes:
        got[push["trigger_id"]].add(push["user_id"])
    assert letters == []
    assert len(expected) > 50
    assert sum(len(users) for users in expected.values()) > 500
    assert dict(got) == {t: users for t, users in expected.items() if users}


def test_pushes_follow_the_contract(world, outputs) -> None:
    pushes, _ = outputs
    showcases = {e["event_id"]: e for e in map(orjson.loads, world) if e["type"] == "showcase"}
    current: dict[str, dict] = {}
    for event in sorted(showcases.values(), key=lambda e: e["ts"]):
        current.setdefault(event["room_id"], event)
    validator = jsonschema.Draft202012Validator(load("recommendation"))
    rec_ids = set()
    for push in pushes:
        validator.validate(push)
        rec_ids.add(push["rec_id"])
        assert [it["rank"] for it in push["items"]] == list(range(1, len(push["items"]) + 1))
        scores = [it["score"] for it in push["items"]]
        assert push["arm"] == "control" or scores == sorted(scores, reverse=True)
        if push["trigger"] == "showcase":
            on_show = {it["item_id"] for it in showcases[push["trigger_id"]]["items"]}
            assert {it["item_id"] for it in push["items"]} <= on_show
            assert len(push["items"]) == min(3, len(on_show))
    assert len(rec_ids) == len(pushes)
    assert {p["arm"] for p in pushes} == {"attention", "control"}


def test_two_runs_give_identical_pushes(world, outputs) -> None:
    again, _ = run_lines(world)
    assert stable(again) == stable(outputs[0])


def test_arm_flag_sends_everyone_to_one_arm(world) -> None:
    pushes, _ = run_lines(world[:3000], Settings.load({"arms": "attention=1"}, env={}))
    assert pushes and {p["arm"] for p in pushes} == {"attention"}


def test_bad_lines_become_dead_letters_and_the_stream_goes_on(world) -> None:
    bad = [
        b"{not json",
        b'{"event_id":"x","type":"teleport","ts":1,"room_id":"r"}',
        b'{"event_id":"y","type":"enter","ts":1,"room_id":"r"}',
        b"\xff\xfe",
    ]
    lines = bad[:2] + world[:2000] + bad[2:]
    pushes, letters = run_lines(lines)
    clean, _ = run_lines(world[:2000])
    assert stable(pushes) == stable(clean)
    schema = load("dead-letter")
    for letter in letters:
        jsonschema.validate(letter, schema)
    assert [(d["offset"], d["topic"], d["partition"]) for d in letters] == [
        (1, "test", 0),
        (2, "test", 0),
        (2003, "test", 0),
        (2004, "test", 0),
    ]
    errors = [d["error"] for d in letters]
    assert "not valid UTF-8 JSON" in errors[0]
    assert "unknown type 'teleport'" in errors[1]
    assert "missing required field 'user_id'" in errors[2]
    assert letters[3]["raw"] == "//4="  # base64 of the non-UTF-8 bytes


def test_a_bom_costs_nothing_and_form_feed_lines_are_dead_letters(tmp_path: Path) -> None:
    """A UTF-8 BOM at the start of a file is dropped (the first event is applied); a line of
    vertical tabs or form feeds is not blank JSON: it becomes a dead letter, not silence."""
    from flows.connectors.files import JsonlSource

    enter = b'{"event_id":"e1","type":"enter","ts":1,"room_id":"r","user_id":"u"}'
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + enter + b"\n\x0b\x0c\n \t\r\n")
    part = JsonlSource(str(path)).build_part("s", str(path), None)
    records = part.next_batch()
    assert [(origin.offset, body) for origin, body, _ in records] == [(1, enter), (2, b"\x0b\x0c")]


def _pipe_partition(data: bytes, max_bytes: int, resume: int | None = None) -> list[bytes]:
    """Every line body a pipe partition yields for ``data`` written by another thread."""
    import os
    import threading

    from flows.connectors.files import _LinePartition

    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    part = _LinePartition(os.fdopen(read_fd, "rb"), "stdin", 10, resume, max_bytes)
    bodies: list[bytes] = []
    try:
        while True:
            bodies.extend(body for _, body, _ in part.next_batch())
            assert len(part._partial) <= max_bytes + 5  # bounded by construction
    except StopIteration:
        pass
    writer.join()
    part.close()
    return bodies


def _bodies(tmp_path: Path, mode: str, data: bytes, limit: int) -> list[bytes]:
    """What a file partition, or a pipe partition, yields for ``data``."""
    from flows.connectors.files import JsonlSource

    if mode == "pipe":
        return _pipe_partition(data, limit)
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    part = JsonlSource(str(path), 10, limit).build_part("s", str(path), None)
    return [body for _, body, _ in part.next_batch()]


def test_a_resumed_pipe_skips_the_lines_its_store_read() -> None:
    """Red team 11: a resume on ``--input -`` re-read stdin from line 1 (the store's count
    was dropped for stdin), though the run's warning says the first lines are skipped."""
    lines = [b'{"n":%d}' % n for n in range(1, 8)]
    data = b"\n".join(lines) + b"\n"
    assert _pipe_partition(data, 1_024, resume=3) == lines[3:]
    assert _pipe_partition(data, 1_024, resume=None) == lines


@pytest.mark.parametrize("mode", ["file", "pipe"])
def test_a_huge_line_is_cut_skipped_and_one_dead_letter(tmp_path: Path, mode: str) -> None:
    """A line of 3 MB over a 1 KB limit: the reader keeps at most limit + 5 bytes of it
    (the file reader reads it in bounded readline calls), skips to its newline counting its
    bytes, and the decoder makes one too_large dead letter with the line's own size; the next
    line is read normally."""
    from features.contract.decoding import decode_event
    from features.contract.events import DeadLetter, Event, Origin

    limit = 1_024
    enter = b'{"event_id":"e1","type":"enter","ts":1,"room_id":"r","user_id":"u"}'
    data = enter + b"\n" + b"x" * 3_000_000 + b"\n" + enter.replace(b"e1", b"e2") + b"\n"
    bodies = _bodies(tmp_path, mode, data, limit)
    assert len(bodies) == 3 and len(bodies[1]) == limit + 1
    results = [decode_event(b, Origin("f", 0, n), limit) for n, b in enumerate(bodies, 1)]
    assert [type(r) for r in results] == [Event, DeadLetter, Event]
    assert isinstance(results[1], DeadLetter) and results[1].reason == "too_large"
    # the line's size, not where the reader stopped keeping it
    assert results[1].error == (
        "message is 3000000 bytes; the job accepts at most 1024 bytes (--max-message-bytes);"
        " raw holds its first 1025 bytes"
    )


@pytest.mark.parametrize("mode", ["file", "pipe"])
@pytest.mark.parametrize("spaces", [b" " * 300_000, b" \t" * 200_000 + b"\r"])
def test_a_blank_line_past_the_limit_is_skipped_like_any_blank_line(
    tmp_path: Path, mode: str, spaces: bytes
) -> None:
    """Found by a red team: 300,000 spaces were a too_large dead letter, though the contract
    skips blank lines; the line after it keeps its number."""
    from flows.connectors.files import JsonlSource

    enter = b'{"event_id":"e1","type":"enter","ts":1,"room_id":"r","user_id":"u"}'
    data = enter + b"\n" + spaces + b"\n" + enter + b"\n" + spaces
    if mode == "pipe":
        assert _pipe_partition(data, 1_024) == [enter, enter]
    else:
        path = tmp_path / "in.jsonl"
        path.write_bytes(data)
        part = JsonlSource(str(path), 10, 1_024).build_part("s", str(path), None)
        assert [(o.offset, body) for o, body, _ in part.next_batch()] == [(1, enter), (3, enter)]


@pytest.mark.parametrize("mode", ["file", "pipe"])
@pytest.mark.parametrize(("line", "body", "size"), [
    (b"x" * 3_000_000 + b"\r\n", b"x" * 1_025, 3_000_000),  # a CRLF file: the ending is no byte
    (b"x" * 5_000, b"x" * 1_025, 5_000),  # the last line, without a newline
    (b" " * 3_000 + b"{}\n", b" " * 1_025, 3_002),  # blank as far as kept: not skipped unseen
    (b"\xef\xbb\xbf" + b"x" * 1_030 + b"\n", b"x" * 1_025, 1_030),  # the input's BOM is no byte
    (b"\xef\xbb\xbf" + b"x" * 1_024 + b"\r\r\r\n", b"x" * 1_024, None),  # fits after all: whole
])
def test_a_long_first_line_is_sized_as_its_body(
    tmp_path: Path, mode: str, line: bytes, body: bytes, size: int | None
) -> None:
    """What the reader keeps of a line past the limit, and the size it gives it: the body's,
    as a line within the limit is measured (no BOM, no line ending), however the line is read."""
    from features.contract.events import CutMessage

    [got] = _bodies(tmp_path, mode, line, 1_024)
    assert got == body
    assert (got.size if isinstance(got, CutMessage) else None) == size


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\r".join([ENTER] * 40) + b"\r", "carriage returns"),  # old-Mac line endings
        ("\n".join([ENTER.decode()] * 3).encode("utf-16"), "look like UTF-16"),  # with a BOM
        ("\n".join([ENTER.decode()] * 3).encode("utf-16-be"), "look like UTF-16"),
    ],
)
def test_a_file_written_wrongly_says_how_in_every_letter(
    tmp_path: Path, data: bytes, words: str
) -> None:
    """A file of the right events in the wrong framing or encoding: every line it makes is a
    dead letter that names the file's fault, not a JSON parser's complaint about one byte."""
    from features.contract.decoding import decode_event
    from features.contract.events import DeadLetter, Origin
    from flows.connectors.files import JsonlSource

    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    part = JsonlSource(str(path), 100, 1_024).build_part("s", str(path), None)
    bodies = [body for _, body, _ in part.next_batch()]
    letters = [decode_event(b, Origin("f", 0, n), 1_024) for n, b in enumerate(bodies, 1)]
    assert letters and all(isinstance(x, DeadLetter) for x in letters)
    assert all(words in x.error for x in letters if isinstance(x, DeadLetter)), letters
