"""The closed loop: the job's rooms and a reacting audience, alternating in event time.

The open-loop world (``models.sim.world``) is written before any job runs, so its viewers
never see a push. Here the world's organic stream (without its blind ``push_open``s) is fed,
event by event in arrival order, to one engine-free ``Room`` per room, exactly as the
dataflow would; every push a room releases is handed to the ``Audience``, whose reactions
(push opens with ``rec_id``, clicks, carts, purchases, fatigue leaves) wait in a heap and
enter the stream before the first world event later than them. Event time drives both
sides, no wall clock, and every draw is seeded: the same seed gives the same stream, pushes
and reactions. The stream actually fed is the run's record: replayed through the Bytewax
flow (``roomrank run``) it gives the same pushes, because a room's outputs depend only on
its events in arrival order (a test checks this).

A viewer who leaves for fatigue is gone from that room until their next organic ``enter``
there: their organic events in between are dropped, which is what the leave costs.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from features.contract.messages import PushBatch, push_dicts
from models.experiment.allocation import Assignments, new_allocator
from models.experiment.log import GHOST_PUSH
from models.experiment.serving import Ghosts
from models.params import RoomParams
from models.room import Room, RoomStats
from models.sim.audience import Audience, Reactions
from models.sim.regimes import REGIMES, Regime
from models.sim.world import World

HOUR_MS = 3_600_000


@dataclass(slots=True)
class ArmTally:
    viewers: set[str] = field(default_factory=set)
    watch_ms: Counter[str] = field(default_factory=Counter)  # per viewer
    purchases: Counter[str] = field(default_factory=Counter)
    revenue: Counter[str] = field(default_factory=Counter)
    push_purchases: int = 0
    push_revenue: float = 0.0
    pushes: int = 0
    ghosts: int = 0
    skipped: int = 0
    opens: int = 0
    mutes: int = 0
    leaves: int = 0
    assigned: int = 0  # viewers assigned by an adaptive allocation


@dataclass(slots=True)
class ClosedLoopRun:
    """Everything a closed-loop run produced: its stream, the job's outputs, the tallies."""

    events: list[dict[str, Any]]
    pushes: list[dict[str, Any]]
    ghosts: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    dead_letters: int
    arms: dict[str, ArmTally]
    seed: int
    cut_rooms: int = 0  # rooms whose allocation cut an arm (stop-loss)

    def experiment_log(self) -> list[dict[str, Any]]:
        """The experiment log the job would write: ghost pushes, then assignments."""
        return [{"kind": GHOST_PUSH, **g} for g in self.ghosts] + self.assignments

    def summary(self, resamples: int = 400) -> dict[str, Any]:
        """Per arm: pushes, opens, open rate, purchases and revenue per viewer-hour (all, and
        caused by push opens), and the lift in purchases per viewer-hour over ``holdout``
        with a 95 % bootstrap interval over viewers."""
        out: dict[str, Any] = {}
        base = self.arms.get("holdout")
        rng = np.random.default_rng([self.seed, 99])
        for name, t in sorted(self.arms.items()):
            hours = sum(t.watch_ms.values()) / HOUR_MS
            scale = 1.0 / hours if hours else 0.0
            row: dict[str, Any] = {
                "viewers": len(t.viewers),
                "viewer_hours": round(hours, 2),
                "pushes": t.pushes,
                "ghost_pushes": t.ghosts,
                "skipped": t.skipped,
                "opens": t.opens,
                "open_rate": round(t.opens / t.pushes, 4) if t.pushes else 0.0,
                "mutes": t.mutes,
                "fatigue_leaves": t.leaves,
                "assigned": t.assigned,
                "purchases_per_viewer_hour": round(sum(t.purchases.values()) * scale, 4),
                "revenue_per_viewer_hour": round(sum(t.revenue.values()) * scale, 2),
                "push_purchases_per_viewer_hour": round(t.push_purchases * scale, 4),
                "push_revenue_per_viewer_hour": round(t.push_revenue * scale, 2),
            }
            if base is not None and name not in ("holdout", "unassigned"):
                row["lift_purchases_per_viewer_hour_vs_holdout"] = _lift(t, base, rng, resamples)
            out[name] = row
        return out


def _rates(t: ArmTally) -> tuple[np.ndarray, np.ndarray]:
    users = sorted(t.viewers)
    return (np.array([t.purchases[u] for u in users], float),
            np.array([t.watch_ms[u] / HOUR_MS for u in users], float))


def _lift(arm: ArmTally, base: ArmTally, rng: np.random.Generator, n: int) -> dict[str, float]:
    """Difference of ratio estimators (purchases / viewer-hours), viewers resampled."""
    a, b = _rates(arm), _rates(base)
    if not (a[1].sum() and b[1].sum()):
        return {"mean": 0.0, "low": 0.0, "high": 0.0}
    point = a[0].sum() / a[1].sum() - b[0].sum() / b[1].sum()
    draws = []
    for _ in range(n):
        ia = rng.integers(0, len(a[0]), len(a[0]))
        ib = rng.integers(0, len(b[0]), len(b[0]))
        ha, hb = a[1][ia].sum(), b[1][ib].sum()
        if ha and hb:
            draws.append(a[0][ia].sum() / ha - b[0][ib].sum() / hb)
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (point, point)
    return {"mean": round(float(point), 4), "low": round(float(low), 4),
            "high": round(float(high), 4)}


def run_closed_loop(
    params: RoomParams,
    seed: int,
    rooms: int,
    viewers: int,
    minutes: float,
    *,
    dup_rate: float = 0.005,
    late_rate: float = 0.005,
    regime: Regime = REGIMES["default"],
    shared_allocation: bool = False,
) -> ClosedLoopRun:
    """``shared_allocation``: every room assigns from one allocator pooling all rooms' counts.
    The job cannot run that (its rooms' order across workers is not fixed, so it would not
    replay); it is here to measure what keeping the allocation per room costs."""
    world = World(seed, rooms, viewers, minutes, dup_rate=dup_rate, late_rate=late_rate,
                  regime=regime)
    return _Loop(world, params, shared_allocation).run()


class _Loop:
    def __init__(self, world: World, params: RoomParams, shared_allocation: bool = False
                 ) -> None:
        self.world = world
        self.params = params
        self.shared = new_allocator(params, "shared") if shared_allocation else None
        self.reactions = Reactions(Audience(world.truth, world.seed), world.seed)
        self.rooms: dict[str, Room] = {}
        self.stream: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.ghosts: list[dict[str, Any]] = []
        self.letters = 0
        self.caused: dict[str, int] = {}  # event_id of a reaction purchase -> 1
        self.tally: dict[str, ArmTally] = defaultdict(ArmTally)
        self.arm_of: dict[str, str] = {}
        self.assigned: dict[tuple[str, str], str] = {}
        self.assignments: list[dict[str, Any]] = []

    def arm(self, room_id: str, user: str) -> ArmTally:
        """The viewer's arm in this room: by hash for a fixed split; with an adaptive
        allocation, as the room assigned it (``unassigned`` before their first push)."""
        if self.params.allocation != "fixed":
            return self.tally[self.assigned.get((room_id, user), "unassigned")]
        name = self.arm_of.get(user)
        if name is None:
            name = self.arm_of[user] = self.params.arms.assign(user, self.params.experiment)
        return self.tally[name]

    def run(self) -> ClosedLoopRun:
        end, reactions = self.world.truth.end_ms, self.reactions
        for ev in organic(self.world):
            while (due := reactions.next_ts()) is not None and due <= ev["ts"]:
                self._feed(reactions.pop(), reaction=True)
            self._feed(ev, reaction=False)
        while (due := reactions.next_ts()) is not None and due <= end:
            self._feed(reactions.pop(), reaction=True)
        for room in self.rooms.values():  # the end of the input: what rooms hold is applied
            self._outputs(room.flush(), None)
        allocators = [r.allocator for r in self.rooms.values()] + [self.shared]
        cut = sum(bool(a.cut.any()) for a in allocators if a is not None)
        return ClosedLoopRun(self.stream, self.pushes, self.ghosts, self.assignments, self.letters,
                             dict(self.tally), self.world.seed, cut)

    def _feed(self, ev: dict[str, Any], reaction: bool) -> None:
        room_id, user = ev["room_id"], ev.get("user_id")
        if not self.reactions.admit(ev, reaction):
            return
        if reaction and ev["type"] == "leave" and user is not None:
            self.arm(room_id, user).leaves += 1
        self.stream.append(ev)
        self._account(ev, reaction)
        event = decode_event(orjson.dumps(ev), Origin("closed-loop", 0, len(self.stream)))
        if isinstance(event, DeadLetter):
            self.letters += 1
            return
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, self.params)
            if self.shared is not None:
                room.allocator = self.shared
        self._outputs(room.accept([event]), event)
        if room.closed:
            del self.rooms[room_id]
            self.reactions.closed.add(room_id)

    def _account(self, ev: dict[str, Any], reaction: bool) -> None:
        user = ev.get("user_id")
        if user is None:
            return
        t = self.arm(ev["room_id"], user)
        t.viewers.add(user)
        etype = ev["type"]
        if etype == "heartbeat":
            t.watch_ms[user] += ev["watch_ms"]
        elif etype == "purchase":
            t.purchases[user] += 1
            t.revenue[user] += ev["amount"]
            if reaction:
                t.push_purchases += 1
                t.push_revenue += ev["amount"]
        elif etype == "push_open":
            t.opens += 1

    def _outputs(self, outputs: list[Any], cause: Event | None) -> None:
        for item in outputs:
            if isinstance(item, PushBatch):
                for push in push_dicts(item, 0):
                    self.pushes.append(push)
                    self.arm(item.room_id, str(push["user_id"])).pushes += 1
                    if cause is not None:
                        self._react(push, cause.ts)
            elif isinstance(item, Ghosts):
                for push in push_dicts(item.batch, 0):
                    self.ghosts.append(push)
                    self.arm(item.batch.room_id, str(push["user_id"])).ghosts += 1
            elif isinstance(item, Assignments):
                for record in item.records():
                    self.assignments.append(record)
                    self.assigned[(item.room_id, str(record["user_id"]))] = str(record["arm"])
                    self.tally[str(record["arm"])].assigned += 1
            elif isinstance(item, RoomStats):
                for (arm, _reason), n in item.skipped.items():
                    self.tally[arm].skipped += n
            elif isinstance(item, DeadLetter):
                self.letters += 1

    def _react(self, push: dict[str, Any], now: int) -> None:
        if self.reactions.schedule(push, now).muted:
            self.arm(push["room_id"], push["user_id"]).mutes += 1


def organic(world: World) -> Iterator[dict[str, Any]]:
    """The world's own stream without its blind ``push_open``s (the open loop's stand-in for
    reactions to pushes its viewers never saw)."""
    for ev in world.events():
        if ev["type"] != "push_open":
            yield ev


def write_jsonl(path: str, records: list[dict[str, Any]]) -> None:
    """``-`` is standard output."""
    fh = sys.stdout.buffer if path == "-" else open(path, "wb")  # noqa: SIM115
    try:
        for record in records:
            fh.write(orjson.dumps(record) + b"\n")
    finally:
        if fh is not sys.stdout.buffer:
            fh.close()


COLUMNS = (
    ("viewer_hours", "viewer-h", "{:.1f}"),
    ("pushes", "pushes", "{}"),
    ("ghost_pushes", "ghosts", "{}"),
    ("skipped", "skipped", "{}"),
    ("open_rate", "open", "{:.1%}"),
    ("mutes", "muted", "{}"),
    ("fatigue_leaves", "left", "{}"),
    ("purchases_per_viewer_hour", "buys/vh", "{:.3f}"),
    ("revenue_per_viewer_hour", "rev/vh", "{:.2f}"),
    ("push_purchases_per_viewer_hour", "push buys/vh", "{:.3f}"),
)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a terminal table, the lift over holdout with its 95 % interval."""
    lines = [f"{'arm':<12}" + "".join(f"{title:>14}" for _, title, _ in COLUMNS)
             + "   lift buys/vh vs holdout [95%]"]
    for arm, row in summary.items():
        cells = "".join(f"{fmt.format(row[key]):>14}" for key, _, fmt in COLUMNS)
        lift = row.get("lift_purchases_per_viewer_hour_vs_holdout")
        tail = f"   {lift['mean']:+.3f} [{lift['low']:+.3f}, {lift['high']:+.3f}]" if lift else ""
        lines.append(f"{arm:<12}{cells}{tail}")
    return "\n".join(lines)
