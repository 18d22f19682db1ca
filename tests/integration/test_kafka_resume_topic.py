"""A store resumed with another input topic, or with its topic made anew, would skip as many
messages as it read of the old one (its offsets are per partition, not per topic): refused in
one line, exit 2, as file mode refuses another --input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from tests.integration.harness import (
    PARTITIONS,
    Job,
    Topics,
    pushing_job,
    roomrank_run,
    wait_for,
)
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def _refused(job: Job) -> str:
    assert job.proc.wait(120) == 2, job.tail()
    return job.tail()


def test_a_resume_with_another_topic_or_the_topic_made_anew_is_refused(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    # found by a red team: the second run read topic B from topic A's offsets (305 messages
    # skipped, the rest `closed` dead letters), exit 0 and no warning; the same when A was
    # deleted and made again while the job was stopped
    recovery = tmp_path / "recovery"
    topics, first = pushing_job(kafka_bootstrap, kafka_tools, spawn, "resume-topic",
                                world.slice(0, 0.5), "--recovery-dir", str(recovery))
    argv = roomrank_run(kafka_bootstrap, topics, "--recovery-dir", str(recovery))
    assert first.terminate() == 0, first.tail()

    # other shares on the same topic: accepted (a new split may be meant), and said once at
    # start with the share of viewers that change arm (0.9/0.1 to 0.5/0.5: 40 %)
    reshared = spawn("reshared", [*argv, "--arms", "attention=0.5,control=0.5"])
    said = "--arms shares attention=0.9,control=0.1 (this run: attention=0.5,control=0.5): 40.0 %"
    wait_for(lambda: said in reshared.log.read_text(errors="replace"), "the split warning", 120,
             [reshared])
    assert reshared.terminate() == 0, reshared.tail()
    assert ("resumed with other --arms shares: 40.0 % of viewers hashed to another arm"
            in reshared.tail())

    other = Topics.unique(kafka_tools, "resume-other")
    moved = roomrank_run(kafka_bootstrap, other, "--recovery-dir", str(recovery))
    said = _refused(spawn("other-topic", moved))
    assert f"was written reading topic '{topics.input}'; this run reads '{other.input}'" in said
    assert "Traceback" not in said
    made = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30).topics
    assert not {other.input, other.output, other.dead, other.experiment} & set(made)  # none made

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.delete_topics([topics.input])[topics.input].result(60)
    deadline = time.monotonic() + 60
    while True:  # the broker takes a moment to forget the deleted topic
        try:
            kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS, timeout=60)
            break
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or (
                    time.monotonic() > deadline):
                raise
    said = _refused(spawn("made-anew", argv))
    assert f"topic '{topics.input}' was deleted and made again since --recovery-dir" in said
