"""Start the dataflow in each of its modes: files, the live demo, Kafka."""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bytewax.run import cli_main

from flows.dataflow import build_flow
from flows.demo import PacedSource, TerminalSink
from flows.files import JsonlSink, JsonlSource
from flows.settings import Settings

log = logging.getLogger("roomrank")

DEMO_CHUNK_MINUTES = 10.0


def _truncate(path: str) -> None:
    if path != "-":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"")


def run_files(settings: Settings, input_path: str, output: str, dead_letters: str,
              workers: int = 1) -> int:
    if workers <= 0:
        raise ValueError("--workers must be > 0")
    for path in {output, dead_letters}:
        _truncate(path)
    flow = build_flow(settings, JsonlSource(input_path, settings.batch_size),
                      JsonlSink(output), JsonlSink(dead_letters))
    log.info("file mode: %s -> %s (dead letters: %s)", input_path, output, dead_letters)
    cli_main(flow, workers_per_process=workers)
    return 0


def _endless_world(seed: int, rooms: int, viewers: int) -> Iterator[dict[str, Any]]:
    from models.world import DEFAULT_START_MS, iter_world

    for n in itertools.count():
        start = DEFAULT_START_MS + int(n * DEMO_CHUNK_MINUTES * 60_000)
        yield from iter_world(seed + n, rooms, viewers, DEMO_CHUNK_MINUTES, start)


def run_demo(settings: Settings, seed: int, rooms: int, viewers: int, minutes: float,
             speed: float) -> int:
    from models.world import iter_world

    events = (iter_world(seed, rooms, viewers, minutes) if minutes > 0
              else _endless_world(seed, rooms, viewers))
    print(f"roomrank demo: {rooms} rooms, {viewers} viewers, {speed:g} simulated s per second;"
          " Ctrl-C to stop", file=sys.stderr)
    flow = build_flow(settings, PacedSource(events, speed), TerminalSink(),
                      JsonlSink("/dev/stderr"))
    cli_main(flow, workers_per_process=1)
    return 0


def run_kafka(settings: Settings) -> int:
    from flows.kafka import run_kafka as run

    return run(settings)
