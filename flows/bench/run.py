"""``roomrank bench``: the job measured against its engine and its hardware, in one run.

Everything is measured in the same run on the same machine, so that ratios (job against a
bare Bytewax flow, ranking against a bare matrix product, our learner against River's) hold
on a noisy machine even when absolute numbers move. Progress goes to stderr, a table to
stdout and, with ``--json FILE``, every number to a JSON file (keys in ``docs/benchmarks.md``).
Speeds are reported against targets, never asserted.

Sizes: ``full`` (default), ``quick`` (``--quick``: smaller inputs, fewer repeats, no 1M-viewer
room) and ``tiny`` (tests only: ``run_bench(..., scale="tiny")``).
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from flows.bench import dataflows as bf
from flows.bench import fanout as bfan
from flows.bench import learners as bl
from flows.bench import ranking as bm
from flows.bench import state as bs
from flows.bench.floor import room_floor_costs
from flows.bench.report import format_table, loadavg, machine

__all__ = ["SCALES", "TARGETS", "format_table", "run_bench", "targets"]


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    world: tuple[int, int, float]  # rooms, viewers, minutes of the simulated world
    file_repeats: int  # file-mode runs of each flow (best kept), interleaved
    rank_viewers: tuple[int, ...]
    rank_repeats: tuple[int, int, int]  # for <= 10k, 100k, 1M viewers
    fanout_viewers: int
    encode_repeats: int
    learn_events: int  # at least this many (user, item, y) updates (the world's, cycled)
    learn_repeats: int
    state_viewers: int
    state_items: int
    churn_seats: int
    churn_hours: tuple[float, ...]


SCALES = {
    "full": Scale("full", (10, 5000, 20.0), 2, (1_000, 10_000, 100_000, 1_000_000), (7, 5, 2),
                  100_000, 3, 100_000, 3, 10_000, 500, 40, (6.0, 12.0, 24.0)),
    "quick": Scale("quick", (4, 1500, 8.0), 1, (1_000, 10_000, 100_000), (5, 3, 1),
                   100_000, 2, 30_000, 2, 10_000, 500, 8, (6.0, 24.0)),
    "tiny": Scale("tiny", (2, 120, 3.0), 1, (1_000, 4_000), (2, 1, 1),
                  2_000, 1, 3_000, 1, 300, 60, 3, (1.0, 2.0)),
}
RANK_ITEMS = (50, 200)
KAFKA_PARTITIONS = 4  # the job's default --partitions

TARGETS = (
    ("job_vs_passthrough_file", "job_eps >= 0.6 x passthrough_eps (file)", 0.6, ">="),
    ("job_vs_passthrough_kafka", "job_eps >= 0.6 x passthrough_eps (Kafka)", 0.6, ">="),
    ("rank_vs_matmul_100k", 'rank_ms["100000x50"] <= 8 x matmul_ms["100000x50"]', 8.0, "<="),
    ("rank_100k", 'rank_ms["100000x50"] <= 120 ms', 120.0, "<="),
    ("rank_1m", 'rank_ms["1000000x50"] <= 1500 ms', 1500.0, "<="),
    ("fanout_100k_kafka", "fanout_ms (100k viewers, Kafka) <= 1500 ms", 1500.0, "<="),
    ("learn_vs_river", "learn_eps >= 5 x river_learn_eps", 5.0, ">="),
    ("bytes_per_viewer", "bytes_per_viewer <= 512 (d=32)", 512.0, "<="),
    ("churn_flat", "state_bytes_after_churn: last day length <= 1.25 x first", 1.25, "<="),
)


class _Progress:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr,
              flush=True)


def run_bench(
    quick: bool, json_file: str | None, brokers: str | None, *, scale: str | None = None
) -> int:
    """Run every measurement; print the table; write JSON. The exit status: ``exit_status``."""
    from threadpoolctl import threadpool_limits

    size = SCALES[scale or ("quick" if quick else "full")]
    progress = _Progress()
    result: dict[str, Any] = {
        "bench": {"scale": size.name, "brokers": brokers or None,
                  "started": datetime.now(UTC).isoformat(timespec="seconds")},
        "machine": machine(),
        "errors": [],
    }
    progress(f"{size.name} bench on {result['machine']['cpus']} CPUs"
             + (f", Kafka on {brokers}" if brokers else ", file mode only (no --brokers)"))
    with tempfile.TemporaryDirectory(prefix="roomrank-bench-") as tmp, threadpool_limits(1):
        work = Path(tmp)
        sections: list[tuple[str, Callable[[], None]]] = [
            ("throughput", lambda: _throughput(size, work, brokers, result, progress)),
            ("fanout", lambda: _fanout(size, work, brokers, result, progress)),
            ("ranking", lambda: _ranking(size, result, progress)),
            ("learners", lambda: _learners(size, work, result, progress)),
            ("state", lambda: _state(size, result, progress)),
            ("churn", lambda: _churn(size, result, progress)),
        ]
        for name, section in sections:
            try:
                section()
            except Exception as err:  # report and go on: the other numbers still count
                traceback.print_exc(file=sys.stderr)
                result["errors"].append(f"{name}: {type(err).__name__}: {err}")
    result["targets"] = targets(result)
    result["bench"]["seconds"] = round(time.monotonic() - progress.start, 1)
    result["machine"]["loadavg_end"] = loadavg()
    print(format_table(result))
    if json_file:
        Path(json_file).parent.mkdir(parents=True, exist_ok=True)
        Path(json_file).write_bytes(
            orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        )
        progress(f"wrote {json_file}")
    return exit_status(result)


def exit_status(result: dict[str, Any]) -> int:
    """1 if a section failed to run, 3 if a measured target failed, else 0 (a target not
    measured here, "n/a", fails nothing): so a script or CI step can gate on the bench.

    >>> exit_status({"errors": [], "targets": {"rank_1m": {"pass": None}}})
    0
    """
    if result["errors"]:
        return 1
    return 3 if any(t["pass"] is False for t in result["targets"].values()) else 0


# -- sections --------------------------------------------------------------------------------


def _throughput(
    size: Scale, work: Path, brokers: str | None, result: dict[str, Any], progress: _Progress
) -> None:
    rooms, viewers, minutes = size.world
    world = work / "world.jsonl"
    progress(f"writing the simulated world ({rooms} rooms, {viewers} viewers, {minutes:g} min)")
    events = bf.world_file(world, rooms, viewers, minutes)
    result["input"] = {"rooms": rooms, "viewers": viewers, "minutes": minutes, "seed": 1,
                       "events": events}
    runs: dict[str, list[float]] = {"passthrough": [], "skeleton": [], "job": []}
    pushes = 0
    for n in range(size.file_repeats):
        for kind in ("passthrough", "skeleton", "job"):
            run = bf.run_file_flow(kind, world, work)
            runs[kind].append(run.seconds)
            if kind == "job":
                pushes = run.outputs
            else:  # the passthrough writes every event; the skeleton counts every one
                assert run.outputs == events, (kind, run.outputs, events)
            progress(f"file {kind} run {n + 1}/{size.file_repeats}: {run.seconds:.2f} s,"
                     f" {events / run.seconds:,.0f} events/s")
    result["input"]["pushes"] = pushes
    best = {kind: events / min(seconds) for kind, seconds in runs.items()}
    result["passthrough_eps"] = {"file": best["passthrough"], "kafka": None}
    result["job_eps"] = {"file": best["job"], "kafka": None}
    result["job_vs_passthrough"] = {"file": best["job"] / best["passthrough"], "kafka": None}
    result["skeleton_eps"] = {"file": best["skeleton"], "kafka": None}
    result["skeleton_vs_passthrough"] = {"file": best["skeleton"] / best["passthrough"],
                                         "kafka": None}
    result["room_us_per_event"] = {"file": _room_us(best), "kafka": None}
    result["throughput_seconds"] = {"file": runs, "kafka": None}
    lines = [line for line in world.read_bytes().splitlines() if line.strip()]
    progress("rooms' floor: the world through Room.accept, no Bytewax (dedup and reorder; "
             "+ presence and one update per signal; the job's Room)")
    floor = room_floor_costs(lines, size.file_repeats)
    result["room_floor_us_per_event"] = floor
    progress("rooms' floor: " + ", ".join(f"{k} {v:.2f} µs/event" for k, v in floor.items()))
    if not brokers:
        return
    topic = bf.fresh_topic("events")
    bf.create_topics(brokers, {topic: KAFKA_PARTITIONS})
    try:
        produce_s = bf.produce_lines(brokers, topic, lines)
        progress(f"Kafka: produced {events:,} events to {topic} in {produce_s:.1f} s")
        timeout = max(120.0, 5 * min(runs["job"]) + 60)
        kafka: dict[str, Any] = {"produce_seconds": produce_s, "partitions": KAFKA_PARTITIONS}
        for kind, expected in (("passthrough", events), ("skeleton", events), ("job", pushes)):
            krun = bf.run_kafka_flow(kind, brokers, topic, KAFKA_PARTITIONS, expected, timeout)
            kafka[kind] = {"seconds": krun.seconds, "outputs": krun.outputs,
                           "expected": expected, "complete": krun.complete}
            progress(f"Kafka {kind}: {krun.outputs:,}/{expected:,} outputs read in"
                     f" {krun.seconds:.2f} s, {events / krun.seconds:,.0f} events/s")
            if not krun.complete:
                raise RuntimeError(f"Kafka {kind}: only {krun.outputs} of {expected} outputs"
                                   f" in {timeout:.0f} s")
    finally:
        bf.delete_topics(brokers, [topic])
    result["throughput_seconds"]["kafka"] = kafka
    eps = {kind: events / kafka[kind]["seconds"] for kind in ("passthrough", "skeleton", "job")}
    result["passthrough_eps"]["kafka"] = eps["passthrough"]
    result["job_eps"]["kafka"] = eps["job"]
    result["job_vs_passthrough"]["kafka"] = eps["job"] / eps["passthrough"]
    result["skeleton_eps"]["kafka"] = eps["skeleton"]
    result["skeleton_vs_passthrough"]["kafka"] = eps["skeleton"] / eps["passthrough"]
    result["room_us_per_event"]["kafka"] = _room_us(eps)


def _room_us(eps: dict[str, float]) -> dict[str, float]:
    """µs per event the job spends past its skeleton (its rooms and their outputs), and what
    the 0.6 target would leave for that: 1 / (0.6 × passthrough) − 1 / skeleton."""
    return {
        "measured": 1e6 / eps["job"] - 1e6 / eps["skeleton"],
        "budget_at_target": 1e6 / (0.6 * eps["passthrough"]) - 1e6 / eps["skeleton"],
    }


def _fanout(
    size: Scale, work: Path, brokers: str | None, result: dict[str, Any], progress: _Progress
) -> None:
    viewers = size.fanout_viewers
    lines = bfan.fanout_lines(viewers)
    result["fanout_viewers"] = viewers
    result["fanout_ms"] = {"file": None, "kafka": None}
    result["fanout_detail"] = {"file": None, "kafka": None}
    progress(f"fanout: one showcase change to {viewers:,} present viewers, file mode")
    fan = bfan.run_fanout(viewers, lines, work)
    result["fanout_ms"]["file"] = fan.total_ms
    result["fanout_detail"]["file"] = {"to_encoded_ms": fan.to_encoded_ms, "sink_ms": fan.sink_ms}
    progress(f"fanout file: {fan.total_ms:.0f} ms (sink {fan.sink_ms:.0f} ms)")
    result["encode_ms"] = bfan.time_encode(fan.batch, size.encode_repeats)
    result["encode_pushes"] = len(fan.batch)
    progress(f"encode_pushes of {len(fan.batch):,} pushes: {result['encode_ms']:.0f} ms")
    del fan
    if not brokers:
        return
    topic = bf.fresh_topic("fanout")
    bf.create_topics(brokers, {topic: 1})
    try:
        bf.produce_lines(brokers, topic, lines)
        fan = bfan.run_fanout(viewers, lines, work, brokers, topic)
    finally:
        bf.delete_topics(brokers, [topic])
    result["fanout_ms"]["kafka"] = fan.total_ms
    result["fanout_detail"]["kafka"] = {"to_encoded_ms": fan.to_encoded_ms,
                                        "sink_ms": fan.sink_ms}
    progress(f"fanout Kafka: {fan.total_ms:.0f} ms (produce + acks {fan.sink_ms:.0f} ms)")


def _ranking(size: Scale, result: dict[str, Any], progress: _Progress) -> None:
    small, mid, big = size.rank_repeats

    def repeats(viewers: int) -> int:
        return small if viewers <= 10_000 else mid if viewers <= 100_000 else big

    rank, matmul = bm.bench_ranking(size.rank_viewers, RANK_ITEMS, repeats, progress)
    result["rank_ms"] = {k: t.best_ms for k, t in rank.items()}
    result["rank_ms_median"] = {k: t.median_ms for k, t in rank.items()}
    result["rank_repeats"] = {k: t.repeats for k, t in rank.items()}
    result["matmul_ms"] = {k: t.best_ms for k, t in matmul.items()}


def _learners(size: Scale, work: Path, result: dict[str, Any], progress: _Progress) -> None:
    world = work / "world.jsonl"
    if not world.exists():
        bf.world_file(world, *size.world)
    triples = bl.learning_events(map(orjson.loads, world.read_bytes().splitlines()), 32)
    if not triples:
        raise RuntimeError("the world has no item interactions to learn from")
    events = (triples * (size.learn_events // len(triples) + 1))[: max(size.learn_events,
                                                                      len(triples))]
    progress(f"learners: {len(events):,} updates ({len(triples):,} from the world, cycled)")
    learn = bl.bench_learners(events, size.learn_repeats)
    result["learn_events"] = learn.events
    result["learn_eps"] = learn.row_eps
    result["facade_learn_eps"] = learn.facade_eps
    result["river_learn_eps"] = learn.river_eps
    result["learn_same_update_max_diff"] = learn.max_abs_diff
    result["learn_sequential_eps"] = learn.sequential_eps
    result["learn_waves"] = learn.waves
    result["learn_many_max_diff"] = learn.many_max_diff
    progress(f"learners: RowFunkMF.learn_many {learn.row_eps:,.0f}/s ({learn.waves:,} waves),"
             f" learn {learn.sequential_eps:,.0f}/s, facade {learn.facade_eps:,.0f}/s,"
             f" River {learn.river_eps:,.0f}/s")
    progress("learners: the job's own batches (the world through Room.accept, recorded)")
    lines = [line for line in world.read_bytes().splitlines() if line.strip()]
    job = bl.bench_job_learning(bl.job_learning_batches(lines), size.learn_repeats)
    result["learn_job_eps"] = job.eps
    result["learn_job_vs_river"] = job.eps / learn.river_eps
    result["learn_job_detail"] = asdict(job)
    progress(f"learners: in the job's {job.batches:,} batches ({job.updates:,} updates, largest"
             f" {job.largest}, {job.vectorised} vectorised): {job.eps:,.0f}/s,"
             f" {job.eps / learn.river_eps:.1f}x River")


def _state(size: Scale, result: dict[str, Any], progress: _Progress) -> None:
    progress(f"state: room snapshots with {size.state_viewers:,} viewers, {size.state_items}"
             " items")
    sizes = bs.bench_state(size.state_viewers, size.state_items)
    result["bytes_per_viewer"] = sizes.bytes_per_viewer
    result["bytes_per_item"] = sizes.bytes_per_item
    result["state_detail"] = asdict(sizes)
    result["bytes_per_idle_room"] = sizes.idle_room_bytes
    progress(f"state: {sizes.bytes_per_viewer:.0f} B/viewer"
             f" ({sizes.bytes_per_viewer_with_dedup:.0f} with dedup ids),"
             f" {sizes.bytes_per_item:.0f} B/item, {sizes.idle_room_bytes:,.0f} B held per idle"
             f" room ({sizes.fresh_room_bytes:,.0f} fresh)")


def _churn(size: Scale, result: dict[str, Any], progress: _Progress) -> None:
    progress(f"churn: a day of rooms opening and closing, {size.churn_seats} viewers per room,"
             f" checkpoints {', '.join(f'{h:g}h' for h in size.churn_hours)}")
    churn = bs.bench_churn(list(size.churn_hours), size.churn_seats, progress)
    result["state_bytes_after_churn"] = churn.state_bytes
    detail = asdict(churn)
    detail.pop("state_bytes")
    result["churn_detail"] = detail
    progress("churn: " + ", ".join(f"{k} {v:,} B" for k, v in churn.state_bytes.items()))


# -- targets, machine, table -----------------------------------------------------------------


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: the measured value, the limit, and pass (None = not measured here)."""
    rank_100k = _get(result, "rank_ms", "100000x50")
    matmul_100k = _get(result, "matmul_ms", "100000x50")
    learn, river = _get(result, "learn_eps"), _get(result, "river_learn_eps")
    churn = _get(result, "churn_detail", "growth")
    if churn is not None and len(result.get("state_bytes_after_churn") or {}) < 2:
        churn = None
    fanout_kafka = _get(result, "fanout_ms", "kafka")
    if result.get("fanout_viewers") != 100_000:
        fanout_kafka = None
    values = {
        "job_vs_passthrough_file": _get(result, "job_vs_passthrough", "file"),
        "job_vs_passthrough_kafka": _get(result, "job_vs_passthrough", "kafka"),
        "rank_vs_matmul_100k": (rank_100k / matmul_100k
                                if rank_100k is not None and matmul_100k else None),
        "rank_100k": rank_100k,
        "rank_1m": _get(result, "rank_ms", "1000000x50"),
        "fanout_100k_kafka": fanout_kafka,
        "learn_vs_river": learn / river if learn is not None and river else None,
        "bytes_per_viewer": _get(result, "bytes_per_viewer"),
        "churn_flat": churn,
    }
    out: dict[str, dict[str, Any]] = {}
    for name, rule, limit, sense in TARGETS:
        value = values[name]
        passed = None if value is None else (value >= limit if sense == ">=" else value <= limit)
        out[name] = {"rule": rule, "value": value, "limit": limit, "pass": passed}
    return out
