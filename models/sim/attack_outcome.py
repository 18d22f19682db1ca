"""What an attack did to the other viewers (``models.sim.attacks`` makes the attacks): the
job's rooms replayed over a stream, no engine, and the other viewers' side of their pushes
(the attackers' own pushes and actions left out).

>>> stream = [{"event_id": "s", "type": "showcase", "ts": 0, "room_id": "r",
...            "spotlight": None, "items": [{"item_id": "a", "price": 1.0, "category": "c"},
...                                         {"item_id": "b", "price": 2.0, "category": "c"}]},
...           {"event_id": "e", "type": "enter", "ts": 1_000, "room_id": "r", "user_id": "u"},
...           {"event_id": "c", "type": "item_click", "ts": 2_000, "room_id": "r",
...            "user_id": "u", "item_id": "b"}]
>>> pushes = replay_pushes(stream, RoomParams())
>>> [(room, user, ts, sorted(items)) for room, user, ts, items in pushes]
[('r', 'u', 1000, ['a', 'b'])]
>>> outcome(stream, pushes, [Target("r", 300, 5_000, "b")])
Outcome(target_share=1.0, pushes=1, others_hr=1.0, actions=1)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch
from models.params import RoomParams
from models.room import Room
from models.sim.attacks import ACTIONS, ATTACKER, Push, Target


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the other viewers got: the share of their pushes (during an attack) holding the
    attacked item, and HR@3 of their pushes against their next actions."""

    target_share: float
    pushes: int
    others_hr: float
    actions: int


def replay_pushes(events: Iterable[dict[str, Any]], params: RoomParams) -> list[Push]:
    """Every push of the job's rooms over ``events`` (no engine): (room, viewer, trigger ts,
    items best first)."""
    rooms: dict[str, Room] = {}
    pushes: list[Push] = []
    for n, e in enumerate(events):
        event = decode_event(orjson.dumps(e), Origin("attack", 0, n))
        if not isinstance(event, Event):
            continue
        room = rooms.get(event.room_id)
        if room is None:
            room = rooms[event.room_id] = Room(event.room_id, params)
        _collect(room.accept([event]), pushes)
    for room in rooms.values():
        _collect(room.flush(), pushes)
    return pushes


def _collect(outputs: Iterable[object], pushes: list[Push]) -> None:
    for out in outputs:
        if isinstance(out, PushBatch):
            for user, top in zip(out.user_ids, out.top.tolist(), strict=True):
                pushes.append((out.room_id, user, out.ts,
                               tuple(out.item_ids[i] for i in top if i >= 0)))


def outcome(events: Iterable[dict[str, Any]], pushes: Iterable[Push],
            targets: Iterable[Target]) -> Outcome:
    """The other viewers' side of an attack (attackers' own pushes and actions left out)."""
    spans: dict[str, list[Target]] = {}
    for t in targets:
        spans.setdefault(t.room_id, []).append(t)
    shown = held = 0
    latest: dict[tuple[str, str], tuple[list[int], list[tuple[str, ...]]]] = {}
    for room, user, ts, items in sorted(pushes, key=lambda p: p[2]):
        if user.startswith(ATTACKER):
            continue
        target = next((t for t in spans.get(room, ()) if t.start <= ts < t.end), None)
        if target is not None:
            shown += 1
            held += target.item_id in items
        times, lists = latest.setdefault((room, user), ([], []))
        times.append(ts)
        lists.append(items)
    acts = hits = 0
    for e in events:
        who = e.get("user_id")
        if e.get("type") not in ACTIONS or not isinstance(who, str) or who.startswith(ATTACKER):
            continue
        times, lists = latest.get((e["room_id"], who), ([], []))
        at = bisect.bisect_right(times, e["ts"]) - 1
        if at >= 0:
            acts += 1
            hits += e["item_id"] in lists[at]
    return Outcome(held / shown if shown else 0.0, shown, hits / acts if acts else 0.0, acts)
