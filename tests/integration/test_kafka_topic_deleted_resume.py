"""The dead-letter topic deleted mid-run (the broker does not create topics on write) ends
the job in one line, exit 2, not a traceback (found by a red team), before the epoch holding
the refused dead letter is snapshotted: the next run with the same recovery store creates the
topic again and writes that dead letter there (nothing acknowledged that was not written)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.harness import (
    DEADLINE,
    Job,
    TopicReader,
    produce,
    pushing_job,
    roomrank_run,
)
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def test_a_dead_letter_refused_by_a_deleted_topic_is_written_by_the_next_run(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    store = ["--recovery-dir", str(tmp_path / "recovery"), "--snapshot-secs", "1"]
    topics, job = pushing_job(kafka_bootstrap, kafka_tools, spawn, "deleted-resume",
                              world.slice(0, 0.3), *store)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.delete_topics([topics.dead])[topics.dead].result(60)
    [(partition, offset)] = produce(kafka_bootstrap, topics.input, [(b"r-x", b"not json")])
    assert job.proc.wait(DEADLINE) == 2, job.tail()  # a traceback and exit 1 before
    said = job.tail()
    assert f"roomrank run: error: Kafka refused messages for topic '{topics.dead}'" in said
    assert "Traceback" not in said

    again = spawn("deleted-resume-2", roomrank_run(kafka_bootstrap, topics, *store))
    with TopicReader(kafka_bootstrap, topics.dead, [again]) as reader:
        records = reader.wait_until(lambda rs: len(rs) > 0, "the refused dead letter", DEADLINE)
    letters = [orjson.loads(r.value) for r in records]
    assert [(d["partition"], d["offset"]) for d in letters] == [(partition, offset)]
    assert letters[0]["raw"] == "not json"
    assert again.terminate() == 0, again.tail()
