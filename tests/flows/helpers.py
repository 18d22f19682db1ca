"""Shared helpers of the dataflow tests: run the flow in-process and read its outputs."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
from bytewax.testing import TestingSink, TestingSource, run_main

from features.contract.events import Origin
from flows.dataflow import build_flow
from flows.settings import Settings
from models.arms import Arms
from models.sim.closed_loop import ClosedLoopRun
from models.sim.world import iter_world

# The closed loop's arms in the replay tests: two adaptive arms (one capped, so that its
# skipped pushes are part of what must replay), control, and a holdout that makes ghosts.
CLOSED_LOOP_ARMS = "attention=0.4,capped=0.2:cap=90:skip_same=1,control=0.2,holdout=0.2"


def world_lines(
    seed: int = 3, rooms: int = 6, viewers: int = 240, minutes: float = 12
) -> list[bytes]:
    return [orjson.dumps(e) for e in iter_world(seed, rooms, viewers, minutes)]


def run_lines(
    lines: list[bytes], settings: Settings | None = None
) -> tuple[list[dict], list[dict]]:
    """Run the job over raw lines; returns (pushes, dead letters) as dicts."""
    records = [(Origin("test", 0, n + 1), line, 0.0) for n, line in enumerate(lines)]
    pushes: list[Any] = []
    letters: list[Any] = []
    flow = build_flow(
        settings or Settings.load(env={}),
        TestingSource(records, batch_size=50),
        TestingSink(pushes),
        TestingSink(letters),
    )
    run_main(flow)
    return _values(pushes), _values(letters)


def _values(items: list[Any]) -> list[dict]:
    return [orjson.loads(value) for _route, messages in items for _key, value in messages]


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def stable(pushes: list[dict]) -> list[bytes]:
    """Pushes without the wall-clock field, in a canonical order, for comparisons."""
    return sorted(
        orjson.dumps({k: v for k, v in p.items() if k != "emitted_at"}, option=orjson.OPT_SORT_KEYS)
        for p in pushes
    )


def split_experiment_log(log: list[dict]) -> tuple[list[dict], list[dict]]:
    """(ghost pushes without their ``kind``, assignments): the closed loop's shapes."""
    ghosts = [{k: v for k, v in r.items() if k != "kind"} for r in log if r["kind"] == "ghost_push"]
    assignments = [r for r in log if r["kind"] == "assignment"]
    assert len(ghosts) + len(assignments) == len(log), {r["kind"] for r in log}
    return ghosts, assignments


def assert_replays(run: ClosedLoopRun, pushes: list[dict], log: list[dict]) -> None:
    """What a replay of the closed loop's stream gave is exactly what the closed loop's rooms
    gave: pushes, ghost pushes and assignments (arm, probability, user, room, trigger, ts),
    as multisets (order differs between workers; ``emitted_at`` is wall time)."""
    ghosts, assignments = split_experiment_log(log)
    _same("pushes", pushes, run.pushes)
    _same("ghost pushes", ghosts, run.ghosts)
    _same("assignments", assignments, run.assignments)


def _same(what: str, replayed: list[dict], closed_loop: list[dict]) -> None:
    """Equal as ``stable`` lists; else a short account (counts, a few of each side's extras)
    rather than two lists of hundreds of records."""
    got, want = stable(replayed), stable(closed_loop)
    if got != want:
        extra, missing = Counter(got) - Counter(want), Counter(want) - Counter(got)
        raise AssertionError(
            f"{what}: replay {len(got)}, closed loop {len(want)}; only in the replay"
            f" ({extra.total()}): {list(extra)[:2]}; only in the closed loop"
            f" ({missing.total()}): {list(missing)[:2]}"
        )


def moved_shares(assignments: list[dict], arms: str) -> list[dict]:
    """Assignments made with another probability than the arm's configured share: proof
    that an adaptive allocation did move, so that comparing them is not vacuous."""
    split = Arms.parse(arms)
    share = dict(zip(split.names, split.shares, strict=True))
    return [a for a in assignments if abs(a["probability"] - round(share[a["arm"]], 6)) > 1e-9]


def expected_audiences(events: list[dict], timeout_ms: int = 90_000) -> dict[str, set[str]]:
    """Independent oracle: who must get a push for each trigger (event_id -> user ids).

    Replays each room's de-duplicated events in (ts, arrival) order with the contract's
    presence rule: entered or heard from, not left, heard from within the timeout.
    """
    seen: set[str] = set()
    by_room: dict[str, list[tuple[int, int, dict]]] = defaultdict(list)
    for n, event in enumerate(events):
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        by_room[event["room_id"]].append((event["ts"], n, event))
    audiences: dict[str, set[str]] = {}
    for room_events in by_room.values():
        last_seen: dict[str, int] = {}
        left: set[str] = set()
        has_items = False
        for ts, _n, event in sorted(room_events, key=lambda x: (x[0], x[1])):
            user = event.get("user_id")
            if event["type"] == "showcase":
                has_items = bool(event["items"])
                if has_items:
                    audiences[event["event_id"]] = {
                        u for u, t in last_seen.items() if u not in left and t >= ts - timeout_ms
                    }
            elif user is not None:
                last_seen[user] = max(ts, last_seen.get(user, ts))
                if event["type"] == "leave":
                    left.add(user)
                else:
                    left.discard(user)
                if event["type"] == "enter" and has_items:
                    audiences[event["event_id"]] = {user}
    return audiences


def until_close(lines: list[bytes]) -> list[bytes]:
    """The lines up to each room's room_close: the simulator's viewers may still send a
    heartbeat after it, which the job makes a ``closed`` dead letter (docs/contract-notes.md)."""
    closed: set[str] = set()
    kept = []
    for line in lines:
        event = orjson.loads(line)
        if event["room_id"] in closed:
            continue
        if event["type"] == "room_close":
            closed.add(event["room_id"])
        kept.append(line)
    return kept
