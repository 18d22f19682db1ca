"""Bad messages become dead letters at their topic, partition and offset; the job goes on."""

from __future__ import annotations

import base64
from collections.abc import Callable
from types import SimpleNamespace

import jsonschema
import orjson
import pytest

from features.contract.schemas import load as load_schema
from tests.integration.harness import (
    DEADLINE,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    values,
)
from tests.integration.world import world_input

pytestmark = pytest.mark.integration


def test_bad_messages_become_dead_letters_and_the_job_goes_on(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, spawn: Callable[..., Job]
) -> None:
    small = world_input(seed=5, rooms=2, viewers=40, minutes=3)
    limit = 16_384
    assert max(len(v) for _k, v in small.records) < limit
    room = small.events[0]["room_id"].encode()
    ts = small.events[len(small.events) // 2]["ts"]
    padded = orjson.dumps(
        {"event_id": "too-big", "type": "comment", "ts": ts, "room_id": room.decode(),
         "user_id": "u-x", "text": "x" * (limit + 100)}
    )  # fmt: skip
    # (value, words the dead letter's error must contain, raw cut to fit one Kafka message)
    bad: list[tuple[bytes, str, bool]] = [
        (b'{"event_id": "cut-off", "type": "enter", ', "not valid UTF-8 JSON", False),
        (b"\xff\xfe\x00 binary \x81", "not valid UTF-8 JSON", False),
        (b"[1, 2, 3]", "message must be a JSON object, got an array", False),
        (
            orjson.dumps(
                {
                    "event_id": "bad-ts",
                    "type": "purchase",
                    "ts": "yesterday",
                    "room_id": room.decode(),
                    "user_id": "u-1",
                    "item_id": "i-1",
                    "amount": 3,
                }
            ),
            "field 'ts' must be an integer, got 'yesterday'",
            False,
        ),
        (
            orjson.dumps(
                {"event_id": "no-user", "type": "enter", "ts": ts, "room_id": room.decode()}
            ),
            "missing required field 'user_id' for type 'enter'",
            False,
        ),
        (padded, f"the job accepts at most {limit} bytes (--max-message-bytes)", False),
        # 950 kB of quotes: its dead letter (JSON-escaped raw) would be 1.9 MB, more than one
        # Kafka message holds; the job used to crash on it (and crash-loop on restart).
        (b'"' * 950_000, f"message is 950000 bytes; the job accepts at most {limit}", True),
    ]
    # Spread the bad messages through the stream, in the first room's partition.
    records = list(small.records)
    spots = [(n + 1) * len(records) // (len(bad) + 1) for n in range(len(bad))]
    for n in reversed(range(len(bad))):
        records.insert(spots[n], (room, bad[n][0]))
    at = {spots[n] + n: n for n in range(len(bad))}  # index in records -> bad message
    assert all(records[i][1] == bad[n][0] for i, n in at.items())

    topics = Topics.unique(kafka_tools, "dead")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    positions = produce(kafka_bootstrap, topics.input, records)
    job = spawn("dead", roomrank_run(kafka_bootstrap, topics, "--max-message-bytes", str(limit)))

    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) >= len(bad), f"{len(bad)} dead letters", DEADLINE)
    pushes = values(run_to_completion(kafka_bootstrap, topics, job, small.expected))
    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        letters = reader.read_to_end()

    # The good events around the bad ones still make exactly their pushes.
    assert pairs(pushes) == small.expected
    assert len(pushes) == len(small.expected)
    # One dead letter per bad message, at its topic, partition and offset.
    validator = jsonschema.Draft202012Validator(load_schema("dead-letter"))
    by_origin = {}
    for record in letters:
        letter = orjson.loads(record.value)
        validator.validate(letter)
        assert record.key == f"{letter['topic']}:{letter['partition']}:{letter['offset']}".encode()
        by_origin[(letter["partition"], letter["offset"])] = letter
    assert len(letters) == len(by_origin) == len(bad)
    for index, n in at.items():
        value, words, cut = bad[n]
        partition, offset = positions[index]
        letter = by_origin.get((partition, offset))
        assert letter is not None, f"no dead letter for bad message {n} at {partition}:{offset}"
        assert letter["topic"] == topics.input
        assert words in letter["error"], letter["error"]
        try:
            raw = value.decode()
        except UnicodeDecodeError:
            raw = base64.b64encode(value).decode()
        if cut:
            assert len(orjson.dumps(letter)) < 1_000_000
            assert "raw cut to its first" in letter["error"]
            assert 0 < len(letter["raw"]) < len(raw) and raw.startswith(letter["raw"])
        else:
            assert letter["raw"] == raw
