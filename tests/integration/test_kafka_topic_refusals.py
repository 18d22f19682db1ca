"""Topics the broker would refuse: one line and exit 2, and no topic created before the
refusal (the runbook: a refused setting touches nothing). A real broker decides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).resolve().parents[2]


def test_a_partition_count_the_broker_refuses_is_one_line_and_creates_nothing(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace
) -> None:
    # found by a red team: `--partitions 50000` ended in a KafkaException traceback after
    # the topics before the refused one were created
    names = [kafka_tools.unique_topic(role) for role in ("in", "out", "dl", "exp")]
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--brokers", kafka_bootstrap,
         "--input-topic", names[0], "--output-topic", names[1], "--dead-letter-topic",
         names[2], "--experiment-topic", names[3], "--partitions", "50000"],
        cwd=ROOT, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    assert f"run: error: Kafka at '{kafka_bootstrap}' refused to create topic" in stderr
    existing = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30).topics
    assert not set(names) & set(existing)
