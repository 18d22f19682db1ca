"""The job's flows for each mode, and how each is started in this process.

``prepare`` does the process-wide set-up once (logging, one BLAS thread, the metrics
server); the ``*_flow`` functions only wire sources and sinks around ``build_flow``.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from features.state.codec import SnapshotError
from flows import lifecycle
from flows.connectors.files import JsonlSink, JsonlSource
from flows.connectors.kafka import (
    KafkaDeadLetterSink,
    KafkaEventSource,
    KafkaMessagesSink,
)
from flows.connectors.kafka_topics import ensure_topics
from flows.connectors.simulated import PacedSource, ShowcaseTap, TerminalSink
from flows.connectors.stable_input import StableInput
from flows.dataflow import build_flow
from flows.metrics import KAFKA_LAG, Recorder, serve
from flows.preflight import check_bytewax_api, check_file_mode, check_port, truncate
from flows.recovery_store import (
    PARTITIONS,
    check_recovery_dir,
    check_resumed_input,
    check_topic_name,
    claim_store,
    note_input,
    note_or_check_topic,
    resuming,
    topic_id,
)
from flows.resume_split import summary_note, warn_changed_split
from flows.settings import Settings
from models.arms import SplitChange

log = logging.getLogger("roomrank")

DEMO_CHUNK_MINUTES = 10.0
DEMO_CLOSED_LOOP_MINUTES = 60.0  # one world's audience: the closed loop cannot run endless
DEMO_HOLD_MS = 30_000  # event time the demo screen waits to print pushes in time order: rooms
# release theirs when their own clock passes the lateness, which may be seconds apart
_prepared = False
MAX_WORKERS = 64  # threads of one process: past the cores they only cost memory and switches



def prepare(settings: Settings) -> None:
    """Process-wide set-up, once: logs, BLAS threads, metrics endpoint, SIGTERM/SIGINT.

    A metrics port that cannot be served is a ``ValueError`` (one line, exit 2).
    """
    global _prepared
    if _prepared:
        return
    check_port(settings.metrics_port, settings.named("metrics_port"))
    check_bytewax_api(settings.metrics_port)
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
        try:
            serve(settings.metrics_port)
        except OSError as err:
            raise ValueError(
                f"{settings.named('metrics_port')} {settings.metrics_port}: {err.strerror}"
            ) from None
    lifecycle.install()
    if settings.choice_weights:  # which weights new rooms start from, said once
        log.info("new rooms start from the choice weights in %s (%s)", settings.choice_weights,
                 settings.named("choice_weights"))


def file_flow(
    settings: Settings,
    input_path: str,
    output: str,
    dead_letters: str,
    experiment_log: str | None = None,
) -> Dataflow:
    return build_flow(
        settings,
        StableInput(JsonlSource(input_path, settings.batch_size, settings.max_message_bytes)),
        JsonlSink(output, "--output"),
        JsonlSink(dead_letters, "--dead-letters"),
        Recorder(),
        JsonlSink(experiment_log, "--experiment-log") if experiment_log else None,
    )


def kafka_flow(settings: Settings) -> Dataflow:
    brokers = settings.brokers
    ensure_topics(
        brokers,
        {
            settings.input_topic: settings.partitions,
            settings.output_topic: settings.partitions,
            settings.dead_letter_topic: settings.partitions,
            settings.experiment_topic: settings.partitions,
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
        KafkaMessagesSink(brokers, settings.experiment_topic),
    )


def _recovery(settings: Settings) -> RecoveryConfig | None:
    if not settings.recovery_dir:
        return None
    path = Path(settings.recovery_dir)
    if not any(path.glob(PARTITIONS)):
        path.mkdir(parents=True, exist_ok=True)
        init_db_dir(path, 1)
        log.info("created 1 recovery partition in %s", path)
    return RecoveryConfig(path, timedelta(seconds=settings.backup_secs))


def execute(flow: Dataflow, settings: Settings, workers: int = 1,
            split: SplitChange | None = None) -> int:
    from flows.summary import RunSummary

    summary = RunSummary()
    try:
        cli_main(
            flow,
            workers_per_process=workers,
            epoch_interval=timedelta(seconds=settings.snapshot_secs),
            recovery_config=_recovery(settings),
        )
    except KeyboardInterrupt:  # a Ctrl-C before the handler was installed
        log.info("stopped")
        return lifecycle.EXIT_INTERRUPTED
    except RuntimeError as err:  # BytewaxRuntimeError, or an engine panic as a plain one
        # Ctrl-C that reached the dataflow as KeyboardInterrupt: a stop, not a failure.
        if isinstance(err.__cause__, KeyboardInterrupt):
            log.info("stopped")
            return lifecycle.EXIT_INTERRUPTED
        unreadable = _snapshot_error(err)
        if unreadable is not None:
            log.error("cannot resume from --recovery-dir %s: %s", settings.recovery_dir,
                      unreadable)
            return 2
        if _store_failure(err) is None:
            raise
        return _store_failed(settings, err)
    code = lifecycle.exit_code()
    if code:
        log.info("stopped")
    print(summary.line(summary_note(split, settings) if split else ""), file=sys.stderr)
    return code


def _store_failed(settings: Settings, err: BaseException) -> int:
    log.error("--recovery-dir %s cannot be written (%s): free space on its disk, or give the"
              " job's user write access; the next run resumes from its last snapshot",
              settings.recovery_dir, _store_failure(err))
    return 2


def _store_failure(err: BaseException) -> str | None:
    """SQLite's words when the engine failed writing the recovery store (a full disk, a file
    or directory it may not write): the operator's to mend, said in one line.

    >>> _store_failure(RuntimeError('SqliteFailure(Error { code: DiskFull, extended_code: 13 },'
    ...                             ' Some("database or disk is full"))'))
    'database or disk is full'
    """
    said = str(err)
    if "SqliteFailure" not in said:
        return None
    words = said.rpartition('Some("')[2].partition('")')[0]
    return words or "SQLite failed"


def _snapshot_error(err: BaseException) -> SnapshotError | None:
    """The unreadable room state behind an engine error, if that is what it is."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, SnapshotError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def run_files(
    settings: Settings,
    input_path: str,
    output: str,
    dead_letters: str,
    workers: int = 1,
    experiment_log: str | None = None,
) -> int:
    """File mode. Everything that can be checked is checked before any file is touched;
    a fresh run empties its outputs, a resumed one (a recovery store with state) appends
    to them: at-least-once, the pushes since the last snapshot are written again."""
    if not 0 < workers <= MAX_WORKERS:
        raise ValueError(
            f"--workers must be 1 to {MAX_WORKERS}, got {workers}: they are threads of one"
            " process; scale out with more processes and partitions (Kafka mode)"
        )
    outputs = {"--output": output, "--dead-letters": dead_letters}
    if experiment_log:
        outputs["--experiment-log"] = experiment_log
    check_recovery_dir(settings)
    with claim_store(settings):
        return _run_files(settings, input_path, output, dead_letters, workers,
                          experiment_log, outputs)


def _run_files(settings: Settings, input_path: str, output: str, dead_letters: str,
               workers: int, experiment_log: str | None, outputs: dict[str, str]) -> int:
    check_file_mode(input_path, outputs)
    prepare(settings)  # first: the resume check may log a warning
    resume, split = resuming(settings), None
    if resume:
        check_resumed_input(settings, input_path)
        split = warn_changed_split(settings)
        if input_path != "-":  # a log grown since: a later resume must find all of it still
            note_input(settings, input_path)
        log.info(
            "resuming from %s: appending to the outputs (what was written since the last"
            " snapshot is written again, identical: de-duplicate pushes on rec_id)",
            settings.recovery_dir,
        )
    else:
        truncate(list(outputs.values()))
        note_input(settings, input_path)
    log.info("file mode: %s -> %s (dead letters: %s)", input_path, output, dead_letters)
    flow = file_flow(settings, input_path, output, dead_letters, experiment_log)
    return execute(flow, settings, workers, split)


def run_kafka(settings: Settings) -> int:
    check_recovery_dir(settings)
    with claim_store(settings):
        prepare(settings)
        log.info(
            "Kafka mode: %s %s -> %s (dead letters: %s)",
            settings.brokers,
            settings.input_topic,
            settings.output_topic,
            settings.dead_letter_topic,
        )
        check_topic_name(settings, resuming(settings))  # before any topic is made
        flow = kafka_flow(settings)  # makes the topics that are missing
        note_or_check_topic(settings, resuming(settings),
                            topic_id(settings.brokers, settings.input_topic))
        split = warn_changed_split(settings)  # the resume is accepted: said, not refused
        return execute(flow, settings, split=split)


def _endless_world(seed: int, rooms: int, viewers: int, start_ms: int
                   ) -> Iterator[dict[str, Any]]:
    """Worlds of ``DEMO_CHUNK_MINUTES`` one after another in the same rooms: the shows go on,
    so no chunk closes its rooms (a ``room_close`` would turn every later event of the room
    into a dead letter, and the screen would go quiet after the first chunk)."""
    from models.sim.world import iter_world

    for n in itertools.count():
        start = start_ms + int(n * DEMO_CHUNK_MINUTES * 60_000)
        for event in iter_world(seed + n, rooms, viewers, DEMO_CHUNK_MINUTES, start):
            if event["type"] != "room_close":
                yield event


def run_demo(
    settings: Settings, seed: int, rooms: int, viewers: int, minutes: float, speed: float,
    closed_loop: bool = False,
) -> int:
    from models.sim.world import iter_world

    prepare(settings)
    now_ms = int(time.time() * 1000)  # the world's clock starts now: event lag means something
    tap = ShowcaseTap()
    source: Any = None
    audience = None
    if closed_loop:  # one world: the audience reacts with its hidden tastes
        from flows.connectors.closed_loop_demo import ClosedLoopDemo
        from models.sim.closed_loop import organic
        from models.sim.world import World

        world = World(seed, rooms, viewers, minutes or DEMO_CLOSED_LOOP_MINUTES, now_ms)
        source = audience = ClosedLoopDemo(world, tap(organic(world)), tap.items)
    else:
        source = tap(
            iter_world(seed, rooms, viewers, minutes, now_ms)
            if minutes > 0
            else _endless_world(seed, rooms, viewers, now_ms)
        )
    print(
        f"roomrank demo: {rooms} rooms, {viewers} viewers, {speed:g} simulated s per second"
        + (f", closed loop for {minutes or DEMO_CLOSED_LOOP_MINUTES:g} simulated minutes"
           if closed_loop else "")
        + "; Ctrl-C to stop",
        file=sys.stderr,
    )
    flow = build_flow(
        settings,
        PacedSource(source, speed),
        TerminalSink(items=tap.items, hold_ms=DEMO_HOLD_MS, audience=audience),
        JsonlSink("/dev/stderr"),
        Recorder(),
    )
    return execute(flow, settings)
