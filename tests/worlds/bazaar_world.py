"""BazaarWorld: an independent simulator of live-commerce rooms (event contract v1).

Written on 2026-12-04 by a separate agent that read only /work/shared/contract/EVENTS.md and a
brief, none of the project's code, docs or other worlds; kept as written (this paragraph
aside). It was first scored after the pooled priors were fitted without it, with weights
pooled from the other three simulators (docs/evaluation.md, "Priors learned from four
simulators"); since then it is one of the four the priors are pooled over.

Shared generative model. Rooms (``rooms``): a hidden theme (2-3 of 12 categories get
90% of the weight), a catalogue of 24-50 items, popularity 0.3 + Pareto(1.5), a
showcase size around U{5..20}. Items: visible category, title, price; hidden brand (1 of
4), 3-d style s, quality q ~ N(0, .5), reference price ref = median(cat) * LogN(0, .5),
list price = ref * U(.8, 1). Items are paired at random in a room; the dearer of a pair
is an "anchor", the other its "accessory". Viewers (``viewers``): visible enter attrs
spend_tier 1-5, age_band, new_user, device; hidden category taste
t = clip(log(12 * Dirichlet(.3 + 1.2 A[age_band])), -3, 2) (A random, so age_band is
weakly informative), style w, favourite brand per category,
beta = max(0, 1.5 - .25 tier + N(0, .3)), gamma = exp(N(.6 - .08 tier, .4)), activity
a ~ LogN(-.4, 1) (heavy tail), a shopping list of 1-2 categories, a lurker flag (60%).
Time runs in 1 s ticks. Rooms open in the first 20 s; each viewer arrives once (25% in
the first minute, else uniform) in a room drawn ~ popularity * (sum_c theme_c e^t_c)^.8,
stays LogN(log 150 s, .9) (>= 20 s), heartbeats every 30 +- 2 s (watch_ms = ms since the
enter or the previous heartbeat), leaves (7% silently) and hops to another room 2-60 s
later with p = .35. Per second: like / comment / share / follow (once) / gift with p =
.02a / .004a / .0008a / .0005a / .0004a*tier/3, half naming the spotlight item; a
shopping decision with rate a / 45 s: a multinomial logit over the items on show (sold
out excluded) plus an outside option of utility 3 picks an item_click; then
add_to_cart 3-25 s later with p = sigmoid(U - 1), then purchase 4-40 s after that with
p = sigmoid(U - 1.5) (qty 2-3 w.p. .3 for consumables), each dropped if the item left
the showcase, sold out or the viewer left. At the end all viewers leave, room_close.

  U(u, i) = q_i + 1.3 t_u[c_i] + 0.9 w_u.s_i + 1.0 [brand_i = fav_u(c_i)]
            + price term + showcase-context term + viewer-history term.
Defaults: price term -beta_u log(price_i / median(c_i)); context +0.8 for the spotlight;
no history term. ``oracle_ranking`` sorts by U at the matching snapshot (same items in
the same order, else same set, with the same spotlight; among several, the first one
the viewer was in the room for) at the moment max(snapshot start, viewer's enter), using
the viewer's carts/purchases up to that moment; ``at_ms`` pins the moment. An unknown
viewer gets the population part (q, price term with beta .9 / gamma 1.8, context).

Variants:
bundles: hidden complements. Buying an anchor adds +2.5 to its accessory (+1.2 if only
    carted); an item already bought gets -3. An anchor added to the showcase brings its
    accessory along with p = .7 (rarely as spotlight).
flash: scarcity and price anchoring. Items carry attrs ref_price, stock (20-120); on a
    showcase change the new spotlight gets a flash deal w.p. .55: price ref*U(.45, .75),
    stock 4-25, attrs deal_ends_at (60-180 s later). Price term is
    gamma_u log(ref / price) - .25 beta_u log(price / median): the discount against the
    reference matters, the price level hardly. +.8 in a deal's last 30 s, +.6 when 1-5
    units are left; stock 0 = sold out: unbuyable, ranked last, still listed until the
    host drops it (p = .6 per change). List order: deals, others, sold out; an ended
    deal moves to the back. Sell-outs and deal ends re-emit the showcase.
pitch: the host's pitch queue, not the spotlight. The list order is the pitch order: the
    host is presenting items[0], has announced items[1], just finished items[-1]; every
    25-90 s the list rotates by one, sometimes (p = .3) queueing a new item at position
    1. Context: +2.2 / +1.0 / +0.6 at positions 0 / 1 / last; the spotlight is a pinned
    "hero" item (null while unpinned, toggling w.p. .15 per change) worth only +0.3.
missions: shopping lists and lurkers. +2.5 for a listed category not yet bought; a
    bought durable category -2 (satisfied, across rooms); a bought consumable (beauty,
    skincare, snacks, pet) +1.2 for the same brand (repeat), +.2 otherwise. A viewer
    whose list is done leaves 20-90 s later. Lurkers decide at 0.1x rate for the first
    75% of their planned stay, then at 3x. Room choice favours rooms covering the list.
"""

from __future__ import annotations

import copy
import heapq
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

T0_MS = 1_764_331_200_000
CATEGORIES = ("beauty", "skincare", "apparel", "shoes", "snacks", "kitchen",
              "electronics", "toys", "home", "jewelry", "pet", "sports")
NC = len(CATEGORIES)
MEDIAN_PRICE = np.array([89.0, 129, 159, 259, 39, 99, 399, 79, 69, 199, 59, 149])
CONSUMABLE = frozenset({0, 1, 4, 10})  # beauty, skincare, snacks, pet
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
N_BRANDS, HB_MS, U_OUT, DEC_PER_S = 4, 30_000, 3.0, 1.0 / 45.0
POP_BETA, POP_GAMMA, SOLD_OUT, BIG_STOCK = 0.9, 1.8, -1e9, 10**9


@dataclass
class _Item:
    item_id: str
    cat: int
    brand: int
    style: np.ndarray
    quality: float
    ref_price: float
    list_price: float
    title: str
    partner: str | None = None


@dataclass
class _Viewer:
    user_id: str
    attrs: dict[str, str | int]
    taste: np.ndarray
    style: np.ndarray
    fav_brand: np.ndarray
    beta: float
    gamma: float
    activity: float
    lurker: bool
    needs: frozenset[int]


@dataclass
class _Snap:
    room: int
    start: int
    items: tuple[str, ...]
    spotlight: str | None
    price: dict[str, float]
    stock: dict[str, int]
    deal_end: dict[str, int]
    end: int = 1 << 62


@dataclass
class _Session:
    user: int
    enter: int
    plan_end: int
    active_from: int
    last_hb: int
    next_hb: int
    visit: list[int]
    followed: bool = False
    done: bool = False


@dataclass
class _Room:
    idx: int
    room_id: str
    theme: np.ndarray
    pop: float
    catalog: list[str]
    size: int
    start: int
    show: list[str] = field(default_factory=list)
    snap: _Snap | None = None
    next_change: int = 0
    refresh: bool = False
    hero: str | None = None
    pinned: bool = True
    price: dict[str, float] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    deal_end: dict[str, int] = field(default_factory=dict)
    present: dict[int, _Session] = field(default_factory=dict)
    pending: list[tuple[int, int, str, str]] = field(default_factory=list)


class BazaarWorld:
    """Live-commerce rooms with a hidden, variant-specific purchase utility."""

    VARIANTS: tuple[str, ...] = ("bundles", "flash", "pitch", "missions")

    def __init__(self, seed: int, rooms: int = 10, viewers: int = 400,
                 minutes: float = 15.0, variant: str = "bundles") -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known variants: "
                             f"{', '.join(self.VARIANTS)}")
        self.seed, self.variant = int(seed), variant
        self.n_rooms, self.n_viewers = int(rooms), int(viewers)
        self.dur = round(minutes * 60_000)
        base = self.seed % (2**63)
        self._rng_world = np.random.default_rng([base, 0])
        self._rng = np.random.default_rng([base, 1 + self.VARIANTS.index(variant)])
        self._items: dict[str, _Item] = {}
        self._rooms: list[_Room] = []
        self._viewers: list[_Viewer] = []
        self._user_index: dict[str, int] = {}
        self._raw: list[tuple[int, int, int, dict[str, object]]] = []
        self._log: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        self._visits: dict[int, list[list[int]]] = defaultdict(list)
        self._arrivals: list[tuple[int, int, int]] = []
        self._snaps: list[_Snap] = []
        self._snap_index: dict[tuple[Collection[str], str | None], list[_Snap]] = {}
        self._build_world()
        self._simulate()
        self._events = self._finalise()

    def _build_world(self) -> None:
        rng = self._rng_world
        presence = np.zeros(NC)
        for r in range(self.n_rooms):
            theme_c = rng.choice(NC, size=int(rng.integers(2, 4)), replace=False)
            theme = np.full(NC, 0.1 / NC)
            theme[theme_c] += 0.9 * rng.dirichlet(np.ones(len(theme_c)))
            n = int(rng.integers(24, 51))
            cats = rng.choice(NC, size=n, p=theme / theme.sum())
            ids: list[str] = []
            for k in range(n):
                c = int(cats[k])
                ref = max(1.0, round(float(MEDIAN_PRICE[c] * np.exp(rng.normal(0, 0.5))), 2))
                item = _Item(
                    f"sku-{r}-{k}", c, int(rng.integers(0, N_BRANDS)),
                    rng.normal(0.0, 1.0, 3) / np.sqrt(3.0), float(rng.normal(0.0, 0.5)),
                    ref, round(ref * float(rng.uniform(0.8, 1.0)), 2),
                    f"{CATEGORIES[c].title()} pick {k}")
                self._items[item.item_id] = item
                ids.append(item.item_id)
                presence[c] += 1.0
            perm = [ids[j] for j in rng.permutation(n)]
            for a, b in zip(perm[0::2], perm[1::2], strict=False):
                if self._items[a].list_price < self._items[b].list_price:
                    a, b = b, a
                self._items[a].partner = b
            start = 1000 * int(rng.integers(0, max(1, min(21, self.dur // 4000))))
            self._rooms.append(_Room(r, f"r-{r}", theme, 0.3 + float(rng.pareto(1.5)),
                                     ids, int(rng.integers(5, 21)), start))
        age_aff = rng.random((len(AGE_BANDS), NC))
        presence = (presence + 0.5) / (presence + 0.5).sum()
        for k in range(self.n_viewers):
            age = int(rng.integers(0, len(AGE_BANDS)))
            tier = 1 + int(rng.choice(5, p=[0.3, 0.3, 0.2, 0.13, 0.07]))
            taste = np.log(NC * rng.dirichlet(0.3 + 1.2 * age_aff[age]) + 1e-9)
            taste = np.clip(taste, -3.0, 2.0)
            need_w = presence * np.exp(0.5 * taste)
            n_needs = 1 + int(rng.random() < 0.4)
            needs = rng.choice(NC, size=n_needs, replace=False, p=need_w / need_w.sum())
            attrs: dict[str, str | int] = {
                "spend_tier": tier, "age_band": AGE_BANDS[age],
                "new_user": int(rng.random() < 0.2),
                "device": "ios" if rng.random() < 0.45 else "android"}
            v = _Viewer(
                f"u-{k}", attrs, taste, rng.normal(0.0, 1.0, 3) / np.sqrt(3.0),
                rng.integers(0, N_BRANDS, NC),
                max(0.0, 1.5 - 0.25 * tier + float(rng.normal(0.0, 0.3))),
                float(np.exp(rng.normal(0.6 - 0.08 * tier, 0.4))),
                float(np.exp(rng.normal(-0.4, 1.0))), bool(rng.random() < 0.6),
                frozenset(int(c) for c in needs))
            self._viewers.append(v)
            self._user_index[v.user_id] = k

    def _state(self, k: int, moment: int) -> tuple[set[str], set[str]]:
        log = [(kind, iid) for ms, kind, iid in self._log[k] if ms <= moment]
        return ({i for kd, i in log if kd == "purchase"},
                {i for kd, i in log if kd != "purchase"})

    def _utility(self, k: int | None, ids: Sequence[str], snap: _Snap | None,
                 spotlight: str | None, moment: int) -> np.ndarray:
        its = [self._items[i] for i in ids]
        cat = np.array([it.cat for it in its], dtype=int)
        u = np.array([it.quality for it in its], dtype=float)
        shown = snap.price if snap is not None else {}
        price = np.array([shown.get(it.item_id, it.list_price) for it in its])
        v = self._viewers[k] if k is not None else None
        beta, gamma = POP_BETA, POP_GAMMA
        if v is not None:
            style = np.array([it.style for it in its]).reshape(len(its), 3)
            brand = np.array([it.brand for it in its], dtype=int)
            u += 1.3 * v.taste[cat] + 0.9 * (style @ v.style)
            u += 1.0 * (brand == v.fav_brand[cat])
            beta, gamma = v.beta, v.gamma
        rel = np.log(np.maximum(price, 0.01) / MEDIAN_PRICE[cat])
        if self.variant == "flash":
            ref = np.array([it.ref_price for it in its])
            u += gamma * np.log(ref / np.maximum(price, 0.01)) - 0.25 * beta * rel
            if snap is not None:
                for j, iid in enumerate(ids):
                    end = snap.deal_end.get(iid)
                    if end is not None and 0 <= end - moment < 30_000:
                        u[j] += 0.8
                    stock = snap.stock.get(iid, BIG_STOCK)
                    if stock <= 0:
                        u[j] = SOLD_OUT
                    elif stock <= 5:
                        u[j] += 0.6
        else:
            u -= beta * rel
        if self.variant == "pitch":
            order = list(snap.items) if snap is not None else list(ids)
            bonus = {order[-1]: 0.6, order[min(1, len(order) - 1)]: 1.0, order[0]: 2.2}
            u += np.array([bonus.get(i, 0.0) + 0.3 * (i == spotlight) for i in ids])
        else:
            u += 0.8 * np.array([i == spotlight for i in ids])
        if v is None or k is None:
            return u
        bought, carted = self._state(k, moment)
        if self.variant == "bundles":
            pos = {iid: j for j, iid in enumerate(ids)}
            for iid in bought | carted:
                p = self._items[iid].partner
                if p is not None and p in pos:
                    u[pos[p]] += 2.5 if iid in bought else 1.2
            u -= 3.0 * np.array([i in bought for i in ids])
        elif self.variant == "missions":
            bcats = {self._items[i].cat for i in bought}
            bbrands = {(self._items[i].cat, self._items[i].brand) for i in bought}
            for j, it in enumerate(its):
                if it.cat in v.needs and it.cat not in bcats:
                    u[j] += 2.5
                elif it.cat in bcats:
                    if it.cat in CONSUMABLE:
                        u[j] += 1.2 if (it.cat, it.brand) in bbrands else 0.2
                    else:
                        u[j] -= 2.0
        return u

    def _emit(self, ms: int, order: int, ev: dict[str, object]) -> None:
        self._raw.append((ms, order, len(self._raw), ev))

    def _showcase(self, room: _Room, t: int) -> None:
        rng = self._rng
        first = room.snap is None
        ended = [i for i, e in room.deal_end.items() if e <= t]
        for iid in ended:
            del room.deal_end[iid]
            room.price[iid] = self._items[iid].list_price
        expired = [i for i in room.show if i in ended]  # ended deals go to the back
        room.show = [i for i in room.show if i not in ended] + expired
        if not first and t < room.next_change and not room.refresh and not expired:
            return
        room.refresh = False
        recompose = first or t >= room.next_change
        if recompose:
            self._compose(room, first)
            gap = (rng.integers(25, 91) if self.variant == "pitch"
                   else np.clip(rng.exponential(75.0), 20.0, 240.0))
            room.next_change = t + 1000 * int(gap)
        if self.variant == "pitch":
            if room.hero not in room.show or rng.random() < 0.08:
                room.hero = str(rng.choice(room.show))
            if not first and rng.random() < 0.15:
                room.pinned = not room.pinned
            spot = room.hero if room.pinned else None
        elif not recompose and room.snap is not None:
            spot = room.snap.spotlight if room.snap.spotlight in room.show else None
        else:
            before = set(room.snap.items) if room.snap is not None else set()
            spot = room.show[0] if room.show and room.show[0] not in before else None
            if room.show and (spot is None or rng.random() < 0.3):
                spot = str(rng.choice(room.show))
            if rng.random() < 0.12:
                spot = None
            if (self.variant == "flash" and spot is not None and not first
                    and spot not in room.deal_end and room.stock[spot] > 0
                    and rng.random() < 0.55):
                it = self._items[spot]
                room.price[spot] = round(it.ref_price * float(rng.uniform(0.45, 0.75)), 2)
                room.stock[spot] = int(rng.integers(4, 26))
                room.deal_end[spot] = t + 1000 * int(rng.integers(60, 181))
        if room.snap is not None and not first and room.snap.end > t:
            room.snap.end = t
        if self.variant == "flash":  # deals first, sold-out last (stable)
            room.show.sort(key=lambda i: 2 if room.stock[i] <= 0
                           else 0 if i in room.deal_end else 1)
        snap = _Snap(room.idx, t, tuple(room.show), spot,
                     {i: room.price[i] for i in room.show},
                     {i: room.stock[i] for i in room.show},
                     {i: room.deal_end[i] for i in room.show if i in room.deal_end})
        room.snap = snap
        self._snaps.append(snap)
        for key in ((snap.items, spot), (frozenset(snap.items), spot)):
            self._snap_index.setdefault(key, []).append(snap)
        payload: list[dict[str, object]] = []
        for iid in snap.items:
            it = self._items[iid]
            entry: dict[str, object] = {"item_id": iid, "price": snap.price[iid],
                                        "category": CATEGORIES[it.cat], "title": it.title}
            if self.variant == "flash":
                attrs: dict[str, float | int] = {"ref_price": it.ref_price,
                                                 "stock": snap.stock[iid]}
                if iid in snap.deal_end:
                    attrs["deal_ends_at"] = T0_MS + snap.deal_end[iid]
                entry["attrs"] = attrs
            payload.append(entry)
        self._emit(t, 0, {"type": "showcase", "room_id": room.room_id,
                          "spotlight": spot, "items": payload})

    def _compose(self, room: _Room, first: bool) -> None:
        rng = self._rng
        cat = room.catalog
        if first:
            flash = self.variant == "flash"
            for iid in cat:
                room.price[iid] = self._items[iid].list_price
                room.stock[iid] = int(rng.integers(20, 121)) if flash else BIG_STOCK
            n = min(room.size, len(cat))
            room.show = [cat[j] for j in rng.choice(len(cat), size=n, replace=False)]
            return
        show = room.show
        off = [i for i in cat if i not in show and room.stock[i] > 0]
        off = [off[j] for j in rng.permutation(len(off))]
        if self.variant == "pitch":
            show.append(show.pop(0))
            if len(show) > 5 and off and rng.random() < 0.3:
                show.pop(int(rng.integers(2, len(show) - 1)))
                show.insert(1, off.pop())
            return
        if self.variant == "flash":
            show[:] = [i for i in show if room.stock[i] > 0 or rng.random() < 0.4]
        for _ in range(int(rng.integers(0, 3))):
            if len(show) > 2:
                show.pop(int(rng.integers(0, len(show))))
        target = int(np.clip(room.size + rng.integers(-2, 3), 4, min(30, len(cat))))
        while len(show) > target:
            show.pop(int(rng.integers(0, len(show))))
        added: list[str] = []
        while len(show) < target and off:
            iid = off.pop()
            show.insert(0, iid)
            added.append(iid)
        if self.variant == "bundles":
            for iid in added:
                p = self._items[iid].partner
                if (p is not None and p not in show and len(show) < 30
                        and rng.random() < 0.7):
                    show.insert(len(added), p)

    def _pick_room(self, k: int, t: int, last: int) -> _Room | None:
        v = self._viewers[k]
        open_rooms = [r for r in self._rooms if r.snap is not None and r.idx != last]
        if not open_rooms:
            return None
        miss = 2.0 if self.variant == "missions" else 0.0
        w = np.array([r.pop * float(r.theme @ np.exp(v.taste)) ** 0.8
                      * np.exp(miss * sum(r.theme[c] for c in v.needs))
                      for r in open_rooms])
        p = w / w.sum()
        return open_rooms[int(self._rng.choice(len(open_rooms), p=p))]

    def _enter(self, k: int, last: int, ms: int, t: int) -> None:
        rng = self._rng
        room = self._pick_room(k, t, last)
        if room is None:
            return
        ts = int(min(max(ms, t + 1), t + 998))
        dwell = max(20_000, int(np.exp(rng.normal(np.log(150_000.0), 0.9))))
        self._visits[k].append(visit := [room.idx, ts, 1 << 62])
        nxt = ts + HB_MS + int(rng.integers(-2000, 2001))
        room.present[k] = _Session(k, ts, ts + dwell, t + 1000, ts, nxt, visit)
        v = self._viewers[k]
        self._emit(ts, 1, {"type": "enter", "room_id": room.room_id,
                           "user_id": v.user_id, "attrs": dict(v.attrs)})

    def _leave(self, room: _Room, s: _Session, ts: int) -> None:
        rng = self._rng
        del room.present[s.user]
        s.visit[2] = ts
        if rng.random() < 0.93 or ts >= self.dur:
            self._emit(ts, 3, {"type": "leave", "room_id": room.room_id,
                               "user_id": self._viewers[s.user].user_id})
        if not s.done and ts < self.dur and rng.random() < 0.35:
            gap = 1000 * int(rng.integers(2, 61))
            heapq.heappush(self._arrivals, (ts + gap, s.user, room.idx))

    def _act(self, room: _Room, t: int) -> None:
        rng = self._rng
        snap = room.snap
        assert snap is not None
        on_show = set(snap.items)
        due = sorted(p for p in room.pending if p[0] < t + 1000)
        room.pending = [p for p in room.pending if p[0] >= t + 1000]
        for when, k, iid, kind in due:
            s = room.present.get(k)
            if s is None or iid not in on_show or room.stock[iid] <= 0:
                continue
            ts = int(min(max(when, t + 1), t + 998))
            v = self._viewers[k]
            ev: dict[str, object] = {"type": kind, "room_id": room.room_id,
                                     "user_id": v.user_id, "item_id": iid}
            if kind == "purchase":
                qty = 1
                if self._items[iid].cat in CONSUMABLE and rng.random() < 0.3:
                    qty = int(rng.integers(2, 4))
                ev["amount"], ev["qty"] = round(room.price[iid] * qty, 2), qty
                room.stock[iid] -= 1
                room.refresh = room.refresh or room.stock[iid] == 0
            self._emit(ts, 2, ev)
            self._log[k].append((ts, kind, iid))
            if (kind == "purchase" and self.variant == "missions" and not s.done
                    and v.needs <= {self._items[i].cat for i in self._state(k, ts)[0]}):
                s.done = True
                s.plan_end = min(s.plan_end, ts + 1000 * int(rng.integers(20, 91)))
        for k in sorted(room.present):
            s = room.present[k]
            v = self._viewers[k]
            if s.plan_end < t + 1000:
                self._leave(room, s, t + 999)
                continue
            if t < s.active_from:
                continue
            if s.next_hb < t + 1000:
                ts = int(min(max(s.next_hb, t + 1), t + 998))
                self._emit(ts, 2, {"type": "heartbeat", "room_id": room.room_id,
                                   "user_id": v.user_id, "watch_ms": ts - s.last_hb})
                s.last_hb, s.next_hb = ts, ts + HB_MS + int(rng.integers(-2000, 2001))
            a = v.activity
            rates = (0.02 * a, 0.004 * a, 0.0008 * a, 0.0 if s.followed else 0.0005 * a,
                     0.0004 * a * int(v.attrs["spend_tier"]) / 3.0)
            draws = rng.random(6)
            for name, rate, d in zip(("like", "comment", "share", "follow", "gift"),
                                     rates, draws[:5], strict=True):
                if d < min(rate, 0.5):
                    ev = {"type": name, "room_id": room.room_id, "user_id": v.user_id}
                    if snap.spotlight is not None and rng.random() < 0.5:
                        ev["item_id"] = snap.spotlight
                    s.followed = s.followed or name == "follow"
                    self._emit(t + int(rng.integers(1, 999)), 2, ev)
            rate = DEC_PER_S * a
            if self.variant == "missions" and v.lurker:
                frac = (t - s.enter) / max(1, s.plan_end - s.enter)
                rate *= 0.1 if frac < 0.75 and not s.done else 3.0
            if snap.items and draws[5] < 1.0 - np.exp(-rate):
                self._decide(room, snap, s, t)

    def _decide(self, room: _Room, snap: _Snap, s: _Session, t: int) -> None:
        rng = self._rng
        ids = list(snap.items)
        ts = t + int(rng.integers(1, 999))
        u = self._utility(s.user, ids, snap, snap.spotlight, ts)
        u[np.array([room.stock[i] <= 0 for i in ids])] = SOLD_OUT
        m = max(float(u.max()), U_OUT)
        w = np.exp(np.append(u, U_OUT) - m)
        j = int(rng.choice(len(w), p=w / w.sum()))
        if j == len(ids):
            return
        iid = ids[j]
        self._emit(ts, 2, {"type": "item_click", "room_id": room.room_id,
                           "user_id": self._viewers[s.user].user_id, "item_id": iid})
        if rng.random() < 1.0 / (1.0 + np.exp(1.0 - u[j])):
            cart = ts + 1000 * int(rng.integers(3, 26))
            room.pending.append((cart, s.user, iid, "add_to_cart"))
            if rng.random() < 1.0 / (1.0 + np.exp(1.5 - u[j])):
                buy = cart + 1000 * int(rng.integers(4, 41))
                room.pending.append((buy, s.user, iid, "purchase"))

    def _simulate(self) -> None:
        rng = self._rng
        lo = min(21_000, self.dur // 2)
        hi = max(lo + 1000, int(0.92 * self.dur))
        for k in range(self.n_viewers):
            top = min(hi, lo + 60_000) if rng.random() < 0.25 else hi
            heapq.heappush(self._arrivals, (int(rng.integers(lo, top)), k, -1))
        for t in range(0, self.dur, 1000):
            for room in self._rooms:
                if t >= room.start:
                    self._showcase(room, t)
            while self._arrivals and self._arrivals[0][0] < t + 1000:
                ms, k, last = heapq.heappop(self._arrivals)
                self._enter(k, last, ms, t)
            for room in self._rooms:
                if room.snap is not None:
                    self._act(room, t)
        for room in self._rooms:
            for k in sorted(room.present):
                self._leave(room, room.present[k], self.dur + 100)
            if room.snap is not None:
                room.snap.end = self.dur + 900
            self._emit(self.dur + 900, 4, {"type": "room_close", "room_id": room.room_id})

    def _finalise(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for n, (ms, _o, _q, ev) in enumerate(sorted(self._raw, key=lambda r: r[:3])):
            full: dict[str, object] = {"event_id": f"e-{self.seed}-{n:06d}",
                                       "type": ev["type"], "ts": T0_MS + ms}
            full.update({key: val for key, val in ev.items() if key != "type"})
            out.append(full)
        return out

    def events(self) -> Iterator[dict]:
        """Contract v1 events of all rooms in timestamp order (deterministic)."""
        for ev in self._events:
            yield copy.deepcopy(ev)

    def _locate(self, k: int | None, ids: list[str], spotlight: str | None,
                at_ms: int | None) -> tuple[_Snap | None, int]:
        want = set(ids)
        fits = [s for s in self._snaps if s.spotlight == spotlight and want <= set(s.items)]
        cands = (self._snap_index.get((tuple(ids), spotlight))
                 or self._snap_index.get((frozenset(ids), spotlight)) or fits)
        if at_ms is not None:
            live = [s for s in fits if s.start <= at_ms - T0_MS < s.end]
            return (live or cands or [None])[0], at_ms - T0_MS
        if not cands:
            return None, 0
        for s in cands if k is not None else []:
            for room, enter, leave in self._visits[k]:
                if room == s.room and enter < s.end and leave >= s.start:
                    return s, max(s.start, enter)
        return cands[0], cands[0].start

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None, at_ms: int | None = None) -> list[str]:
        """Rank item_ids best-first by the hidden utility for user_id at that showcase.

        at_ms (epoch ms, optional) pins the moment; otherwise the moment is inferred
        from the matching snapshot and the viewer's visits (see module docstring).
        """
        known = [i for i in item_ids if i in self._items]
        unknown = [i for i in item_ids if i not in self._items]
        if not known:
            return unknown
        k = self._user_index.get(user_id)
        snap, moment = self._locate(k, known, spotlight, at_ms)
        u = self._utility(k, known, snap, spotlight, moment)
        order = sorted(range(len(known)), key=lambda j: (-float(u[j]), j))
        return [known[j] for j in order] + unknown
