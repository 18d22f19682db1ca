"""How the simulated hosts and viewers behave: the generative model behind ``models.sim.world``.

Viewers act in sessions: ``enter``, a heartbeat every ~30 s, spontaneous engagement, browsing that
turns into clicks, carts and purchases, and now and then opening a push. Every choice is drawn
from the hidden truth (:mod:`models.sim.truth`) so that an offline evaluation knows what a
perfect ranker would have done. Scalar draws use :class:`random.Random`: these loops are
per-event, where numpy's per-call overhead would dominate the run time.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.sim.regimes import REGIMES, Regime
from models.sim.truth import Item, Room, Viewer, WorldTruth

# --- behaviour knobs (per minute rates are per viewer, scaled by the viewer's activity) ---
HEARTBEAT_MS = 30_000
BROWSE_PER_MIN = 0.8  # moments a viewer considers the showcase
CHOICE_TASTE = 3.0  # how sharply the item looked at follows taste
CHOICE_SPOTLIGHT = 1.2  # the host presenting an item draws eyes to it
CHOICE_FRESH = 0.3  # items new in this showcase get a novelty bump
CHOICE_REPEAT = -1.0  # already clicked this session: less interesting
LIKE_PER_MIN, COMMENT_PER_MIN, SHARE_PER_MIN, GIFT_PER_MIN = 1.2, 0.15, 0.03, 0.02
FOLLOW_PER_SESSION = 0.08
PUSH_OPEN_P = 0.03  # chance a viewer opens the push of a trigger
LEAVE_P = 0.85  # the rest just stop heartbeating (app killed, network gone)
ROOM_TASTE = 1.5  # how much room choice follows taste (low keeps audiences mixed)
SESSION_MEDIAN_MIN, SESSION_SIGMA = 5.0, 0.9
GAP_MEAN_MIN = 6.0

# order of simultaneous events in one room: the host's snapshot first, room_close last
_PRIO = {"showcase": 0, "enter": 1, "leave": 3, "room_close": 9}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(slots=True)
class ShowcaseSpan:
    """One showcase event and the interval in which it is the room's current snapshot."""

    ts: int
    idx: np.ndarray  # catalogue indices, host's order
    spotlight: int  # catalogue index, -1 for none
    fresh: np.ndarray  # bool per entry: new in this showcase set
    event: dict[str, Any]
    idx_list: list[int] = field(init=False)
    fresh_list: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        # plain lists: the per-viewer loops are scalar, where numpy only adds overhead
        self.idx_list = [int(i) for i in self.idx]
        self.fresh_list = [bool(f) for f in self.fresh]


@dataclass(slots=True)
class RoomLog:
    """A room's events as generated (any order); ids wait until the room's order is final."""

    room: Room
    timeline: list[ShowcaseSpan]
    starts: list[int]
    end: int  # close time, or the end of the window
    rows: list[tuple[int, int, int, dict[str, Any]]] = field(default_factory=list)
    push_opens: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    regime: Regime = REGIMES["default"]

    def add(self, ts: int, event: dict[str, Any]) -> dict[str, Any]:
        self.rows.append((ts, _PRIO.get(event["type"], 2), len(self.rows), event))
        return event

    def showcase_at(self, ts: int) -> ShowcaseSpan:
        """The snapshot a viewer sees at ``ts`` (a showcase event applies from its own ts)."""
        return self.timeline[max(bisect.bisect_right(self.starts, ts) - 1, 0)]


def make_event(kind: str, ts: int, room_id: str, **fields: Any) -> dict[str, Any]:
    """A contract event whose ``event_id`` is filled in once the room's order is final."""
    return {"event_id": "", "type": kind, "ts": ts, "room_id": room_id, **fields}


def host_timeline(rng: np.random.Generator, room: Room, end: int) -> list[ShowcaseSpan]:
    """The host rotates the showcase every 2-5 min and moves the spotlight every 20-90 s."""
    out: list[ShowcaseSpan] = []
    t = room.opens_at
    previous: set[int] = set()
    n_cat = len(room.catalogue)
    while t < end or not out:
        period_end = t + int(rng.uniform(120_000, 300_000))
        size = min(int(rng.integers(8, 41)), n_cat)
        idx = rng.choice(n_cat, size=size, replace=False)
        fresh = np.array([int(i) not in previous for i in idx])
        previous = {int(i) for i in idx}
        spot = -1
        while (t < period_end and t < end) or not out:
            if rng.random() < 0.05:
                spot = -1  # host is chatting, nothing presented
            else:
                choices = [int(i) for i in idx if int(i) != spot]
                spot = choices[int(rng.integers(len(choices)))]
            entries = [room.catalogue[int(i)].as_showcase_entry() for i in idx]
            spotlight = room.catalogue[spot].item_id if spot >= 0 else None
            ev = make_event("showcase", t, room.room_id, spotlight=spotlight, items=entries)
            out.append(ShowcaseSpan(t, idx, spot, fresh, ev))
            t += int(rng.uniform(20_000, 90_000))
    return out


def viewer_sessions(
    rnd: random.Random,
    truth: WorldTruth,
    viewer: Viewer,
    logs: list[RoomLog],
    room_affinity: list[float],
    followed: set[tuple[str, str]],
) -> None:
    """Arrive, watch a room for a while, leave (or vanish), rest, maybe come back elsewhere."""
    t = truth.start_ms + 1 + int(rnd.expovariate(1 / (4.0 * 60_000)))
    last: int | None = None
    while t < truth.end_ms - 1_000:
        open_rooms = [i for i, lg in enumerate(logs) if lg.room.opens_at < t and lg.end > t + 5_000]
        if not open_rooms:
            t += 60_000
            continue
        if last in open_rooms and rnd.random() < 0.4:
            r = last
        else:
            w = [
                logs[i].room.popularity * math.exp(ROOM_TASTE * room_affinity[i])
                for i in open_rooms
            ]
            r = rnd.choices(open_rooms, weights=w)[0]
        last = r
        log = logs[r]
        duration = SESSION_MEDIAN_MIN * 60_000 * math.exp(SESSION_SIGMA * rnd.gauss(0.0, 1.0))
        t1 = min(t + max(int(duration), 15_000), log.end, truth.end_ms)
        says_bye = t1 < log.end and t1 < truth.end_ms and rnd.random() < LEAVE_P
        _session(rnd, viewer, log, t, t1, says_bye, followed)
        t = t1 + 2_000 + int(rnd.expovariate(1 / (GAP_MEAN_MIN * 60_000)))


def _session(
    rnd: random.Random,
    viewer: Viewer,
    log: RoomLog,
    t0: int,
    t1: int,
    says_bye: bool,
    followed: set[tuple[str, str]],
) -> None:
    room, uid = log.room, viewer.user_id
    rid = room.room_id
    enter = log.add(t0, make_event("enter", t0, rid, user_id=uid, attrs=dict(viewer.attrs)))
    last_hb = t0
    while True:
        t = last_hb + rnd.randrange(HEARTBEAT_MS - 2_000, HEARTBEAT_MS + 2_001)
        if t >= t1:
            break
        watched = t - last_hb
        if rnd.random() < 0.1:  # app in background for part of the interval
            watched = int(watched * rnd.uniform(0.5, 1.0))
        log.add(t, make_event("heartbeat", t, rid, user_id=uid, watch_ms=watched))
        last_hb = t
    if says_bye:
        log.add(t1, make_event("leave", t1, rid, user_id=uid))
    taste = viewer.taste
    if log.regime.drift:  # this session's taste: the viewer's, moved in a random direction
        shift = np.array([rnd.gauss(0.0, 1.0) for _ in range(len(taste))])
        moved = taste + log.regime.drift * shift / max(float(np.linalg.norm(shift)), 1e-12)
        taste = moved / max(float(np.linalg.norm(moved)), 1e-12)
    affinity: list[float] = (room.vecs @ taste).tolist()
    _shopping(rnd, viewer, log, t0, t1, affinity)
    _engagement(rnd, viewer, log, t0, t1, followed, affinity)
    _push_opens(rnd, viewer, log, enter, t0, t1, affinity)


def _arrivals(rnd: random.Random, per_min: float, t0: int, t1: int) -> Iterator[int]:
    """Poisson process times in (t0, t1): the natural clock for spontaneous actions."""
    if per_min <= 0:
        return
    rate = per_min / 60_000
    t = t0 + rnd.expovariate(rate)
    while t < t1:
        yield max(int(t), t0 + 1)
        t += rnd.expovariate(rate)


def _shopping(
    rnd: random.Random,
    viewer: Viewer,
    log: RoomLog,
    t0: int,
    t1: int,
    affinity: list[float],
) -> None:
    """Clicks follow taste, spotlight and novelty; carts and purchases also weigh the price."""
    rid, uid = log.room.room_id, viewer.user_id
    catalogue = log.room.catalogue
    repeat = math.exp(CHOICE_REPEAT)
    clicked: set[int] = set()
    weights: dict[int, list[float]] = {}  # per showcase position: choice weights this session
    for t in _arrivals(rnd, viewer.activity * BROWSE_PER_MIN, t0, t1):
        pos = max(bisect.bisect_right(log.starts, t) - 1, 0)
        show = log.timeline[pos]
        if pos not in weights:
            weights[pos] = [
                math.exp(
                    CHOICE_TASTE * affinity[i]
                    + catalogue[i].appeal
                    + CHOICE_FRESH * fresh
                    + (CHOICE_SPOTLIGHT if i == show.spotlight else 0.0)
                )
                * (repeat if i in clicked else 1.0)
                for i, fresh in zip(show.idx_list, show.fresh_list, strict=True)
            ]
        w = weights[pos]
        k = rnd.choices(range(len(w)), weights=w)[0]
        j = show.idx_list[k]
        aff = affinity[j]
        if rnd.random() >= _sigmoid(-0.3 + 2.5 * aff + 0.5 * catalogue[j].appeal):
            continue
        if j not in clicked:
            clicked.add(j)
            for p, ws in weights.items():  # novelty fades for this item everywhere
                for q, i in enumerate(log.timeline[p].idx_list):
                    if i == j:
                        ws[q] *= repeat
        item: Item = catalogue[j]
        log.add(t, make_event("item_click", t, rid, user_id=uid, item_id=item.item_id))
        over = max(0.0, math.log(item.price / viewer.budget))
        t_cart = t + 3_000 + int(rnd.expovariate(1 / 20_000))
        if t_cart >= t1 or rnd.random() >= _sigmoid(-1.0 + 2.5 * aff - 1.5 * over):
            continue
        log.add(t_cart, make_event("add_to_cart", t_cart, rid, user_id=uid, item_id=item.item_id))
        t_buy = t_cart + 5_000 + int(rnd.expovariate(1 / 40_000))
        if t_buy >= t1 or rnd.random() >= _sigmoid(0.0 + 1.5 * aff - 2.5 * over):
            continue
        qty = 1
        if item.price * 3 < viewer.budget and rnd.random() < 0.15:
            qty = rnd.randint(2, 3)
        amount = round(item.price * qty, 2)
        buy = make_event("purchase", t_buy, rid, user_id=uid, item_id=item.item_id, amount=amount)
        if qty > 1:
            buy["qty"] = qty
        log.add(t_buy, buy)


def _engagement(
    rnd: random.Random,
    viewer: Viewer,
    log: RoomLog,
    t0: int,
    t1: int,
    followed: set[tuple[str, str]],
    affinity: list[float],
) -> None:
    """Likes, comments, shares and gifts, often about the item being presented; in regimes
    where engagement carries taste, those about the item follow the viewer's taste for it."""
    taste_weight = log.regime.engagement_taste
    rid, uid = log.room.room_id, viewer.user_id
    gift_rate = GIFT_PER_MIN * min(3.0, viewer.budget / 60.0)
    plan = (
        ("like", LIKE_PER_MIN, 0.4),
        ("comment", COMMENT_PER_MIN, 0.3),
        ("share", SHARE_PER_MIN, 0.5),
        ("gift", gift_rate, 0.0),
    )
    for kind, rate, about_item in plan:
        for ts in _arrivals(rnd, viewer.activity * rate, t0, t1):
            ev = make_event(kind, ts, rid, user_id=uid)
            spot = log.showcase_at(ts).spotlight
            if spot >= 0 and rnd.random() < about_item:
                if taste_weight and rnd.random() >= _sigmoid(taste_weight * affinity[spot]):
                    continue
                ev["item_id"] = log.room.catalogue[spot].item_id
            log.add(ts, ev)
    if (uid, rid) not in followed and t1 > t0 + 1 and rnd.random() < FOLLOW_PER_SESSION:
        followed.add((uid, rid))
        ts = rnd.randrange(t0 + 1, t1)
        log.add(ts, make_event("follow", ts, rid, user_id=uid))


def _push_opens(
    rnd: random.Random,
    viewer: Viewer,
    log: RoomLog,
    enter: dict[str, Any],
    t0: int,
    t1: int,
    affinity: list[float],
) -> None:
    """Open a push before the next one arrives, so it is always the latest trigger's push.

    The triggers are the viewer's own ``enter`` and every showcase event while present; the
    rec_id is resolved once event ids exist (see ``_merge``).
    """
    k0 = bisect.bisect_right(log.starts, t0)
    k1 = bisect.bisect_left(log.starts, t1)
    triggers: list[tuple[int, dict[str, Any], ShowcaseSpan]] = [(t0, enter, log.showcase_at(t0))]
    triggers += [(s.ts, s.event, s) for s in log.timeline[k0:k1]]
    for n, (ts, trigger, show) in enumerate(triggers):
        if rnd.random() >= PUSH_OPEN_P:
            continue
        nxt = triggers[n + 1][0] if n + 1 < len(triggers) else t1
        t = ts + 500 + int(rnd.expovariate(1 / 10_000))
        if t >= nxt or t >= t1:
            continue
        top = sorted(show.idx_list, key=lambda i: -affinity[i])[:3]
        item_id = log.room.catalogue[rnd.choice(top)].item_id
        ev = make_event("push_open", t, log.room.room_id, user_id=viewer.user_id, item_id=item_id)
        log.push_opens.append((log.add(t, ev), trigger))
