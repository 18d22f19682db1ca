"""Where the job's time goes: cProfile over its per-event path, its ranking and its encoding.

    python -m flows.bench.profile [--rooms 10 --viewers 5000 --minutes 20] [--top 20]

1. ``event path``: a simulated world (the bench's world) read in source batches of 1000,
   decoded (``decode_event``), grouped by room as ``stateful_batch`` does, applied with
   ``Room.accept`` and every PushBatch encoded (``encode_pushes``): the job without Bytewax.
2. ``build_push`` for one showcase change to 100k present viewers × 50 items.
3. ``encode_pushes`` of those 100k pushes.

Each prints the functions with the most own time (share of the profiled total) and the
project's functions with the most cumulative time. cProfile slows Python code more than
numpy code, so shares of Python-heavy functions are upper bounds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PROJECT = ("/models/", "/features/", "/flows/")


def _label(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in _PROJECT:
        if marker in filename:
            return f"{marker.strip('/')}/{filename.rsplit(marker, 1)[1]}:{line}({name})"
    short = filename.split("site-packages/")[-1]
    return f"{short}:{line}({name})"


def report(profile: cProfile.Profile, title: str, top: int, wall: float) -> str:
    """Top own time (all functions) and top cumulative time (project functions)."""
    stats: Any = pstats.Stats(profile, stream=io.StringIO())
    total = stats.total_tt or 1e-9
    rows = stats.stats  # key -> (primitive calls, calls, own, cumulative, callers)
    lines = [f"## {title}", "", f"wall {wall:.2f} s with the profiler on;"
             f" profiled total {total:.2f} s", "",
             "| own time | share | calls | function |", "|---:|---:|---:|---|"]
    by_own = sorted(rows.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for key, (_, calls, own, _cum, _) in by_own:
        lines.append(f"| {own:.3f} s | {100 * own / total:.1f}% | {calls:,} | `{_label(key)}` |")
    lines += ["", "| cumulative | share | calls | project function |", "|---:|---:|---:|---|"]
    ours = [(k, v) for k, v in rows.items() if any(m in k[0] for m in _PROJECT)]
    for key, (_, calls, _own, cum, _) in sorted(ours, key=lambda kv: kv[1][3],
                                                reverse=True)[:top]:
        lines.append(f"| {cum:.3f} s | {100 * cum / total:.1f}% | {calls:,} | `{_label(key)}` |")
    return "\n".join(lines) + "\n"


def _profiled(fn: Callable[[], object]) -> tuple[cProfile.Profile, float]:
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    fn()
    profile.disable()
    return profile, time.perf_counter() - start


def event_path(
    lines: list[bytes], batch_size: int = 1000, room_type: type[Any] | None = None
) -> Callable[[], object]:
    """The job's per-event work without the engine, as ``flows.dataflow`` wires it."""
    from features.contract.decoding import decode_event
    from features.contract.events import Event, Origin
    from features.contract.messages import PushBatch, encode_pushes
    from models.params import RoomParams
    from models.room import Room

    make_room = room_type or Room

    def run() -> None:
        params = RoomParams()
        rooms: dict[str, Room] = {}
        for start in range(0, len(lines), batch_size):
            read_at = time.monotonic()
            groups: dict[str, list[Event]] = defaultdict(list)
            for n, raw in enumerate(lines[start:start + batch_size], start + 1):
                event = decode_event(raw, Origin("world.jsonl", 0, n))
                if isinstance(event, Event):
                    event.read_at = read_at
                    groups[event.room_id].append(event)
            for room_id, events in groups.items():
                room = rooms.get(room_id)
                if room is None:
                    room = rooms[room_id] = make_room(room_id, params)
                for out in room.accept(events, read_at):
                    if isinstance(out, PushBatch):
                        encode_pushes(out, emitted_at=0)
                if room.closed:
                    del rooms[room_id]
        for room in rooms.values():
            for out in room.flush():
                if isinstance(out, PushBatch):
                    encode_pushes(out, emitted_at=0)

    return run


def event_type_costs(lines: list[bytes]) -> str:
    """Wall time of ``Room._apply`` per event type over the event path, without cProfile:
    which kinds of events the rooms' time goes to. An ``enter`` also pays for the learner
    updates queued before it (its push reads the vectors, see ``models.room_push``)."""
    from models.room import Room

    spent: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    clock = time.perf_counter

    class TimedRoom(Room):
        def _apply(self, event: Any, out: Any, stats: Any, read_at: float) -> None:
            start = clock()
            super()._apply(event, out, stats, read_at)
            spent[event.type] += clock() - start
            count[event.type] += 1

    run = event_path(lines, room_type=TimedRoom)
    start = clock()
    run()
    wall = clock() - start
    n = len(lines)
    out = ["## Room._apply by event type (wall time, no profiler)", "",
           f"Event path {wall:.2f} s, {wall / n * 1e6:.1f} µs per event, of which `_apply`"
           f" {sum(spent.values()) / n * 1e6:.1f}; the rest is decoding, de-duplication,"
           " reordering, encoding and the end of each `accept` call.", "",
           "| type | events | µs each | µs per event of the stream |", "|---|---:|---:|---:|"]
    for etype in sorted(spent, key=lambda t: -spent[t]):
        out.append(f"| {etype} | {count[etype]:,} | {spent[etype] / count[etype] * 1e6:.1f} |"
                   f" {spent[etype] / n * 1e6:.2f} |")
    return "\n".join(out) + "\n"


def ranking_stages(viewers: int, items: int, repeats: int = 7) -> str:
    """Best-of-``repeats`` wall time of each stage of ``build_push`` (the same calls, stage by
    stage, over blocks of ``BLOCK_ROWS``), against the whole call."""
    import numpy as np

    from flows.bench.ranking import RankingRoom, time_call
    from models.choice_features import features_row, log_budgets
    from models.choice_scoring import prepare
    from models.push import (
        _evidence,
        _exp_parts,
        control_scores,
        momentum,
        warm_first,
        why_codes,
    )
    from models.ranking import BLOCK_ROWS, Ranked, TopK, _top_k, order_key, top_k_of_keys

    bench = RankingRoom(viewers, items)
    event = bench.show(items)
    room = bench.room
    sc = room.showcase
    assert sc is not None
    rows = room.viewers.present_rows(event.ts)
    ctx = room.context(event.ts)
    scene = ctx.scene()
    weights = room.model.weights
    k = min(room.params.top_k, len(sc))
    ordered = rows[warm_first(room.mf, rows)]  # as build_push orders them
    blocks = [ordered[s : s + BLOCK_ROWS] for s in range(0, len(rows), BLOCK_ROWS)]

    def each(fn: Callable[[Any], object]) -> Callable[[], None]:
        def run() -> None:
            for block in blocks:
                fn(block)

        return run

    scoring = prepare(scene, weights, negated=True)

    def intent_only(block: Any) -> None:
        scoring._intent(block, scoring._engaged(block), np.zeros((len(sc), len(block)), np.float32))

    def vectors_only(block: Any) -> None:
        scoring._vectors(block, np.zeros((len(sc), len(block)), np.float32))

    cached = [scoring.logits(block) for block in blocks]  # as build_push

    def exp_parts() -> None:
        for taste, minus_power in cached:
            _exp_parts(taste.copy(), minus_power.copy(), negated=True)

    def softmax() -> None:
        for taste, _ in cached:
            att = taste - taste.max(axis=0)
            np.exp(att, out=att)
            att /= att.sum(axis=0)

    def sigmoid() -> None:
        for _, minus_power in cached:
            p = minus_power.copy()
            np.exp(p, out=p)
            p += 1.0
            np.reciprocal(p, out=p)

    columns = TopK(len(sc), k, BLOCK_ROWS)

    def top_k() -> None:  # items down, viewers across, known finite
        for block in blocks:
            columns(np.random.default_rng(len(block)).random((len(sc), len(block)),
                                                             dtype=np.float32), finite=True)

    def top_k_packed() -> None:  # what build_push runs for fewer than 256 items
        for block in blocks:
            top_k_of_keys(order_key(np.random.default_rng(len(block)).random(
                (len(sc), len(block)), dtype=np.float32), finite=True), k)

    def top_k_rows() -> None:  # the readable twin: argmax along viewers' rows
        for block in blocks:
            _top_k(np.random.default_rng(len(block)).random((len(block), len(sc)),
                                                            dtype=np.float32), k)

    def scores_only() -> None:
        for block in blocks:
            np.random.default_rng(len(block)).random((len(block), len(sc)), dtype=np.float32)

    def ids() -> None:
        room.viewers.rows.ids[rows].tolist()
        names = room.params.arms.names
        [names[a] for a in room.arm[rows].tolist()]

    heat = momentum(ctx, sc)
    ranked = Ranked(np.zeros((len(rows), k), np.int64), np.zeros((len(rows), k), np.float32),
                    np.full((len(rows), k), 0.5, np.float32), np.zeros((len(rows), k), np.float32))
    warm, known = _evidence(ctx, rows)
    stages = [
        ("whole build_push", lambda: bench.push(event)),
        ("prepare: the showcase's keys and per-item terms, once per push",
         lambda: prepare(scene, weights, negated=True)),
        ("logits of every pair (ShowcaseScoring.logits, power negated)",
         each(scoring.logits)),
        ("  taste logits: one q·Kᵀ product + vectors + intent", each(scoring._taste)),
        ("    of which the vectors (warm viewers only, a prefix of each block)",
         each(vectors_only)),
        ("    of which short-term intent (viewers with recent actions only)",
         each(intent_only)),
        ("  power logits: per item + price against budget", each(scoring._power)),
        ("    of which budgets (log_budgets)", each(lambda b: log_budgets(scene, b))),
        ("e^(taste − max) and 1 + e^(−power), in place (−power given)", exp_parts),
        ("  for comparison: a normalised softmax of the taste logits", softmax),
        ("  for comparison: the sigmoid of the power logits", sigmoid),
        ("  for comparison: the feature table for 1,000 viewers (features_row each)",
         lambda: [features_row(scene, row) for row in rows[:1000].tolist()]),
        ("order keys and top-k (top_k_of_keys: one max per rank) [minus random scores]",
         top_k_packed),
        ("  for comparison: TopK (six passes per rank) [minus random scores]", top_k),
        ("  for comparison: k argmax passes along rows [minus random scores]", top_k_rows),
        ("  random scores to subtract", scores_only),
        ("user ids and arms to lists", ids),
        ("why codes", lambda: why_codes(sc, heat, ranked, warm, known)),
        ("control scores", lambda: control_scores(sc, heat)),
    ]
    lines = [f"## build_push stages: {viewers:,} viewers × {items} items (best of {repeats})",
             "", "| stage | ms |", "|---|---:|"]
    for name, fn in stages:
        lines.append(f"| {name} | {time_call(fn, repeats).best_ms:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from threadpoolctl import threadpool_limits

    from features.contract.messages import encode_pushes
    from flows.bench.dataflows import world_file
    from flows.bench.floor import room_floor
    from flows.bench.ranking import RankingRoom

    parser = argparse.ArgumentParser(prog="python -m flows.bench.profile")
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rank-viewers", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--stages-only", action="store_true", help="only the build_push stages")
    args = parser.parse_args(argv)
    threadpool_limits(1)
    if args.stages_only:
        print(ranking_stages(args.rank_viewers, 50))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "world.jsonl"
        count = world_file(path, args.rooms, args.viewers, args.minutes)
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    run = event_path(lines)
    start = time.perf_counter()
    run()
    plain = time.perf_counter() - start
    profile, wall = _profiled(run)
    print(f"# Profile of the job's per-event path ({count:,} events: {args.rooms} rooms,"
          f" {args.viewers} viewers, {args.minutes:g} min)\n")
    print(f"Without the profiler: {plain:.2f} s, {count / plain:,.0f} events/s"
          " (decode + Room.accept + encode_pushes, no Bytewax).\n")
    print(report(profile, "Event path: decode_event, Room.accept, encode_pushes", args.top, wall))
    print(event_type_costs(lines))
    print(room_floor(lines))
    print(ranking_stages(args.rank_viewers, 50))
    room = RankingRoom(args.rank_viewers, 50)
    event = room.show(50)
    batch = room.push(event)
    profile, wall = _profiled(lambda: [room.push(event) for _ in range(3)])
    print(report(profile, f"build_push ×3: {args.rank_viewers:,} viewers × 50 items",
                 args.top, wall))
    profile, wall = _profiled(lambda: encode_pushes(batch, emitted_at=0))
    print(report(profile, f"encode_pushes: {len(batch):,} pushes", args.top, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
