"""ShelfWorld: a live-commerce world whose viewers do not choose by "taste + popularity".

An independent world generator for ``roomrank lab --world tests/worlds/shelf_world.py:ShelfWorld``.
It emits contract-v1 room events (``enter``, ``leave``, ``heartbeat``, ``showcase``, ``like``,
``comment``, ``share``, ``follow``, ``gift``, ``item_click``, ``add_to_cart``, ``purchase``,
``room_close``) and knows, for its oracle, each viewer's hidden utility for every item of the
showcase at the moment the viewer is exposed to it.

The shared world (all four variants)
------------------------------------
* A catalogue of items in eight categories; each item has a list price (category base price
  times a log-normal factor) and a hidden appeal ``q``. Every room has a shop of 40-70 items
  leaning to 2-3 categories. A host changes the showcase every 20-90 s: either a *refresh*
  (keeps ~60 % of the items in their order, inserts new ones at random places, redraws prices
  with flash discounts on ~20 % of the items, a new spotlight, usually a new arrival) or a
  *spotlight move* (same list, the host presents another item). Each room's showcase is 8-30
  items; every (item set, spotlight) pair occurs once in a world.
* Viewers have a home room (rooms differ in popularity); about 65 % of them come in friend groups of
  2-5 who arrive together. Sessions last minutes; some viewers come back, a few visit another
  room, some vanish without a ``leave``. While present a viewer heartbeats every 10-30 s
  (``watch_ms`` = ms since the previous heartbeat or the ``enter``), chats (likes, comments,
  sometimes about the spotlight item, shares, gifts, one follow; friends echo comments), and
  makes item *decisions* at a personal Poisson rate, plus a quick reaction to a showcase change
  with some probability. A decision is a multinomial-logit (Gumbel-max) choice of one item of
  the showcase in force from the variant's utility ``U``; it yields an ``item_click``, maybe an
  ``add_to_cart`` 4-40 s later and maybe a ``purchase`` after that (only while the item is still
  on the showcase and the viewer still present). Every variant has a personal spotlight pull.
* ``enter`` carries ``attrs`` ``{"device", "spend_tier", "member"}``: each is a noisy hint of one
  hidden trait (device -> attention span, spend tier -> deal vs prestige, member -> novelty
  seeking) and pure noise in the variants that do not use that trait.
* Population (viewers, their traits and friends, catalogue, shops) comes from ``seed % 1000``;
  the day (sessions, showcases, choices) from ``seed`` and the variant. So the lab's
  "yesterday" world (seed + 1000) shows the same people and goods on another day.

The four variants (the choice mechanism, i.e. ``U`` of item i for viewer v at time t)
------------------------------------------------------------------------------------------
``novelty``   boredom and curiosity. ``U = 0.6 q + pull [spotlight] + curiosity_v [i was not on
              any showcase v saw before this one] - 2.2 min(clicks_v(i), 2) - boredom_v *
              sum over v's actions in i's category of exp(-age / 150 s)``. Clicked items are
              avoided (v browses onward), a category just acted on goes stale for minutes.
              Learnable: per-viewer recency of items and categories, the exposure history.
``anchoring`` relative price only. ``U = 0.35 q + pull [spotlight] + beta_v (1.4 deal_i + 0.8
              cheapest_i)`` with ``deal_i = log(median price of i's category on this showcase /
              price_i)`` and ``cheapest_i`` = i is the cheapest of its category (of >= 2) on this
              showcase. ``beta_v > 0`` for deal hunters (70 %), ``< 0`` for prestige buyers who go
              for the dearest of a category. Absolute price means nothing; the same item's
              appeal changes with its neighbours and discounts. Cart rate also rises with
              ``beta_v deal_i``. Learnable: each viewer's sign of relative-price preference.
``social``    herding on a hidden friend graph. ``U = 0.7 q + pull [spotlight] + herd_v *
              min(2.5, sum over v's friends' recent actions on i of w exp(-age / 240 s))`` with
              w = 1 click, 1.5 cart, 2 purchase. The graph is never emitted; its traces are
              friends arriving together, echoed comments and following clicks.
``position``  the host's list order and attention span. ``v`` looks only at the first
              ``span_v`` entries of ``items`` (3-8 on a phone, 6-14 on a tablet, 10-30 on a tv;
              15 % of viewers ignore their device) plus the spotlight; ``U = 0.8 q + pull
              [spotlight] - 0.15 position_i`` inside that window. Learnable: positions each
              viewer clicks at, item appeal.

``oracle_ranking`` returns the showcase ordered by ``U`` for that viewer as it stood when the
viewer was exposed to that showcase (its ``showcase`` event, or the viewer's ``enter`` during
it); items outside a ``position`` viewer's window follow, in list order. A viewer it never saw
exposed to the showcase gets ``U`` from their traits and the showcase alone.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPOCH_MS = 1_764_331_200_000
CATEGORIES = ("beauty", "snacks", "apparel", "home", "digital", "toys", "sports", "books")
BASE_PRICE = {"beauty": 39.0, "snacks": 12.0, "apparel": 59.0, "home": 35.0,
              "digital": 129.0, "toys": 25.0, "sports": 49.0, "books": 18.0}
QUALITY_SCALE = {"novelty": 0.6, "anchoring": 0.35, "social": 0.7, "position": 0.8}
CATEGORY_DECAY_MS = 150_000.0
FRIEND_DECAY_MS = 240_000.0
PRESENCE_TIMEOUT_MS = 90_000  # the contract's default: a silent viewer counts this long
FRIEND_WEIGHT = {"item_click": 1.0, "add_to_cart": 1.5, "purchase": 2.0}

# heap entry kinds, in the order same-millisecond ties are resolved
_SHOW, _ENTER, _BEAT, _DECIDE, _REACT, _CART, _BUY, _CHAT, _ECHO, _LEAVE, _CLOSE = range(11)


@dataclass
class _Item:
    item_id: str
    category: str
    list_price: float
    quality: float


@dataclass
class _Viewer:
    user_id: str
    home: int
    attrs: dict[str, str | int]
    pull: float  # spotlight pull
    activity: float  # item decisions per minute
    chatter: float  # chat events per minute
    beat_ms: int  # heartbeat period
    span: int  # position: list entries looked at
    curiosity: float  # novelty: bonus for items new to the viewer
    boredom: float  # novelty: penalty per recent action in a category
    beta: float  # anchoring: weight of relative cheapness (< 0: prestige)
    herd: float  # social: weight of friends' recent actions
    friends: tuple[int, ...] = ()
    # the day's state
    room: int | None = None
    token: int = 0
    last_beat: int = 0
    seen: set[str] = field(default_factory=set)
    fresh: set[str] = field(default_factory=set)
    clicks: dict[str, int] = field(default_factory=dict)
    acted: dict[str, list[int]] = field(default_factory=dict)
    inbox: list[tuple[int, str, float]] = field(default_factory=list)
    followed: set[int] = field(default_factory=set)


@dataclass
class _Shelf:
    items: tuple[dict[str, Any], ...]
    spotlight: str
    position: dict[str, int]
    deal: dict[str, float]
    cheapest: dict[str, float]

    @property
    def key(self) -> tuple[frozenset[str], str]:
        return frozenset(self.position), self.spotlight


def _relative_prices(items: tuple[dict[str, Any], ...]) -> tuple[dict[str, float],
                                                                  dict[str, float]]:
    by_cat: dict[str, list[float]] = {}
    for it in items:
        by_cat.setdefault(it["category"], []).append(it["price"])
    deal: dict[str, float] = {}
    cheapest: dict[str, float] = {}
    for it in items:
        prices = by_cat[it["category"]]
        if len(prices) < 2:
            deal[it["item_id"]], cheapest[it["item_id"]] = 0.0, 0.0
            continue
        median = float(np.median(prices))
        deal[it["item_id"]] = max(-1.5, min(1.5, math.log(median / max(it["price"], 0.01))))
        cheapest[it["item_id"]] = 1.0 if it["price"] <= min(prices) else 0.0
    return deal, cheapest


def _shelf(items: list[dict[str, Any]], spotlight: str) -> _Shelf:
    frozen = tuple(items)
    deal, cheapest = _relative_prices(frozen)
    return _Shelf(frozen, spotlight, {it["item_id"]: k for k, it in enumerate(frozen)},
                  deal, cheapest)


def _price(x: float) -> float:
    return max(0.9, round(x) - 0.1)


class ShelfWorld:
    """Live rooms whose viewers choose by boredom, relative price, friends or list position."""

    VARIANTS: tuple[str, ...] = ("novelty", "anchoring", "social", "position")

    def __init__(self, seed: int, rooms: int = 10, viewers: int = 400, minutes: float = 15.0,
                 variant: str = "novelty") -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown ShelfWorld variant {variant!r}; "
                             f"known: {', '.join(self.VARIANTS)}")
        if rooms < 1 or viewers < 0 or minutes <= 0:
            raise ValueError("ShelfWorld needs rooms >= 1, viewers >= 0 and minutes > 0")
        self.seed, self.rooms, self.viewers, self.minutes = int(seed), rooms, viewers, minutes
        self.variant = variant
        self._end = int(minutes * 60_000)
        self._q = QUALITY_SCALE[variant]
        self._events: list[dict[str, Any]] = []
        self._snapshots: dict[tuple[str, frozenset[str], str], tuple[str, ...]] = {}
        self._shelves: dict[tuple[frozenset[str], str], _Shelf] = {}
        self._built = False
        self._population()

    # ------------------------------------------------------------------ population
    def _population(self) -> None:
        rng = np.random.default_rng([self.seed % 1000, 7001, self.rooms, self.viewers])
        n_items = max(120, 36 * self.rooms)
        self._items: dict[str, _Item] = {}
        for n in range(n_items):
            cat = CATEGORIES[n % len(CATEGORIES)]
            iid = f"sku-{n:04d}"
            self._items[iid] = _Item(iid, cat, _price(BASE_PRICE[cat] * rng.lognormal(0, 0.45)),
                                     float(rng.normal(0, 1)))
        by_cat = {c: [i for i in self._items.values() if i.category == c] for c in CATEGORIES}
        self._shops: list[list[_Item]] = []
        for _ in range(self.rooms):
            main = set(rng.choice(CATEGORIES, size=int(rng.integers(2, 4)), replace=False))
            size = int(rng.integers(40, 71))
            pool_main = [i for c in CATEGORIES if c in main for i in by_cat[c]]
            pool_rest = [i for c in CATEGORIES if c not in main for i in by_cat[c]]
            n_main = min(len(pool_main), round(size * 0.7))
            n_rest = min(len(pool_rest), size - n_main)
            pick = [pool_main[k] for k in rng.choice(len(pool_main), n_main, replace=False)]
            pick += [pool_rest[k] for k in rng.choice(len(pool_rest), n_rest, replace=False)]
            self._shops.append(pick)
        weights = 1.0 / np.arange(1, self.rooms + 1) ** 0.6
        weights = rng.permutation(weights / weights.sum())
        self._people: list[_Viewer] = []
        for n in range(self.viewers):
            home = int(rng.choice(self.rooms, p=weights))
            device = str(rng.choice(("phone", "tablet", "tv"), p=(0.6, 0.25, 0.15)))
            span_of = device if rng.random() < 0.85 else str(rng.choice(("phone", "tablet", "tv")))
            span = {"phone": int(rng.integers(3, 9)), "tablet": int(rng.integers(6, 15)),
                    "tv": int(rng.integers(10, 31))}[span_of]
            prestige = rng.random() < 0.3
            beta = -rng.uniform(0.6, 1.6) if prestige else rng.uniform(1.0, 2.5)
            tiers = (0.05, 0.15, 0.35, 0.45) if prestige else (0.4, 0.35, 0.18, 0.07)
            tier = int(rng.choice(4, p=tiers)) + 1
            curiosity = float(rng.uniform(0.3, 2.2))
            member = int(rng.random() < (0.75 if curiosity < 1.0 else 0.3))
            activity = float(rng.gamma(2.0, 0.13))
            chatter = float(rng.lognormal(0.5, 1.0)) if rng.random() < 0.75 else 0.02
            self._people.append(_Viewer(
                user_id=f"u-{n:04d}", home=home,
                attrs={"device": device, "spend_tier": tier, "member": member},
                pull=float(np.clip(rng.normal(1.0, 0.4), 0.0, 2.0)), activity=activity,
                chatter=chatter, beat_ms=int(rng.integers(10_000, 30_001)), span=span,
                curiosity=curiosity, boredom=float(rng.uniform(0.5, 1.5)), beta=float(beta),
                herd=float(rng.uniform(0.8, 2.5))))
        # friend groups inside each home room's audience
        self._groups: list[list[int]] = []
        for r in range(self.rooms):
            audience = [n for n, v in enumerate(self._people) if v.home == r]
            rng.shuffle(audience)
            k = 0
            while k < len(audience):
                size = int(rng.integers(2, 6)) if rng.random() < 0.35 else 1
                group = audience[k:k + size]
                k += size
                self._groups.append(group)
                for n in group:
                    self._people[n].friends = tuple(m for m in group if m != n)

    # ------------------------------------------------------------------ the day's plan
    def _showcase_plan(self) -> list[list[tuple[int, _Shelf]]]:
        rng = np.random.default_rng([self.seed, 5])
        used: set[tuple[frozenset[str], str]] = set()
        plans: list[list[tuple[int, _Shelf]]] = []
        for r in range(self.rooms):
            shop = self._shops[r]
            base = int(rng.integers(8, 31))
            t = int(rng.integers(0, 3_000))
            plan: list[tuple[int, _Shelf]] = []
            current: _Shelf | None = None
            while t < self._end:
                shelf = None
                if current is not None and rng.random() < 0.4:
                    shelf = self._move_spotlight(current, rng, used)
                if shelf is None:
                    shelf = self._refresh(current, shop, base, rng, used)
                used.add(shelf.key)
                self._shelves[shelf.key] = shelf
                plan.append((t, shelf))
                current = shelf
                t += int(rng.integers(20_000, 90_001))
            plans.append(plan)
        return plans

    @staticmethod
    def _move_spotlight(current: _Shelf, rng: np.random.Generator,
                        used: set[tuple[frozenset[str], str]]) -> _Shelf | None:
        ids = [it["item_id"] for it in current.items]
        at = current.position[current.spotlight]
        options = [ids[(at + 1) % len(ids)]] if rng.random() < 0.5 else []
        options += [ids[k] for k in rng.permutation(len(ids))]
        for spot in options:
            if spot != current.spotlight and (frozenset(ids), spot) not in used:
                return _Shelf(current.items, spot, current.position, current.deal,
                              current.cheapest)
        return None

    def _refresh(self, current: _Shelf | None, shop: list[_Item], base: int,
                 rng: np.random.Generator, used: set[tuple[frozenset[str], str]]) -> _Shelf:
        for _ in range(50):
            size = int(np.clip(base + rng.integers(-4, 5), 8, 30))
            size = min(size, len(shop))
            kept = [] if current is None else [
                it["item_id"] for it in current.items if rng.random() < 0.6][:size]
            rest = [i.item_id for i in shop if i.item_id not in kept]
            new = [rest[k] for k in rng.choice(len(rest), size - len(kept), replace=False)]
            order = list(kept)
            for iid in new:
                order.insert(int(rng.integers(0, len(order) + 1)), iid)
            items = []
            for iid in order:
                item = self._items[iid]
                cut = rng.uniform(0.6, 0.9) if rng.random() < 0.2 else 1.0
                items.append({"item_id": iid, "price": round(item.list_price * cut, 2),
                              "category": item.category})
            pool = new if new and rng.random() < 0.7 else order
            spot = pool[int(rng.integers(0, len(pool)))]
            shelf = _shelf(items, spot)
            if shelf.key not in used:
                return shelf
        raise RuntimeError("ShelfWorld could not draw a new showcase")  # pragma: no cover

    def _sessions(self) -> list[tuple[int, int, int, int, bool]]:
        """(viewer, room, start, end, says_leave) for the day."""
        rng = np.random.default_rng([self.seed, 3])
        mean_len = min(540_000.0, 0.6 * self._end)
        out: list[tuple[int, int, int, int, bool]] = []
        for group in self._groups:
            early = rng.random() < 0.45
            t0 = rng.uniform(0, 4_000) if early else rng.uniform(0, 0.92 * self._end)
            base_len = max(45_000.0, rng.exponential(mean_len))
            for k, n in enumerate(group):
                start = t0 + (0.0 if k == 0 else rng.exponential(15_000))
                length = base_len * rng.uniform(0.7, 1.3)
                room = self._people[n].home
                while start < self._end:
                    out.append((n, room, int(start), int(start + length), rng.random() < 0.92))
                    if rng.random() >= 0.35:
                        break
                    start = start + length + 10_000 + rng.exponential(120_000)
                    length = max(30_000.0, rng.exponential(0.6 * mean_len))
                    if rng.random() < 0.25 and self.rooms > 1:
                        room = int(rng.integers(0, self.rooms))
                    else:
                        room = self._people[n].home
        return out

    # ------------------------------------------------------------------ utilities
    def _utilities(self, v: _Viewer, shelf: _Shelf, t: int, static: bool = False
                   ) -> list[float]:
        out = []
        kind = self.variant
        if kind == "social" and not static:
            v.inbox = [e for e in v.inbox if t - e[0] < 4 * FRIEND_DECAY_MS]
        for k, it in enumerate(shelf.items):
            iid = it["item_id"]
            u = self._q * self._items[iid].quality
            if iid == shelf.spotlight:
                u += v.pull
            if kind == "novelty":
                if not static:
                    if iid in v.fresh:
                        u += v.curiosity
                    u -= 2.2 * min(v.clicks.get(iid, 0), 2)
                    u -= v.boredom * sum(math.exp(-(t - s) / CATEGORY_DECAY_MS)
                                         for s in v.acted.get(it["category"], ()))
            elif kind == "anchoring":
                u += v.beta * (1.4 * shelf.deal[iid] + 0.8 * shelf.cheapest[iid])
            elif kind == "social":
                if not static:
                    s = sum(w * math.exp(-(t - ts) / FRIEND_DECAY_MS)
                            for ts, j, w in v.inbox if j == iid)
                    u += v.herd * min(2.5, s)
            else:  # position
                if k >= v.span and iid != shelf.spotlight:
                    u = -math.inf
                else:
                    u -= 0.15 * k
            out.append(u)
        return out

    def _ranking(self, v: _Viewer, shelf: _Shelf, t: int, static: bool = False
                 ) -> tuple[str, ...]:
        utils = self._utilities(v, shelf, t, static)
        order = sorted(range(len(utils)), key=lambda k: (-utils[k], k))
        return tuple(shelf.items[k]["item_id"] for k in order)

    # ------------------------------------------------------------------ the simulation
    def _build(self) -> None:
        if self._built:
            return
        self._built = True
        rng = np.random.default_rng([self.seed, 11 + self.VARIANTS.index(self.variant)])
        heap: list[tuple[int, int, int, int, Any]] = []
        seq = 0

        def push(t: float, kind: int, who: int, data: Any = None) -> None:
            nonlocal seq
            seq += 1
            heapq.heappush(heap, (int(t), kind, seq, who, data))

        for r, plan in enumerate(self._showcase_plan()):
            for t, shelf in plan:
                push(t, _SHOW, r, shelf)
            push(self._end, _CLOSE, r)
        for n, room, start, end, says_leave in self._sessions():
            push(start, _ENTER, n, (room, min(end, self._end + 1), says_leave))

        current: list[_Shelf | None] = [None] * self.rooms
        present: list[set[int]] = [set() for _ in range(self.rooms)]
        ends: dict[int, int] = {}
        tag = f"shelf-{self.variant[:3]}-{self.seed}-"
        events = self._events

        heard: dict[int, int] = {}  # viewer -> last event time
        ghosts: list[set[int]] = [set() for _ in range(self.rooms)]  # gone without a leave

        def emit(kind: str, t: int, r: int, **fields: Any) -> None:
            events.append({"event_id": f"{tag}{len(events):06d}", "type": kind,
                           "ts": EPOCH_MS + t, "room_id": f"r-{r:02d}", **fields})
            if "user_id" in fields:
                heard[int(fields["user_id"].removeprefix("u-"))] = t

        def expose(n: int, shelf: _Shelf, t: int, watching: bool = True) -> None:
            v = self._people[n]
            ids = set(shelf.position)
            key = (v.user_id, *shelf.key)
            if not watching:  # still "present" for the job, but sees nothing: no state change
                if key not in self._snapshots:
                    kept, v.fresh = v.fresh, ids - v.seen
                    self._snapshots[key] = self._ranking(v, shelf, t)
                    v.fresh = kept
                return
            v.fresh = ids - v.seen
            v.seen |= ids
            if key not in self._snapshots:
                self._snapshots[key] = self._ranking(v, shelf, t)

        def alive(n: int, token: int) -> bool:
            return self._people[n].token == token and self._people[n].room is not None

        def remember(n: int, kind: str, iid: str, t: int) -> None:
            v = self._people[n]
            if kind == "item_click":
                v.clicks[iid] = v.clicks.get(iid, 0) + 1
            v.acted.setdefault(self._items[iid].category, []).append(t)
            for f in v.friends:
                self._people[f].inbox.append((t, iid, FRIEND_WEIGHT[kind]))

        while heap:
            t, kind, _, who, data = heapq.heappop(heap)
            if t >= self._end and kind != _CLOSE:
                continue  # the stream has ended
            if kind == _SHOW:
                current[who] = data
                emit("showcase", t, who, items=[dict(it) for it in data.items],
                     spotlight=data.spotlight)
                for n in sorted(ghosts[who]):
                    if t - heard[n] <= PRESENCE_TIMEOUT_MS:
                        expose(n, data, t, watching=False)
                for n in sorted(present[who]):
                    expose(n, data, t)
                    v = self._people[n]
                    if rng.random() < min(0.8, 0.6 * v.activity + 0.1):
                        push(t + rng.uniform(2_000, 15_000), _REACT, n, v.token)
            elif kind == _CLOSE:
                emit("room_close", t, who)
            elif kind == _ENTER:
                room, end, says_leave = data
                v = self._people[who]
                if v.room is not None:  # still in another room (overlapping plan): skip
                    continue
                v.room, v.token, v.last_beat = room, v.token + 1, t
                ghosts[room].discard(who)  # (the job may still count them in another room)
                present[room].add(who)
                ends[who] = end
                emit("enter", t, room, user_id=v.user_id, attrs=dict(v.attrs))
                if current[room] is not None:
                    expose(who, current[room], t)
                push(t + v.beat_ms * rng.uniform(0.8, 1.2), _BEAT, who, v.token)
                push(t + rng.exponential(60_000 / v.activity), _DECIDE, who, v.token)
                push(t + rng.exponential(60_000 / v.chatter), _CHAT, who, v.token)
                push(end, _LEAVE, who, (v.token, says_leave))
            elif kind == _LEAVE:
                token, says_leave = data
                v = self._people[who]
                if not alive(who, token) or v.room is None:
                    continue
                if says_leave:
                    emit("leave", t, v.room, user_id=v.user_id)
                else:
                    ghosts[v.room].add(who)
                present[v.room].discard(who)
                v.room = None
            elif kind == _BEAT:
                v = self._people[who]
                if not alive(who, data) or v.room is None:
                    continue
                emit("heartbeat", t, v.room, user_id=v.user_id, watch_ms=t - v.last_beat)
                v.last_beat = t
                nxt = t + v.beat_ms * rng.uniform(0.8, 1.2)
                if nxt < min(ends[who], self._end):
                    push(nxt, _BEAT, who, v.token)
            elif kind in (_DECIDE, _REACT):
                v = self._people[who]
                if not alive(who, data) or v.room is None:
                    continue
                if kind == _DECIDE:
                    push(t + rng.exponential(60_000 / v.activity), _DECIDE, who, v.token)
                shelf = current[v.room]
                if shelf is None:
                    continue
                utils = np.array(self._utilities(v, shelf, t))
                pick = int(np.argmax(utils + rng.gumbel(size=len(utils))))
                iid = shelf.items[pick]["item_id"]
                emit("item_click", t, v.room, user_id=v.user_id, item_id=iid)
                remember(who, "item_click", iid, t)
                p_cart = 0.27
                if self.variant == "anchoring":
                    p_cart = min(0.7, max(0.05, 0.27 * math.exp(0.8 * v.beta * shelf.deal[iid])))
                if rng.random() < p_cart:
                    push(t + rng.uniform(4_000, 40_000), _CART, who, (v.token, iid))
            elif kind in (_CART, _BUY):
                token, iid = data
                v = self._people[who]
                if not alive(who, token) or v.room is None:
                    continue
                shelf = current[v.room]
                if shelf is None or iid not in shelf.position:
                    continue
                if kind == _CART:
                    emit("add_to_cart", t, v.room, user_id=v.user_id, item_id=iid)
                    remember(who, "add_to_cart", iid, t)
                    if rng.random() < 0.45:
                        push(t + rng.uniform(5_000, 60_000), _BUY, who, (v.token, iid))
                else:
                    price = shelf.items[shelf.position[iid]]["price"]
                    qty = 2 if rng.random() < 0.1 else 1
                    emit("purchase", t, v.room, user_id=v.user_id, item_id=iid,
                         amount=round(price * qty, 2), qty=qty)
                    remember(who, "purchase", iid, t)
            elif kind in (_CHAT, _ECHO):
                v = self._people[who]
                if not alive(who, data) or v.room is None:
                    continue
                room = v.room
                if kind == _CHAT:
                    push(t + rng.exponential(60_000 / v.chatter), _CHAT, who, v.token)
                    roll = rng.random()
                else:
                    roll = 0.9
                shelf = current[room]
                if roll < 0.8:
                    emit("like", t, room, user_id=v.user_id)
                elif roll < 0.94:
                    if shelf is not None and rng.random() < 0.4:
                        emit("comment", t, room, user_id=v.user_id, item_id=shelf.spotlight)
                    else:
                        emit("comment", t, room, user_id=v.user_id)
                    if kind == _CHAT:
                        for f in v.friends:
                            if f in present[room] and rng.random() < 0.3:
                                push(t + rng.uniform(3_000, 20_000), _ECHO, f,
                                     self._people[f].token)
                elif roll < 0.97:
                    emit("share", t, room, user_id=v.user_id)
                elif roll < 0.985 and room not in v.followed:
                    v.followed.add(room)
                    emit("follow", t, room, user_id=v.user_id)
                else:
                    emit("gift", t, room, user_id=v.user_id)

    # ------------------------------------------------------------------ the protocol
    def events(self) -> Iterator[dict[str, Any]]:
        """The world's contract events, all rooms merged in ``ts`` order (fresh copies)."""
        self._build()
        for e in self._events:
            out = dict(e)
            if "items" in out:
                out["items"] = [dict(it) for it in out["items"]]
            if "attrs" in out:
                out["attrs"] = dict(out["attrs"])
            yield out

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]:
        """``item_ids`` best first by the viewer's hidden utility when they met this showcase."""
        self._build()
        wanted = list(dict.fromkeys(item_ids))
        ids = frozenset(wanted)
        ranking = self._snapshots.get((user_id, ids, spotlight or ""))
        if ranking is None:
            ranking = self._static_ranking(user_id, wanted, spotlight)
        inside = set(ranking)
        return [i for i in ranking if i in ids] + [i for i in wanted if i not in inside]

    def _static_ranking(self, user_id: str, wanted: list[str], spotlight: str | None
                        ) -> tuple[str, ...]:
        shelf = self._shelves.get((frozenset(wanted), spotlight or ""))
        if shelf is None:
            known = [i for i in wanted if i in self._items]
            items = [{"item_id": i, "price": self._items[i].list_price,
                      "category": self._items[i].category} for i in known]
            if not items:
                return tuple(wanted)
            shelf = _shelf(items, spotlight if spotlight in known else "")
        try:
            viewer = self._people[int(user_id.removeprefix("u-"))]
        except (ValueError, IndexError):
            viewer = _Viewer("", 0, {}, 1.0, 0.5, 0.5, 20_000, 8, 1.0, 1.0, 1.0, 1.0)
        return self._ranking(viewer, shelf, 0, static=True)
