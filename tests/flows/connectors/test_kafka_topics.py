"""``ensure_topics`` against an address where no broker listens: the operator's mistake is one
line (``ValueError``: exit 2), not librdkafka's traceback. A real client and a real closed
port, no broker needed; creating topics on a real broker is in tests/integration."""

from __future__ import annotations

import socket

import pytest

from flows.connectors.kafka_topics import ensure_topics


def test_an_unreachable_broker_is_one_line_naming_the_address() -> None:
    # found by a red team: `roomrank run --brokers localhost:1` ended in a KafkaException
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
        with pytest.raises(ValueError, match=rf"could not reach Kafka at '{address}' in 2 s"):
            ensure_topics(address, {"live.room-events": 1}, timeout=2.0)


def test_bench_refuses_an_unreachable_broker_before_measuring(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # found by a red team: `roomrank bench --brokers nohost:1` measured for minutes while
    # librdkafka printed resolve errors, and only then reported the Kafka section failed
    import flows.bench.run
    import flows.cli

    def measured(**_: object) -> int:
        raise AssertionError("bench measured with no broker to measure")

    monkeypatch.setattr(flows.cli, "BENCH_BROKER_PROBE_S", 2.0)
    monkeypatch.setattr(flows.bench.run, "run_bench", measured)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
        assert flows.cli.main(["bench", "--quick", "--brokers", address]) == 2
    assert f"roomrank bench: error: could not reach Kafka at '{address}' in 2 s" in (
        capsys.readouterr().err
    )
