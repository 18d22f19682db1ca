"""Shared helpers of the dataflow tests: run the flow in-process and read its outputs."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from bytewax.testing import TestingSink, TestingSource, run_main

from features.contract.events import Origin
from flows.dataflow import build_flow
from flows.settings import Settings
from models.sim.world import iter_world


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
