"""Input messages keyed other than by their room_id (found by a red team: a round-robin
producer changed the pushes without a word) are applied, counted in the summary, and named in
one warning that tells the producer to key by room_id."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import orjson
import pytest

from tests.integration.harness import LATENESS_MS, Job, TopicReader, Topics, produce, values
from tests.integration.harness import roomrank_run as run_args
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def test_events_not_keyed_by_room_are_counted_and_said_once(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    records = world.slice(0, 0.1)
    # every third with no key, every third keyed by its viewer; one partition, so the order
    # holds and the count is exact
    rekeyed = [(None if n % 3 == 1 else orjson.loads(value).get("user_id", "x").encode()
                if n % 3 == 2 else key, value) for n, (key, value) in enumerate(records)]
    off = sum(1 for n in range(len(records)) if n % 3)
    last = max(orjson.loads(value)["ts"] for _key, value in records)
    sentinel = [  # a room of its own, keyed right: its push says everything before was read
        {"event_id": "s-1", "type": "enter", "ts": last, "room_id": "r-end", "user_id": "u-end"},
        {"event_id": "s-2", "type": "showcase", "ts": last + 1, "room_id": "r-end",
         "spotlight": None, "items": [{"item_id": "i", "price": 1.0, "category": "c"}]},
        {"event_id": "s-3", "type": "heartbeat", "ts": last + LATENESS_MS + 2, "room_id": "r-end",
         "user_id": "u-end", "watch_ms": 0},
    ]
    topics = Topics.unique(kafka_tools, "offkey")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, 1)
    produce(kafka_bootstrap, topics.input,
            [*rekeyed, *((b"r-end", orjson.dumps(e)) for e in sentinel)])
    job = spawn("offkey", run_args(kafka_bootstrap, topics))
    with TopicReader(kafka_bootstrap, topics.output, [job]) as reader:
        reader.wait_until(
            lambda rs: any(p["trigger_id"] == "s-2" for p in values(rs)), "the sentinel's push",
            120)
    assert job.terminate() == 0, job.tail()
    log = job.log.read_text(errors="replace")
    assert log.count("Key each message by its room_id") == 1, job.tail()
    assert f"Kafka input {topics.input}[0] offset 1: event" in log  # the first one, by name
    assert "came with no key" in log
    assert f", {off:,} events not keyed by room_id in " in log, job.tail(3)
