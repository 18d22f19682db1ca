"""A live-commerce world written from the event contract alone, for ``roomrank lab --world``.

See ``StudioWorld``'s docstring for the generative model.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# category -> (consumable?, median price)
CATEGORIES: dict[str, tuple[bool, float]] = {
    "snacks": (True, 12.0), "skincare": (True, 60.0), "tea": (True, 25.0),
    "pet_food": (True, 35.0), "household": (True, 18.0), "apparel": (False, 80.0),
    "shoes": (False, 120.0), "electronics": (False, 250.0), "kitchen": (False, 70.0),
    "toys": (False, 40.0),
}
CATS = tuple(CATEGORIES)

VARIANTS: dict[str, str] = {
    "budget_drift": "hidden budgets drift over the show (up or down per viewer) and jump "
                    "for promo-sensitive viewers during the room's promo windows",
    "anchor_scarcity": "hero-first pitch order: a cheaper item looks cheap next to a dearer "
                       "one of its category pitched lately; low stock adds urgency",
    "coupons_ads": "viewers sent by an external ad for one item want that item; coupons "
                   "(viewer attrs) make one item cheaper for some viewers only",
    "lurkers_repeat": "sellers run 2-3 rooms sharing viewers and catalogue; lurkers watch "
                      "long and buy once; consumables are re-bought, durables never twice",
}

SPOT_BOOST = {"budget_drift": 0.5, "anchor_scarcity": 0.9, "coupons_ads": 0.5,
              "lurkers_repeat": 0.6}
HEARTBEAT_MS = 30_000
SOLD_OUT = -1e9


@dataclass
class Item:
    item_id: str
    category: str
    price: float
    list_price: float
    stock: int
    title: str


@dataclass
class Viewer:
    user_id: str
    taste: dict[str, float]
    budget: float
    drift: float  # hidden: log-budget change over the whole show (budget_drift)
    promo_lift: float  # hidden: budget multiplier in promo windows (budget_drift)
    lurker: bool
    tier: int
    device: str
    purchases: list[tuple[int, str]] = field(default_factory=list)  # (ts, item_id)


@dataclass
class Session:
    user: str
    room: int
    start: int
    end: int
    attrs: dict[str, str | float]
    ad_item: str | None = None
    coupon_item: str | None = None
    coupon_off: float = 0.0
    leaves: bool = True


@dataclass
class Room:
    room_id: str
    seller: int
    items: list[Item]  # showcase order
    starts: list[int] = field(default_factory=list)  # showcase (pitch period) start times
    spotlights: list[str] = field(default_factory=list)
    promo: list[frozenset[str]] = field(default_factory=list)  # per period: discounted ids


class StudioWorld:
    """Live-commerce rooms whose viewers choose items by a hidden multinomial-logit weight.

    Generative model (shared by all variants). 10 categories, half consumable. Each room is
    run by a seller: 16-22 items from 2-3 categories, lognormal prices around the category's
    median, a ``list_price`` and a ``stock`` in ``attrs`` (stock is the seller's and counts
    down with purchases; a sold-out item stays listed with stock 0 and cannot be chosen).
    The host pitches items one after another, 45-80 s each, in a pitch order; each change of
    pitch is a ``showcase`` (the pitched item pinned first, ``spotlight`` = it). Viewers have
    a hidden taste over categories (two favourites), a hidden budget (``spend_tier`` 1-5 in
    the enter ``attrs`` is a noisy view of it), and watch 1-3 sessions, heartbeating every
    30 s; an active viewer makes a choice about once a minute: at time t an item i of the
    current showcase is drawn with probability proportional to exp(u(v, i, t)), with

        u = 1.5 log taste[cat] - 1.8 max(0, log(p_eff / budget(t)))
            - 0.25 max(0, log(budget(t) / p_eff)) + spot [i is pitched now] + variant terms

    and the choice is an ``item_click``, then with some chance an ``add_to_cart`` and a
    ``purchase`` (likelier when affordable). Likes, comments, shares, gifts and follows are
    noise. Variants (``VARIANTS``):

    - ``budget_drift``: budget(t) = budget * exp(drift * (t/T - 1/2)), drift = +-1.2 per
      viewer (hidden; the ``device`` attr agrees with it 70% of the time); rooms run two
      promo windows in which some categories' prices drop 30% (``promo``=1 in item attrs)
      and promo-sensitive viewers' budgets are multiplied by 1.5-3.
    - ``anchor_scarcity``: pitch order is by category, dearest ("hero") first; an item whose
      category had a dearer item pitched in the last three periods (reference price ref)
      gains 1.2 log(ref/p); 0.8 log(list_price/p) for the visible discount; +0.9 when 1-5
      left in stock; the pitched item counts more (spot 0.9).
    - ``coupons_ads``: 30% of viewers arrive once from an external ad for one item (enter
      attrs ``source``="ad", ``ad_item``): +2.5 for it, short sessions; half of all sessions
      carry a coupon for one item of the room (``coupon_item``, ``coupon_off``): its
      effective price drops by the coupon and it gains +0.6.
    - ``lurkers_repeat``: sellers run 2-3 rooms with one catalogue (same item ids, own pitch
      order) and a viewer's later sessions go to the same seller's rooms 75% of the time;
      40% of viewers are lurkers (long sessions, likes and heartbeats, rare clicks, one
      purchase late in the session from a sharpened choice); after a purchase a consumable
      gains +1.0 (re-bought, qty 1-3), a durable loses 5 and its category 1.

    ``oracle_ranking`` ranks a showcase by u at the trigger time (the showcase's time, or the
    viewer's entry time for an ``enter`` trigger), sold-out items last.
    """

    VARIANTS = tuple(VARIANTS)

    def __init__(self, seed: int = 1, rooms: int = 10, viewers: int = 400,
                 minutes: float = 15.0, variant: str = "budget_drift") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
        self.seed, self.variant = seed, variant
        self.n_rooms, self.n_viewers = rooms, viewers
        self.T = int(minutes * 60_000)
        self.t0 = 1_780_000_000_000 + seed * 86_400_000
        self.rng = random.Random(seed * 7919 + VARIANTS_INDEX[variant])
        self.items: dict[str, Item] = {}
        self.rooms: list[Room] = []
        self.viewers: dict[str, Viewer] = {}
        self.sessions: list[Session] = []
        self.sold: dict[str, list[int]] = {}  # item -> purchase times (sorted by simulation)
        self.out: list[tuple[int, int, dict[str, Any]]] = []
        self._build_rooms()
        self._build_viewers()
        self._build_sessions()
        self._index_showcases()
        self._simulate()

    # ----------------------------------------------------------------- the world
    def _build_rooms(self) -> None:
        rng, v = self.rng, self.variant
        per_seller = [1] * self.n_rooms
        if v == "lurkers_repeat":
            per_seller, left = [], self.n_rooms
            while left > 0:
                k = min(left, rng.choice((2, 3)))
                per_seller.append(k)
                left -= k
        r = 0
        for seller, n in enumerate(per_seller):
            cats = rng.sample(CATS, rng.choice((2, 3)))
            catalogue = []
            for k in range(rng.randint(16, 22)):
                cat = rng.choice(cats)
                price = round(CATEGORIES[cat][1] * math.exp(rng.gauss(0, 0.55)), 1) or 1.0
                item = Item(f"s{seller}-sku{k}", cat, price,
                            round(price * rng.uniform(1.0, 1.8), 1), rng.randint(3, 25),
                            f"{cat} #{k}")
                catalogue.append(item)
                self.items[item.item_id] = item
                self.sold[item.item_id] = []
            for _ in range(n):
                self.rooms.append(self._pitch(Room(f"studio-{r}", seller, catalogue)))
                r += 1

    def _pitch(self, room: Room) -> Room:
        rng = self.rng
        order = list(room.items)
        rng.shuffle(order)
        if self.variant == "anchor_scarcity":
            cats = list(dict.fromkeys(i.category for i in order))
            order = [i for c in cats for i in sorted(order, key=lambda i: -i.price)
                     if i.category == c]
        promo_cats: frozenset[str] = frozenset()
        windows: list[tuple[int, int]] = []
        if self.variant == "budget_drift":
            cats = sorted({i.category for i in order})
            promo_cats = frozenset(rng.sample(cats, max(1, len(cats) // 2)))
            a = rng.uniform(0.15, 0.35) * self.T
            b = rng.uniform(0.6, 0.75) * self.T
            windows = [(int(a), int(a + 150_000)), (int(b), int(b + 150_000))]
        t, n = rng.randint(0, 4_000), rng.randrange(len(order))
        while t < self.T - 20_000:
            room.starts.append(t)
            room.spotlights.append(order[n % len(order)].item_id)
            on = any(a <= t < b for a, b in windows)
            room.promo.append(frozenset(i.item_id for i in order if on and i.category in
                                        promo_cats))
            t += rng.randint(45_000, 80_000)
            n += 1
        return room

    def _build_viewers(self) -> None:
        rng, v = self.rng, self.variant
        lurk = 0.4 if v == "lurkers_repeat" else 0.1
        for n in range(self.n_viewers):
            favs = rng.sample(CATS, 2)
            taste = {c: 0.03 for c in CATS}
            taste[favs[0]] += 0.6
            taste[favs[1]] += 0.3
            budget = math.exp(rng.gauss(math.log(60), 0.8))
            drift = rng.choice((1.2, -1.2)) if v == "budget_drift" else 0.0
            device = ("tablet" if drift > 0 else "phone") if rng.random() < 0.7 else \
                rng.choice(("tablet", "phone"))
            lift = rng.uniform(1.5, 3.0) if v == "budget_drift" and rng.random() < 0.5 else 1.0
            noisy = budget * math.exp(rng.gauss(0, 0.5))
            tier = 1 + sum(noisy > x for x in (25, 45, 80, 140))
            self.viewers[f"u{n}"] = Viewer(f"u{n}", taste, budget, drift, lift,
                                           rng.random() < lurk, tier, device)

    def _build_sessions(self) -> None:
        rng, v = self.rng, self.variant
        for viewer in self.viewers.values():
            count = 1 + (rng.random() < 0.55) + (rng.random() < 0.25)
            ad = v == "coupons_ads" and rng.random() < 0.3
            t = int(rng.uniform(0, 0.7) * self.T)
            last: int | None = None
            for s in range(count):
                if t > self.T - 60_000:
                    break
                room = self._choose_room(viewer, last)
                mean = 600_000 if viewer.lurker else 240_000
                if ad and s == 0:
                    mean = 150_000
                end = min(self.T - 5_000, t + 30_000 + int(rng.expovariate(1 / mean)))
                attrs: dict[str, str | float] = {"spend_tier": viewer.tier,
                                                 "device": viewer.device}
                sess = Session(viewer.user_id, room, t, end, attrs,
                               leaves=rng.random() < 0.9)
                items = self.rooms[room].items
                if ad and s == 0:
                    sess.ad_item = rng.choice(items).item_id
                    attrs.update(source="ad", ad_item=sess.ad_item)
                else:
                    attrs["source"] = rng.choice(("feed", "feed", "follow", "search"))
                if v == "coupons_ads" and rng.random() < 0.5:
                    it = rng.choice(items)
                    sess.coupon_item = it.item_id
                    sess.coupon_off = round(it.price * rng.uniform(0.2, 0.4), 1)
                    attrs.update(coupon_item=it.item_id, coupon_off=sess.coupon_off)
                self.sessions.append(sess)
                last = room
                t = end + int(rng.expovariate(1 / 60_000)) + 2_000

    def _choose_room(self, viewer: Viewer, last: int | None) -> int:
        rng = self.rng
        if last is not None and self.variant == "lurkers_repeat" and rng.random() < 0.75:
            mates = [n for n, r in enumerate(self.rooms)
                     if r.seller == self.rooms[last].seller and n != last]
            if mates:
                return rng.choice(mates)
        if rng.random() < 0.6:
            weights = [sum(viewer.taste[i.category] for i in r.items) for r in self.rooms]
            return rng.choices(range(len(self.rooms)), weights)[0]
        return rng.randrange(len(self.rooms))

    def _index_showcases(self) -> None:
        """(item ids in showcase order, spotlight) -> [(room, period)]: how the oracle, which
        is given only those, finds the showcase it is asked about."""
        self.keys: dict[tuple[tuple[str, ...], str], list[tuple[int, int]]] = {}
        for r, room in enumerate(self.rooms):
            for p, spot in enumerate(room.spotlights):
                self.keys.setdefault((self._order(room, p), spot), []).append((r, p))
        self.entries: dict[tuple[str, int], list[int]] = {}
        for s in self.sessions:
            self.entries.setdefault((s.user, s.room), []).append(s.start)
        for times in self.entries.values():
            times.sort()

    def _order(self, room: Room, period: int) -> tuple[str, ...]:
        spot = room.spotlights[period]
        return (spot, *(i.item_id for i in room.items if i.item_id != spot))

    # ----------------------------------------------------------------- choice weights
    def _period(self, room: Room, t: int) -> int:
        return max(0, bisect.bisect_right(room.starts, t) - 1)

    def _stock(self, item: Item, t: int) -> int:
        return item.stock - bisect.bisect_right(self.sold[item.item_id], t)

    def _budget(self, viewer: Viewer, room: Room, item: Item, t: int) -> float:
        b = viewer.budget * math.exp(viewer.drift * (t / self.T - 0.5))
        if item.item_id in room.promo[self._period(room, t)]:
            b *= viewer.promo_lift
        return b

    def _price(self, room: Room, item: Item, t: int) -> float:
        if item.item_id in room.promo[self._period(room, t)]:
            return round(item.price * 0.7, 1)
        return item.price

    def utility(self, user: str, room_n: int, item_id: str, t: int,
                session: Session | None = None) -> float:
        viewer, room, item = self.viewers[user], self.rooms[room_n], self.items[item_id]
        if self._stock(item, t) <= 0:
            return SOLD_OUT
        v = self.variant
        p = self._price(room, item, t)
        u = 1.5 * math.log(viewer.taste[item.category])
        if session is not None and session.coupon_item == item_id:
            p = max(1.0, p - session.coupon_off)
            u += 0.6
        if session is not None and session.ad_item == item_id:
            u += 2.5
        ratio = math.log(p / self._budget(viewer, room, item, t))
        u += -1.8 * max(0.0, ratio) - 0.25 * max(0.0, -ratio)
        period = self._period(room, t)
        if room.spotlights[period] == item_id:
            u += SPOT_BOOST[v]
        if v == "anchor_scarcity":
            recent = [self.items[s] for s in room.spotlights[max(0, period - 2):period + 1]]
            ref = max((i.price for i in recent if i.category == item.category), default=0.0)
            if ref > item.price:
                u += 1.2 * math.log(ref / item.price)
            u += 0.8 * math.log(item.list_price / item.price)
            if self._stock(item, t) <= 5:
                u += 0.9
        if v == "lurkers_repeat":
            bought = [i for ts, i in viewer.purchases if ts < t]
            if item_id in bought:
                u += 1.0 if CATEGORIES[item.category][0] else -5.0
            if any(self.items[i].category == item.category and not
                   CATEGORIES[item.category][0] for i in bought):
                u -= 1.0
        return u

    def _session_at(self, user: str, room_n: int, t: int) -> Session | None:
        for s in self.sessions:
            if s.user == user and s.room == room_n and s.start <= t <= s.end:
                return s
        return None

    # ----------------------------------------------------------------- simulation
    def _add(self, kind: str, ts: int, room: Room, delay: int = 0, **fields: Any) -> None:
        ev = {"event_id": f"w9-{self.seed}-{len(self.out)}", "type": kind,
              "ts": self.t0 + ts, "room_id": room.room_id, **fields}
        self.out.append((ts + delay, len(self.out), ev))

    def _simulate(self) -> None:
        rng, v = self.rng, self.variant
        todo: list[tuple[int, int, str, Session]] = []  # (ts, n, kind, session)
        for s in self.sessions:
            room = self.rooms[s.room]
            viewer = self.viewers[s.user]
            self._add("enter", s.start, room, user_id=s.user, attrs=dict(s.attrs))
            last = s.start
            t = s.start + rng.randint(HEARTBEAT_MS - 3_000, HEARTBEAT_MS)
            while t < s.end:
                self._add("heartbeat", t, room, user_id=s.user, watch_ms=t - last)
                last = t
                t += rng.randint(HEARTBEAT_MS - 2_000, HEARTBEAT_MS + 2_000)
            if s.leaves:
                self._add("leave", s.end, room, user_id=s.user)
            rate = 1 / 50_000 if not viewer.lurker else 1 / 900_000
            t = s.start + 3_000 + int(rng.expovariate(rate))
            while t < s.end - 1_000:
                todo.append((t, len(todo), "choice", s))
                t += int(rng.expovariate(rate)) + 2_000
            if viewer.lurker and rng.random() < 0.7 and s.end - s.start > 60_000:
                t = int(s.start + (s.end - s.start) * rng.uniform(0.6, 0.97))
                todo.append((t, len(todo), "lurk_buy", s))
            t = s.start + int(rng.expovariate(1 / 40_000))
            while t < s.end:
                spot = room.spotlights[self._period(room, t)]
                kind = rng.choices(("like", "comment", "share", "gift", "follow"),
                                   (20, 6, 1, 1 if viewer.tier >= 4 else 0.2, 0.5))[0]
                extra = {"item_id": spot} if rng.random() < 0.5 else {}
                self._add(kind, t, room, delay=self._jitter(), user_id=s.user, **extra)
                t += int(rng.expovariate(1 / 40_000)) + 1_000
        todo.sort(key=lambda x: (x[0], x[1]))
        for t, _, kind, s in todo:
            self._choose(t, s, sharp=2.0 if kind == "lurk_buy" else 1.0,
                         buy=kind == "lurk_buy")
        for r, room in enumerate(self.rooms):
            for p, start in enumerate(room.starts):
                items = []
                for item_id in self._order(room, p):
                    it = self.items[item_id]
                    attrs: dict[str, str | float] = {"list_price": it.list_price,
                                                     "stock": max(0, self._stock(it, start))}
                    if item_id in room.promo[p]:
                        attrs["promo"] = 1
                    items.append({"item_id": item_id, "price": self._price(room, it, start),
                                  "category": it.category, "title": it.title, "attrs": attrs})
                self._add("showcase", start, room, items=items, spotlight=room.spotlights[p])
            self._add("room_close", self.T + 1_000 + r, room)
        del v

    def _jitter(self) -> int:
        return self.rng.randint(0, 1_500) if self.rng.random() < 0.03 else 0

    def _choose(self, t: int, s: Session, sharp: float, buy: bool) -> None:
        rng, room = self.rng, self.rooms[s.room]
        ids = self._order(room, self._period(room, t))
        utils = [self.utility(s.user, s.room, i, t, s) for i in ids]
        best = max(utils)
        if best <= SOLD_OUT:
            return
        weights = [math.exp(sharp * (u - best)) if u > SOLD_OUT else 0.0 for u in utils]
        pick = rng.choices(ids, weights)[0]
        item, viewer = self.items[pick], self.viewers[s.user]
        self._add("item_click", t, room, delay=self._jitter(), user_id=s.user, item_id=pick)
        price = self._price(room, item, t)
        if s.coupon_item == pick:
            price = max(1.0, price - s.coupon_off)
        afford = min(1.0, self._budget(viewer, room, item, t) / price)
        if not buy and rng.random() > 0.35:
            return
        t2 = t + rng.randint(2_000, 15_000)
        if t2 >= s.end:
            return
        self._add("add_to_cart", t2, room, delay=self._jitter(), user_id=s.user, item_id=pick)
        if (not buy and rng.random() > 0.6 * afford) or self._stock(item, t2) <= 0:
            return
        t3 = t2 + rng.randint(3_000, 20_000)
        if t3 >= s.end:
            return
        qty = rng.randint(1, 3) if CATEGORIES[item.category][0] else 1
        self._add("purchase", t3, room, delay=self._jitter(), user_id=s.user, item_id=pick,
                  amount=round(price * qty, 2), qty=qty)
        bisect.insort(self.sold[pick], t3)
        viewer.purchases.append((t3, pick))

    # ----------------------------------------------------------------- the lab's interface
    def events(self) -> Iterator[dict[str, Any]]:
        return iter([ev for _, _, ev in sorted(self.out, key=lambda x: (x[0], x[1]))])

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]:
        ids = list(item_ids)
        found = self.keys.get((tuple(ids), spotlight or ""), [])
        if user_id not in self.viewers or not found:
            return ids
        # the showcase the viewer was in; the trigger is its start, or the viewer's entry
        chosen: tuple[int, int] | None = None
        when = 0
        for r, p in found:
            room = self.rooms[r]
            start = room.starts[p]
            stop = room.starts[p + 1] if p + 1 < len(room.starts) else self.T + 2_000
            entries = [e for e in self.entries.get((user_id, r), []) if start <= e < stop]
            if entries:
                chosen, when = (r, p), entries[-1]
            elif self._session_at(user_id, r, start) is not None and chosen is None:
                chosen, when = (r, p), start
        if chosen is None:
            chosen, when = found[0], self.rooms[found[0][0]].starts[found[0][1]]
        r = chosen[0]
        session = self._session_at(user_id, r, when)
        score = {i: self.utility(user_id, r, i, when, session) for i in ids}
        return sorted(ids, key=lambda i: -score[i])


VARIANTS_INDEX = {name: n for n, name in enumerate(VARIANTS)}
