"""The closed loop through the real dataflow, for a person to watch (``demo --closed-loop``).

``roomrank simulate --closed-loop`` runs the rooms in-process, alternating with the audience
in event time, to measure. Here the same audience (``models.sim.audience``) sits on both ends
of the Bytewax flow: the screen hands it every push it shows, its reactions (opens with the
push's ``rec_id``, clicks, carts, purchases, fatigue leaves) join the world's own events in the
paced source, and the screen prints them as they happen, with a running tally.

Unlike the measuring loop this one is paced by the wall clock, so it is not replayable: a
push reaches the audience only after its room released it (held for the lateness), and a
reaction whose time has already passed on the stream's clock enters at the clock's time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flows.connectors.simulated import product_name
from models.sim.audience import Audience, Reactions
from models.sim.world import World


class ClosedLoopDemo:
    """A ``Stream`` for the paced source and an ``Audience`` for the screen."""

    def __init__(self, world: World, events: Iterator[dict[str, Any]],
                 items: dict[str, tuple[str, float | None]]) -> None:
        """``events``: the world's organic stream (``models.sim.closed_loop.organic``),
        possibly through a ``ShowcaseTap`` that fills ``items``."""
        self.reactions = Reactions(Audience(world.truth, world.seed), world.seed)
        self._organic = events
        self._next = next(self._organic, None)
        self._end = world.truth.end_ms
        self._items = items
        self._lines: list[tuple[int, str]] = []
        self.clock = 0  # the newest event time released
        self.pushes = self.opens = self.buys = 0
        self.revenue = 0.0

    # -- the source's side ------------------------------------------------------------------
    def peek_ts(self) -> int | None:
        organic_ts = None if self._next is None else int(self._next["ts"])
        reaction_ts = self.reactions.next_ts()
        if reaction_ts is not None and (organic_ts is None and reaction_ts > self._end):
            reaction_ts = None  # reactions after the world's end have no stream to join
        if reaction_ts is None:
            return organic_ts
        reaction_ts = max(reaction_ts, self.clock)
        return reaction_ts if organic_ts is None else min(reaction_ts, organic_ts)

    def take(self) -> dict[str, Any] | None:
        due = self.reactions.next_ts()
        reaction = due is not None and (self._next is None or due <= self._next["ts"])
        if reaction:
            event = self.reactions.pop()
        else:
            if self._next is None:
                raise RuntimeError("take() after the stream ended: peek_ts() said None")
            event, self._next = self._next, next(self._organic, None)
        if not self.reactions.admit(event, reaction):
            return None
        if reaction:
            event["ts"] = max(int(event["ts"]), self.clock)
            self._announce(event)
        self.clock = max(self.clock, int(event["ts"]))
        if event["type"] == "room_close":
            self.reactions.closed.add(event["room_id"])
        return event

    # -- the screen's side ------------------------------------------------------------------
    def deliver(self, push: dict[str, Any]) -> None:
        self.pushes += 1
        self.reactions.schedule(push, int(push["ts"]))

    def drain(self) -> list[tuple[int, str]]:
        lines, self._lines = self._lines, []
        return lines

    def tally(self) -> str:
        rate = self.opens / self.pushes if self.pushes else 0.0
        return (f"closed loop: {self.pushes:,} pushes, {self.opens:,} opened ({rate:.1%}),"
                f" {self.buys:,} purchases after an open (${self.revenue:,.2f})")

    def _announce(self, event: dict[str, Any]) -> None:
        etype = event["type"]
        if etype == "push_open":
            self.opens += 1
            what = f"opened the push on {product_name(event['item_id'], self._items)}"
        elif etype == "purchase":
            self.buys += 1
            self.revenue += float(event["amount"])
            what = f"bought {product_name(event['item_id'], self._items)} after opening a push"
        elif etype == "leave":
            what = "left the room: too many pushes"
        else:
            return
        stamp = datetime.fromtimestamp(int(event["ts"]) / 1000, UTC).strftime("%H:%M:%S")
        self._lines.append((int(event["ts"]),
                            f"{stamp} {event['room_id']} ← {event['user_id']} {what}"
                            f"   [{self.tally()}]"))

