"""Manipulation: accounts that try to put one item in front of every viewer of a room.

A room's pushes share its statistics (an item's choice ratio, momentum, the learned weights),
so whoever floods them with choices of one item steers what everyone is shown. This module
adds such accounts to any event stream, runs the job's rooms over it (no engine), and says
how often the attacked item reached the *other* viewers' pushes and how well those pushes
still predicted what those viewers did. ``roomrank lab --attacks`` prints it per regime.

Three shapes, each against the last item of every showcase (an arbitrary item, not the
room's best), from a few hundred milliseconds after the showcase starts until it changes:

* ``one-vote``: one account clicks the item once and carts it once: what any single honest
  viewer can do, the floor a defence can bring the others down to.
* ``click-farm``: one account clicks the item every ``period_ms``, carting it every fifth
  click: one identity, hundreds of choices.
* ``sybil``: twenty accounts take turns at the same pace: many identities, each choosing a
  little. Bounding one identity's voice does not bound these (docs/evaluation.md).

Two more forge what the job trusts rather than vote (docs/evaluation.md, "Forged ids and
clocks"); their target is the same item, so the share says whether the room still follows:

* ``id-squat``: one account sends a heartbeat carrying the room's *next* showcase's
  ``event_id`` a millisecond before it: were ids one namespace, the showcase would be a
  ``reused_id`` dead letter and the room would never change what it shows.
* ``clock-jump``: one account sends, every ``period_ms`` × 10/3 (10 s by default), a
  heartbeat 599 s ahead of the newest time the room has seen (its own included), within
  ``max_ahead_ms``; these arrive when they are sent, ahead of their ``ts``. Were the room's
  time one account's, every other viewer would be forgotten at each jump.

>>> stream = [{"event_id": "s", "type": "showcase", "ts": 0, "room_id": "r",
...            "spotlight": None, "items": [{"item_id": "a", "price": 1.0, "category": "c"},
...                                         {"item_id": "b", "price": 2.0, "category": "c"}]},
...           {"event_id": "h", "type": "heartbeat", "ts": 10_000, "room_id": "r",
...            "user_id": "u", "watch_ms": 1000}]
>>> attacked, targets = inject(stream, "click-farm", period_ms=3_000)
>>> targets
[Target(room_id='r', start=300, end=10000, item_id='b')]
>>> sum(e["type"] == "item_click" for e in attacked)
4
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch
from models.params import RoomParams
from models.room import Room

ATTACKS: Final = ("one-vote", "click-farm", "sybil", "id-squat", "clock-jump")
ATTACKER: Final = "attacker-"  # every injected account's user_id starts with this
START_MS: Final = 300  # after the showcase starts
SYBILS: Final = 20
AHEAD_MS: Final = 599_000  # a clock-jump's lead: inside the default max_ahead_ms (600 s)
ACTIONS: Final = ("item_click", "add_to_cart", "purchase")


@dataclass(frozen=True, slots=True)
class Target:
    room_id: str
    start: int
    end: int
    item_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the other viewers got: the share of their pushes (during an attack) holding the
    attacked item, and HR@3 of their pushes against their next actions."""

    target_share: float
    pushes: int
    others_hr: float
    actions: int


def inject(events: Iterable[dict[str, Any]], attack: str,
           period_ms: int = 3_000) -> tuple[list[dict[str, Any]], list[Target]]:
    """``events`` with the attack's events added, in arrival order (by ``ts``, but a
    clock-jump's heartbeats arrive when sent, ahead of their ``ts``), and what they target."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; attacks: {', '.join(ATTACKS)}")
    stream = list(events)
    spans: dict[str, list[dict[str, Any]]] = {}
    for e in stream:
        if e.get("type") == "showcase" and e.get("items"):
            spans.setdefault(e["room_id"], []).append(e)
    end_of_stream = max((e["ts"] for e in stream), default=0)
    added: list[tuple[int, dict[str, Any]]] = []  # (arrival, event)
    targets: list[Target] = []
    for room, shows in sorted(spans.items()):
        future = -1  # the clock-jumper's newest ts in this room
        for n, show in enumerate(shows):
            start = show["ts"] + START_MS
            end = shows[n + 1]["ts"] if n + 1 < len(shows) else end_of_stream
            if end <= start:
                continue
            target = Target(room, start, end, show["items"][-1]["item_id"])
            targets.append(target)
            tag = f"{room}-{n}"
            if attack == "id-squat":
                if n + 1 < len(shows):
                    nxt = shows[n + 1]
                    added.append((nxt["ts"] - 1, _heartbeat(room, nxt["ts"] - 1, tag,
                                                            event_id=nxt["event_id"])))
            elif attack == "clock-jump":
                for arrival in range(start, end, period_ms * 10 // 3):
                    future = max(future, arrival) + AHEAD_MS
                    added.append((arrival, _heartbeat(room, future, f"{tag}-{arrival}")))
            else:
                added.extend((e["ts"], e) for e in _attack_span(attack, target, tag, period_ms))
    timed = [(e["ts"], e) for e in stream] + added
    return [e for _, e in sorted(timed, key=lambda pair: pair[0])], targets


def _heartbeat(room: str, ts: int, tag: str, event_id: str = "") -> dict[str, Any]:
    """One forging account's heartbeat (no watch time: it moves nothing but the clock)."""
    return {"event_id": event_id or f"{ATTACKER}{tag}", "type": "heartbeat", "ts": ts,
            "room_id": room, "user_id": f"{ATTACKER}{room}", "watch_ms": 0}


def _attack_span(attack: str, t: Target, tag: str, period_ms: int) -> list[dict[str, Any]]:
    accounts = [f"{ATTACKER}{t.room_id}"] if attack != "sybil" else [
        f"{ATTACKER}{tag}-{k}" for k in range(SYBILS)]
    out: list[dict[str, Any]] = []

    def add(kind: str, ts: int, user: str, **fields: Any) -> None:
        out.append({"event_id": f"{ATTACKER}{tag}-{len(out)}", "type": kind, "ts": ts,
                    "room_id": t.room_id, "user_id": user, **fields})

    for user in accounts:
        add("enter", t.start, user)
    ts, k = t.start + 500, 0
    while ts < t.end and (attack != "one-vote" or k < 1):
        user = accounts[k % len(accounts)]
        add("item_click", ts, user, item_id=t.item_id)
        if attack == "one-vote" or k % 5 == 4:
            add("add_to_cart", ts + 1, user, item_id=t.item_id)
        if k % 10 == 0:
            add("heartbeat", ts + 2, user, watch_ms=30_000)
        ts, k = ts + period_ms, k + 1
    return out


def replay_pushes(events: Iterable[dict[str, Any]],
                  params: RoomParams) -> list[tuple[str, str, int, tuple[str, ...]]]:
    """Every push of the job's rooms over ``events`` (no engine): (room, viewer, trigger ts,
    items best first)."""
    rooms: dict[str, Room] = {}
    pushes: list[tuple[str, str, int, tuple[str, ...]]] = []
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


def _collect(outputs: Iterable[object], pushes: list[tuple[str, str, int, tuple[str, ...]]],
             ) -> None:
    for out in outputs:
        if isinstance(out, PushBatch):
            for user, top in zip(out.user_ids, out.top.tolist(), strict=True):
                pushes.append((out.room_id, user, out.ts,
                               tuple(out.item_ids[i] for i in top if i >= 0)))


def outcome(events: Iterable[dict[str, Any]],
            pushes: Iterable[tuple[str, str, int, tuple[str, ...]]],
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
