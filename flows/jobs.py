"""The job's flows for each mode, and how each is started in this process.

``prepare`` does the process-wide set-up once (logging, one BLAS thread, the metrics
server); the ``*_flow`` functions only wire sources and sinks around ``build_flow``.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from flows import lifecycle
from flows.connectors.files import JsonlSink, JsonlSource
from flows.connectors.kafka import (
    KafkaDeadLetterSink,
    KafkaEventSource,
    KafkaMessagesSink,
    ensure_topics,
)
from flows.connectors.simulated import PacedSource, TerminalSink
from flows.dataflow import build_flow
from flows.metrics import KAFKA_LAG, Recorder, serve
from flows.settings import Settings

log = logging.getLogger("roomrank")

DEMO_CHUNK_MINUTES = 10.0
_prepared = False


def prepare(settings: Settings) -> None:
    """Process-wide set-up, once: logs, BLAS threads, metrics endpoint, SIGTERM."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # A room's ranking is a few small matrix products: one BLAS thread, never oversubscribe
    # the cores the Bytewax workers use.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if settings.metrics_port:
        serve(settings.metrics_port)
    lifecycle.install()


def file_flow(settings: Settings, input_path: str, output: str, dead_letters: str) -> Dataflow:
    return build_flow(
        settings,
        JsonlSource(input_path, settings.batch_size),
        JsonlSink(output),
        JsonlSink(dead_letters),
        Recorder(),
    )


def kafka_flow(settings: Settings) -> Dataflow:
    brokers = settings.brokers
    ensure_topics(
        brokers,
        {
            settings.input_topic: settings.partitions,
            settings.output_topic: settings.partitions,
            settings.dead_letter_topic: settings.partitions,
        },
    )
    source = KafkaEventSource(
        brokers,
        settings.input_topic,
        settings.batch_size,
        on_lag=lambda t, p, lag: KAFKA_LAG.labels(t, str(p)).set(lag),
    )
    return build_flow(
        settings,
        source,
        KafkaMessagesSink(brokers, settings.output_topic),
        KafkaDeadLetterSink(brokers, settings.dead_letter_topic),
        Recorder(),
    )


def _recovery(settings: Settings) -> RecoveryConfig | None:
    if not settings.recovery_dir:
        return None
    path = Path(settings.recovery_dir)
    if not path.exists() or not any(path.iterdir()):
        path.mkdir(parents=True, exist_ok=True)
        init_db_dir(path, 1)
        log.info("created 1 recovery partition in %s", path)
    return RecoveryConfig(path, timedelta(seconds=settings.backup_secs))


def execute(flow: Dataflow, settings: Settings, workers: int = 1) -> int:
    from flows.summary import RunSummary

    summary = RunSummary()
    try:
        cli_main(
            flow,
            workers_per_process=workers,
            epoch_interval=timedelta(seconds=settings.snapshot_secs),
            recovery_config=_recovery(settings),
        )
    except KeyboardInterrupt:
        log.info("stopped")
    except BytewaxRuntimeError as err:
        # Ctrl-C comes back from the running dataflow as "signal received" chained from
        # KeyboardInterrupt: a stop, not a failure. (SIGTERM ends the input instead.)
        if not isinstance(err.__cause__, KeyboardInterrupt):
            raise
        log.info("stopped")
    print(summary.line(), file=sys.stderr)
    return 0


def _truncate(path: str) -> None:
    if path != "-":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"")


def run_files(
    settings: Settings, input_path: str, output: str, dead_letters: str, workers: int = 1
) -> int:
    if workers <= 0:
        raise ValueError("--workers must be > 0")
    for path in {output, dead_letters}:
        _truncate(path)
    prepare(settings)
    log.info("file mode: %s -> %s (dead letters: %s)", input_path, output, dead_letters)
    return execute(file_flow(settings, input_path, output, dead_letters), settings, workers)


def run_kafka(settings: Settings) -> int:
    prepare(settings)
    log.info(
        "Kafka mode: %s %s -> %s (dead letters: %s)",
        settings.brokers,
        settings.input_topic,
        settings.output_topic,
        settings.dead_letter_topic,
    )
    return execute(kafka_flow(settings), settings)


def _endless_world(seed: int, rooms: int, viewers: int) -> Iterator[dict[str, Any]]:
    from models.sim.world import DEFAULT_START_MS, iter_world

    for n in itertools.count():
        start = DEFAULT_START_MS + int(n * DEMO_CHUNK_MINUTES * 60_000)
        yield from iter_world(seed + n, rooms, viewers, DEMO_CHUNK_MINUTES, start)


def run_demo(
    settings: Settings, seed: int, rooms: int, viewers: int, minutes: float, speed: float
) -> int:
    from models.sim.world import iter_world

    prepare(settings)
    events = (
        iter_world(seed, rooms, viewers, minutes)
        if minutes > 0
        else _endless_world(seed, rooms, viewers)
    )
    print(
        f"roomrank demo: {rooms} rooms, {viewers} viewers, {speed:g} simulated s per second;"
        " Ctrl-C to stop",
        file=sys.stderr,
    )
    flow = build_flow(
        settings, PacedSource(events, speed), TerminalSink(), JsonlSink("/dev/stderr"), Recorder()
    )
    return execute(flow, settings)
