"""Fixtures and helpers for tests against a real Kafka broker.

Broker: `KAFKA_BOOTSTRAP_SERVERS` if set, else a private single-node Apache Kafka started with
`deploy/kafka/local-kafka` (state under the session's tmp dir) and stopped at session end.

Fixtures:
  kafka_bootstrap  session: "host:port"
  kafka_broker     per test: `.bootstrap`, `.stop()`, `.start()`, `.restart()` for fault tests;
                   a test that stopped the broker gets it started again afterwards. With
                   KAFKA_BOOTSTRAP_SERVERS set, `.stop()`/`.start()` fail the test.
  kafka_tools      the helper functions below, for test modules (no import of conftest needed)
  spawn            per test: starts job processes, SIGKILLs those still running at the end
                   (defined with the job harness, `tests/integration/harness.py`)
  world, reference session: the job tests' world as Kafka records, and one uninterrupted
                   `roomrank run` over it that they compare to (`tests/integration/world.py`)

Helpers (plain functions): create_topic, unique_topic, produce_all, consume_all
(`kafka_clients.py`), kcat_consume, kcat_env (`kcat.py`). The broker is `local_kafka.py`'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.integration.harness import spawn  # noqa: F401  (a fixture, for every test module)
from tests.integration.kafka_clients import (
    Record,
    consume_all,
    create_topic,
    produce_all,
    unique_topic,
)
from tests.integration.kcat import kcat_consume, kcat_env
from tests.integration.local_kafka import KafkaBroker
from tests.integration.world import reference, world  # noqa: F401  (fixtures, as spawn)


@pytest.fixture(scope="session")
def _kafka_session_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KafkaBroker]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield KafkaBroker(external, None)
        return
    broker = KafkaBroker("", tmp_path_factory.mktemp("kafka-state"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka_session_broker: KafkaBroker) -> str:
    return _kafka_session_broker.bootstrap


@pytest.fixture
def kafka_broker(_kafka_session_broker: KafkaBroker) -> Iterator[KafkaBroker]:
    broker = _kafka_session_broker
    yield broker
    # A fault test that failed between stop() and start() must not take the broker away from
    # the tests after it.
    if broker.managed and not broker.running:
        broker.start()


@pytest.fixture(scope="session")
def kafka_tools() -> SimpleNamespace:
    """The helper functions, for test modules that should not import conftest."""
    return SimpleNamespace(
        create_topic=create_topic,
        unique_topic=unique_topic,
        produce_all=produce_all,
        consume_all=consume_all,
        kcat_consume=kcat_consume,
        kcat_env=kcat_env,
        Record=Record,
    )
