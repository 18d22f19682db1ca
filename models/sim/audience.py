"""How simulated viewers react to the pushes they receive: the closed loop's user model.

What it assumes (``docs/experiments.md`` says why):

* **Choice with a no-choice option** (RecSim's multinomial logit): a delivered push of items
  ``1..k`` is opened on item ``j`` with probability ``e^{v_j} / (e^{v_0} + Σ_i e^{v_i})``;
  ``v_j = taste·affinity + appeal − position·(rank − 1) − fatigue``, the same hidden utility the
  organic world uses (``models.sim.behaviour``), and ``v_0`` (not opening) calibrated so that an
  average push is opened a few per cent of the time, as e-commerce push open rates are.
* **Position bias**: each rank further down costs ``POSITION_COST`` in utility (an
  exponential examination decay, as in RecSim's cascade-style position models).
* **Fatigue** (no public simulator models it): each viewer carries an exponentially decaying
  count of pushes received (half-life ``FATIGUE_HALF_LIFE_MS``). Beyond ``TOLERANCE`` pushes,
  every extra one costs ``FATIGUE_COST`` of utility on later opens and, at each delivery, may
  make the viewer mute pushes for good (``MUTE_P`` per excess push) or leave the room now
  (``LEAVE_P`` per excess push; KuaiSim's leave model, driven here by push pressure). A viewer
  who left comes back only on their next organic session.
* **Conversion after an open**: an open lands on the item card (a click with ``CLICK_P``),
  then cart and purchase follow the organic world's price-aware logits, raised by ``OPEN_LIFT``.

Every draw comes from a generator seeded by ``(seed, rec_id)``, so a viewer's reaction to a
push does not depend on how many other pushes were drawn before it.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Any, Final

from models.sim.behaviour import CHOICE_TASTE, make_event
from models.sim.truth import WorldTruth

NO_OPEN_UTILITY: Final = 4.3  # v_0: an average 3-item push is opened ~3-5 % of the time
POSITION_COST: Final = 0.7
TOLERANCE: Final = 4.0  # pushes (decayed count) a viewer takes without annoyance
FATIGUE_HALF_LIFE_MS: Final = 20 * 60_000
FATIGUE_COST: Final = 0.6
MUTE_P: Final = 0.02
LEAVE_P: Final = 0.03
DELIVERY_MEAN_MS: Final = 2_000  # push service and device: 0.5 s + exponential
OPEN_LAG_MEAN_MS: Final = 20_000
CLICK_P: Final = 0.8
OPEN_LIFT: Final = 0.5


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(slots=True)
class ViewerState:
    fatigue: float = 0.0
    at: int = 0  # event time fatigue was last updated
    muted: bool = False

    def decayed(self, now: int) -> float:
        return self.fatigue * 0.5 ** (max(now - self.at, 0) / FATIGUE_HALF_LIFE_MS)


@dataclass(slots=True)
class Reaction:
    """What one delivered push caused: events to insert, and what became of the viewer."""

    events: list[dict[str, Any]] = field(default_factory=list)
    opened: str | None = None  # item_id
    muted: bool = False
    left: bool = False


class Audience:
    """The viewers' side of the closed loop; state is per viewer, across rooms."""

    def __init__(self, truth: WorldTruth, seed: int) -> None:
        self.truth = truth
        self.seed = seed
        self.viewers: dict[str, ViewerState] = {}

    def receive(self, push: dict[str, Any], now: int) -> Reaction:
        """React to ``push`` (a contract recommendation object) released at event time
        ``now``: it arrives after a delivery delay, and may be opened later."""
        rnd = random.Random(f"{self.seed}:{push['rec_id']}")
        user, room_id = push["user_id"], push["room_id"]
        state = self.viewers.setdefault(user, ViewerState())
        out = Reaction()
        delivered = now + 500 + int(rnd.expovariate(1 / DELIVERY_MEAN_MS))
        fatigue = state.decayed(delivered) + 1.0
        state.fatigue, state.at = fatigue, delivered
        excess = max(fatigue - TOLERANCE, 0.0)
        if state.muted:
            return out
        if excess > 0 and rnd.random() < min(MUTE_P * excess, 1.0):
            state.muted = out.muted = True
            return out
        if excess > 0 and rnd.random() < min(LEAVE_P * excess, 1.0):
            out.left = True
            out.events.append(make_event("leave", delivered, room_id, user_id=user))
            return out
        viewer = self.truth.viewer(user)
        items = [self.truth.items[i["item_id"]] for i in push["items"]]
        if not items:
            return out
        utility = [
            CHOICE_TASTE * float(viewer.taste @ item.vec) + item.appeal
            - POSITION_COST * rank - FATIGUE_COST * excess
            for rank, item in enumerate(items)
        ]
        weights = [math.exp(NO_OPEN_UTILITY), *(math.exp(u) for u in utility)]
        pick = rnd.choices(range(len(weights)), weights=weights)[0]
        if pick == 0:
            return out
        item = items[pick - 1]
        out.opened = item.item_id
        t = delivered + 1_000 + int(rnd.expovariate(1 / OPEN_LAG_MEAN_MS))
        event = make_event("push_open", t, room_id, user_id=user, item_id=item.item_id,
                           rec_id=push["rec_id"])
        out.events.append(event)
        if rnd.random() >= CLICK_P:
            return out
        t += 1_000 + int(rnd.expovariate(1 / 3_000))
        out.events.append(make_event("item_click", t, room_id, user_id=user,
                                     item_id=item.item_id))
        affinity = float(viewer.taste @ item.vec)
        over = max(0.0, math.log(item.price / viewer.budget))
        if rnd.random() >= _sigmoid(-1.0 + 2.5 * affinity - 1.5 * over + OPEN_LIFT):
            return out
        t += 3_000 + int(rnd.expovariate(1 / 20_000))
        out.events.append(make_event("add_to_cart", t, room_id, user_id=user,
                                     item_id=item.item_id))
        if rnd.random() >= _sigmoid(0.0 + 1.5 * affinity - 2.5 * over + OPEN_LIFT):
            return out
        t += 5_000 + int(rnd.expovariate(1 / 40_000))
        out.events.append(make_event("purchase", t, room_id, user_id=user, item_id=item.item_id,
                                     amount=round(item.price, 2)))
        return out


class Reactions:
    """Reactions waiting for their event time, and who they sent away.

    The closed loop and the closed-loop demo share it: each reaction enters the stream when
    the stream's clock reaches it; a viewer who left for fatigue is gone from that room (their
    organic events dropped) until their next organic ``enter`` there; a closed room takes no
    more reactions. One counter orders reactions of the same time and names their event ids,
    so a seed gives the same stream.
    """

    def __init__(self, audience: Audience, seed: int) -> None:
        self.audience = audience
        self.seed = seed
        self.heap: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0
        self.gone: set[tuple[str, str]] = set()
        self.closed: set[str] = set()

    def schedule(self, push: dict[str, Any], now: int) -> Reaction:
        reaction = self.audience.receive(push, now)
        for event in reaction.events:
            self.seq += 1
            heapq.heappush(self.heap, (event["ts"], self.seq, event))
        return reaction

    def next_ts(self) -> int | None:
        return self.heap[0][0] if self.heap else None

    def pop(self) -> dict[str, Any]:
        return heapq.heappop(self.heap)[2]

    def admit(self, event: dict[str, Any], reaction: bool) -> bool:
        """Whether ``event`` enters the stream (a reaction gets its event id here)."""
        room_id, user = event["room_id"], event.get("user_id")
        if reaction and room_id in self.closed:
            return False
        if user is not None:
            key = (room_id, user)
            if event["type"] == "enter" and not reaction:
                self.gone.discard(key)
            elif key in self.gone:
                return False
            if reaction and event["type"] == "leave":
                self.gone.add(key)
        if reaction:
            self.seq += 1
            event["event_id"] = f"{room_id}-cl{self.seed}-{self.seq:07d}"
        return True
