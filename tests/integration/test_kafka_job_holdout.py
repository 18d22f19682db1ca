"""Holdout ghosts go to the experiment topic, never to the recommendations."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.harness import (
    DEADLINE,
    JOB_START,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    has_all,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    served,
    values,
    wait_for,
)
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def test_holdout_ghosts_go_to_the_experiment_topic_never_to_the_recommendations(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    from models.arms import Arms

    arms = "attention=0.7,holdout=0.3"
    split = Arms.parse(arms)
    topics = Topics.unique(kafka_tools, "ghosts")
    experiment_topic = topics.experiment
    job = spawn("ghosts", roomrank_run(kafka_bootstrap, topics, "--arms", arms))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    wait_for(lambda: served(admin, topics.input, PARTITIONS), f"the job to create {topics.input}",
             JOB_START, [job])
    produce(kafka_bootstrap, topics.input, world.records)
    holdout = {p for p in world.expected if split.assign(p[1], "roomrank-v1") == "holdout"}
    assert holdout and holdout != world.expected
    pushed = run_to_completion(kafka_bootstrap, topics, job, world.expected - holdout)
    assert pairs(values(pushed)) == world.expected - holdout
    with TopicReader(kafka_bootstrap, experiment_topic, [job]) as reader:
        reader.wait_until(has_all(holdout), f"all {len(holdout)} ghost pushes", DEADLINE)
        ghosts = values(reader.read_to_end())
    assert pairs(ghosts) == holdout
    assert {g["kind"] for g in ghosts} == {"ghost_push"}
    assert {g["arm"] for g in ghosts} == {"holdout"}
