"""An uninterrupted ``roomrank run`` pushes exactly the expected audiences, and kcat reads them."""

from __future__ import annotations

from types import SimpleNamespace

import jsonschema
import orjson
import pytest

from features.contract.schemas import load as load_schema
from tests.flows.helpers import run_lines, stable
from tests.integration.harness import pairs, values
from tests.integration.world import Reference, WorldInput

pytestmark = pytest.mark.integration


def test_pushes_exactly_the_expected_audiences(world: WorldInput, reference: Reference) -> None:
    pushes = reference.pushes
    validator = jsonschema.Draft202012Validator(load_schema("recommendation"))

    assert pairs(pushes) == world.expected
    assert len(pushes) == len(world.expected), "an uninterrupted run pushes each once"
    for record, push in zip(reference.records, pushes, strict=True):
        assert record.key == push["user_id"].encode()
        validator.validate(push)
    assert reference.dead == [], values(reference.dead)[:3]
    # Kafka mode pushes exactly what the embedded file mode pushes for the same events
    # (file mode flushes every room at end of input, so it needs no end-of-input markers).
    file_pushes, file_dead = run_lines([orjson.dumps(e) for e in world.events])
    assert file_dead == []
    assert stable(pushes) == stable(file_pushes)


def test_kcat_reads_the_pushes(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, reference: Reference
) -> None:
    """An independent client (Debian's kcat, its own librdkafka) reads what `roomrank run`
    pushed for events another client produced: the issue's manual path, automated."""
    count = len(reference.records)
    got = kafka_tools.kcat_consume(kafka_bootstrap, reference.topics.output, count, 60.0)

    assert len(got) == count
    seen = {(key, orjson.loads(value)["rec_id"]) for key, value in got}
    for key, value in got:
        assert key == orjson.loads(value)["user_id"].encode()
    assert seen == {(r.key, orjson.loads(r.value)["rec_id"]) for r in reference.records}
