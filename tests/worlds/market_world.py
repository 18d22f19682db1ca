"""MarketWorld: an independent live-commerce world whose viewers' choices depend on what they
did before (and on who they came with), not on a fixed taste for items.

The market (the same every day, i.e. independent of the seed): 8 categories; in each, 4
*series* (a main product -- the "anchor", priced 150-900 -- plus 3 accessories priced 9-69,
all with ``attrs.series``) and 8 standalone items (15-200). Every item has a hidden quality
``q`` (lognormal, sigma 0.3). Each room focuses on 3 categories and sells all their items plus
a few others. Every 40-100 s the host changes the showcase (8-14 items: one or two whole
series plus other items of the room, about half kept from the previous showcase) and
spotlights one item (none 10% of the time); no (items, spotlight) snapshot repeats in a room.

The viewers (new people every seed, ids ``s<seed>u<n>``): a category preference ``pref``
(Dirichlet(0.5)), an activity rate (picks per minute, lognormal, mean ~1.0) and 1-3 sequential
sessions of ~4.5 minutes in rooms chosen by how well the room's categories fit ``pref``.
While in a room a viewer heartbeats every ~30 s and likes/comments/shares/follows/gifts at
small rates. At Poisson times the viewer *picks* an item of the current showcase with
probability proportional to a weight ``w(item | viewer state, now)``; a pick is an
``item_click``, followed 4-25 s later by ``add_to_cart`` with probability 0.3 (0.4 in
``sated``), then 5-40 s later by ``purchase`` (amount = price x qty) with probability 0.5 (0.6
in ``sated``), if the viewer is still there and the item still shown. Base weight:
``pref[category] * q`` times 1.5 for the spotlight item (except in ``persuasion``). Then:

- ``bundles`` -- complementary goods. Carting or buying a series' anchor (or owning it from
  before the stream, hidden: 30% of viewers own one) makes that series' accessories x10 and the
  anchor itself x0.15; accessories of series one does not own are x0.25 (no case without the
  phone). Ownership is carried across rooms and sessions.
- ``sated`` -- warm-up then satiation (taste flatter here: Dirichlet(2)). Each click in a
  category multiplies it by 1.8 (up to 4 clicks: interest builds while browsing); a purchase
  in a category resets that to x0.05, recovering towards x1 with an 8-minute time constant,
  and the bought item stays x0.03.
  "Clicked a lot" predicts more; "bought" predicts less.
- ``persuasion`` -- host persuasion that works on some viewers only. A hidden type per viewer:
  fan (35%): spotlight x10; neutral (40%): x1.3; skeptic (25%): spotlight x0.1 and the room's
  three previous spotlights x0.3. Types leak through engagement: fans follow the host (60% per
  room), gift and like (often the spotlight item); skeptics hardly like, never gift, comment a
  lot. Learnable per viewer from past reaction to the spotlight or from engagement.
- ``cliques`` -- friends come in groups. 80% of viewers are in groups of 2-5 sharing a
  concentrated taste (member pref = 0.8 group + 0.2 own) and a hidden wishlist of 4 items (x6);
  they enter the same room within 25 s of each other and leave together. A friend's click on
  an item in the same room adds 6 x exp(-age / 90 s) to its multiplier (a cart adds 12 x ...);
  a stranger's does nothing. Global popularity is group taste, not yours.

The oracle: at every ``showcase`` event, for every viewer present in the room, and at every
``enter`` into a room with a showcase, the world writes down the showcase's items sorted by
``w`` at that moment (ties in showcase order) -- the order of the probability that the
viewer's next pick, hence next click/cart/purchase, is that item. ``oracle_ranking`` returns
that list for (viewer, showcase items, spotlight); if that viewer saw that same snapshot more
than once (rare), the latest one not after the last event handed out by ``events()`` while it
is being read, else the n-th on the n-th question (the lab asks once per trigger, in order).
Unknown combinations fall back to the state-free weights (pref, quality, the variant's
spotlight effect).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

CATEGORIES = ("phone", "audio", "camera", "beauty", "snacks", "apparel", "home", "toys")
T0 = 1_764_331_200_000  # epoch ms of minute 0
SERIES_PER_CAT, ACC_PER_SERIES, STANDALONE_PER_CAT = 4, 3, 8
MARKET_SEED = 20_261_206  # the catalog and rooms do not change with the seed


class MarketWorld:
    VARIANTS = ("bundles", "sated", "persuasion", "cliques")

    def __init__(self, seed: int = 1, rooms: int = 10, viewers: int = 400,
                 minutes: float = 15.0, variant: str = "bundles") -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"variant {variant!r}: one of {', '.join(self.VARIANTS)}")
        self.seed, self.n_rooms, self.n_viewers, self.variant = seed, rooms, viewers, variant
        self.end_ms = int(minutes * 60_000)
        self._build_market()
        self._build_viewers()
        self._oracle: dict[tuple[str, tuple[str, ...], str | None],
                           list[tuple[int, list[str]]]] = {}
        self._events: list[dict[str, Any]] | None = None
        self._cursor_ts: int | None = None  # ts of the last event handed out by events()
        self.oracle_misses = 0
        self._calls: dict[tuple[str, tuple[str, ...], str | None], int] = {}

    # ---------------------------------------------------------------- the market
    def _build_market(self) -> None:
        rng = np.random.default_rng(MARKET_SEED)
        ids, cat, price, series, role, title = [], [], [], [], [], []
        for c, name in enumerate(CATEGORIES):
            for s in range(SERIES_PER_CAT):
                sid = c * SERIES_PER_CAT + s
                ids.append(f"sku-{len(ids)}")
                cat.append(c), series.append(sid), role.append("anchor")
                price.append(round(float(rng.uniform(150, 900)), 0) - 0.01)
                title.append(f"{name} {sid} main")
                for a in range(ACC_PER_SERIES):
                    ids.append(f"sku-{len(ids)}")
                    cat.append(c), series.append(sid), role.append("accessory")
                    price.append(round(float(rng.uniform(9, 69)), 1) - 0.01)
                    title.append(f"{name} {sid} accessory {a}")
            for s in range(STANDALONE_PER_CAT):
                ids.append(f"sku-{len(ids)}")
                cat.append(c), series.append(-1), role.append("standalone")
                price.append(round(float(rng.uniform(15, 200)), 1) - 0.01)
                title.append(f"{name} item {s}")
        self.item_ids = ids
        self.idx = {i: n for n, i in enumerate(ids)}
        self.cat = np.array(cat)
        self.price = np.array([max(p, 0.99) for p in price])
        self.series = np.array(series)
        self.role = role
        self.q = np.exp(rng.normal(0.0, 0.3, len(ids)))
        self.item_json = []
        for n in range(len(ids)):
            attrs: dict[str, Any] = {"brand": f"b{int(rng.integers(0, 30))}"}
            if series[n] >= 0:
                attrs["series"] = f"ser-{series[n]}"
            self.item_json.append({"item_id": ids[n], "price": round(float(self.price[n]), 2),
                                   "category": CATEGORIES[cat[n]], "title": title[n],
                                   "attrs": attrs})
        # rooms: three focus categories each
        self.room_ids = [f"room-{r}" for r in range(self.n_rooms)]
        self.room_focus = np.zeros((self.n_rooms, len(CATEGORIES)))
        self.room_items: list[list[int]] = []
        for r in range(self.n_rooms):
            focus = rng.choice(len(CATEGORIES), 3, replace=False)
            self.room_focus[r, focus] = 1.0
            own = [n for n in range(len(ids)) if self.cat[n] in focus]
            others = [n for n in range(len(ids)) if self.cat[n] not in focus
                      and self.series[n] < 0]
            extra = rng.choice(others, 8, replace=False).tolist()
            self.room_items.append(sorted(own + [int(x) for x in extra]))

    # ---------------------------------------------------------------- the viewers
    def _build_viewers(self) -> None:
        rng = np.random.default_rng([self.seed, 1, self.VARIANTS.index(self.variant)])
        V, C = self.n_viewers, len(CATEGORIES)
        self.user_ids = [f"s{self.seed}u{n}" for n in range(V)]
        self.uidx = {u: n for n, u in enumerate(self.user_ids)}
        alpha = {"bundles": 0.5, "sated": 2.0, "persuasion": 0.5, "cliques": 0.5}[self.variant]
        self.pref = rng.dirichlet([alpha] * C, V)
        self.rate = np.exp(rng.normal(math.log(1.0) - 0.125, 0.5, V))  # picks per minute
        self.tier = np.clip(np.round(1 + 3 * rng.random(V)), 1, 4).astype(int)
        # bundles: hidden ownership from before the stream
        self.owned: list[set[int]] = [set() for _ in range(V)]
        if self.variant == "bundles":
            for v in range(V):
                if rng.random() < 0.3:
                    c = int(rng.choice(C, p=self.pref[v]))
                    self.owned[v].add(c * SERIES_PER_CAT + int(rng.integers(SERIES_PER_CAT)))
        # persuasion: hidden type
        self.vtype = rng.choice(["fan", "neutral", "skeptic"], V, p=[0.35, 0.40, 0.25])
        # cliques: groups
        self.group = [-1] * V
        self.groups: list[list[int]] = []
        self.wish: list[set[int]] = [set() for _ in range(V)]
        if self.variant == "cliques":
            order = rng.permutation(V).tolist()
            n_solo = round(0.2 * V)
            for v in order[:n_solo]:
                self.groups.append([v])
            rest = order[n_solo:]
            while rest:
                size = min(len(rest), int(rng.integers(2, 6)))
                self.groups.append(rest[:size])
                rest = rest[size:]
            for g, members in enumerate(self.groups):
                if len(members) == 1:
                    continue
                gpref = rng.dirichlet([0.3] * C)
                wc = rng.choice(C, 4, p=gpref)
                wish = {int(rng.choice(np.flatnonzero(self.cat == c))) for c in wc}
                for v in members:
                    self.group[v] = g
                    self.pref[v] = 0.8 * gpref + 0.2 * self.pref[v]
                    self.wish[v] = wish
        self.friends = [[u for u in self.groups[self.group[v]] if u != v]
                        if self.group[v] >= 0 else [] for v in range(V)]
        self.rng = rng

    # ---------------------------------------------------------------- weights
    def _weights(self, v: int, items: list[int], spot: int | None, r: int, t: int,
                 state: dict[str, Any] | None) -> np.ndarray:
        it = np.array(items)
        w = self.pref[v][self.cat[it]] * self.q[it]
        is_spot = np.array([i == spot for i in items])
        var = self.variant
        if var != "persuasion":
            w = np.where(is_spot, w * 1.5, w)
        if var == "bundles":
            owned = self.owned[v] if state is not None else set()
            for k, i in enumerate(items):
                s = int(self.series[i])
                if s < 0:
                    continue
                if self.role[i] == "anchor":
                    if s in owned:
                        w[k] *= 0.15
                elif s in owned:
                    w[k] *= 10.0
                else:
                    w[k] *= 0.25
        elif var == "sated" and state is not None:
            warm, bought_at, bought = state["warm"][v], state["bought_at"][v], state["bought"][v]
            for k, i in enumerate(items):
                c = int(self.cat[i])
                m = 1.8 ** min(warm.get(c, 0), 4)
                if c in bought_at:
                    dt = (t - bought_at[c]) / 480_000
                    m *= 0.05 + 0.95 * (1 - math.exp(-dt))
                if i in bought:
                    m *= 0.03
                w[k] *= m
        elif var == "persuasion":
            ty = self.vtype[v]
            mult = {"fan": 10.0, "neutral": 1.3, "skeptic": 0.1}[ty]
            w = np.where(is_spot, w * mult, w)
            if ty == "skeptic" and state is not None:
                recent = state["past_spots"][r]
                w = np.where([i in recent and i != spot for i in items], w * 0.3, w)
        elif var == "cliques":
            wish = self.wish[v]
            w = w * np.where([i in wish for i in items], 6.0, 1.0)
            if state is not None:
                boost = np.ones(len(items))
                pos = {i: k for k, i in enumerate(items)}
                for u in self.friends[v]:
                    for (tt, i, amt) in state["social"].get((r, u), ()):
                        if i in pos and t - 900_000 < tt <= t:
                            boost[pos[i]] += amt * math.exp(-(t - tt) / 90_000)
                w = w * boost
        return w

    def _rank(self, v: int, items: list[int], spot: int | None, r: int, t: int,
              state: dict[str, Any] | None) -> list[str]:
        w = self._weights(v, items, spot, r, t, state)
        order = sorted(range(len(items)), key=lambda k: (-w[k], k))
        return [self.item_ids[items[k]] for k in order]

    # ---------------------------------------------------------------- sessions
    def _sessions(self, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
        """(viewer, room, start_ms, end_ms), each viewer's sessions sequential."""
        end = self.end_ms
        out: list[tuple[int, int, int, int]] = []

        def schedule(pref: np.ndarray) -> list[tuple[int, int, int]]:
            fit = self.room_focus @ pref + 0.05
            p = fit ** 2 / np.sum(fit ** 2)
            n = 1 + min(int(rng.poisson(0.8)), 2)
            t = int(max(0.0, rng.uniform(-120_000, end - 60_000)))
            sess = []
            for _ in range(n):
                if t >= end - 30_000:
                    break
                dur = int(np.clip(rng.exponential(270_000), 45_000, 900_000))
                stop = min(end, t + dur)
                sess.append((int(rng.choice(self.n_rooms, p=p)), t, stop))
                t = stop + int(rng.exponential(120_000)) + 5_000
            return sess

        if self.variant == "cliques":
            for members in self.groups:
                gp = np.mean([self.pref[v] for v in members], axis=0)
                for (r, a, b) in schedule(gp):
                    for n, v in enumerate(members):
                        if n and rng.random() > 0.85:
                            continue
                        s = a if n == 0 else min(b - 10_000, a + int(rng.uniform(0, 25_000)))
                        e = b if n == 0 else b - int(rng.uniform(0, 40_000))
                        if rng.random() < 0.15 and n:
                            e = int(rng.uniform(s, b))
                        e = min(e, end)
                        if e - s >= 20_000:
                            out.append((v, r, s, e))
        else:
            for v in range(self.n_viewers):
                for (r, a, b) in schedule(self.pref[v]):
                    out.append((v, r, a, b))
        return out

    # ---------------------------------------------------------------- the stream
    def _simulate(self) -> list[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, 2, self.VARIANTS.index(self.variant)])
        var, end = self.variant, self.end_ms
        heap: list[tuple[int, int, str, tuple]] = []
        seq = [0]

        def push(t: int, kind: str, *args: Any) -> None:
            seq[0] += 1
            heapq.heappush(heap, (t, seq[0], kind, args))

        # showcases
        for r in range(self.n_rooms):
            t = int(rng.uniform(0, 5_000))
            prev: list[int] = []
            seen: set[tuple] = set()
            pool = self.room_items[r]
            series_here = sorted({int(self.series[i]) for i in pool if self.series[i] >= 0})
            while t < end:
                for _attempt in range(20):
                    size = int(rng.integers(8, 15))
                    chosen: list[int] = []
                    for s in rng.choice(series_here, int(rng.integers(1, 3)), replace=False):
                        chosen += [i for i in pool if self.series[i] == s]
                    keep = [i for i in prev if rng.random() < 0.5 and i not in chosen]
                    chosen += keep
                    rest = [i for i in pool if i not in chosen]
                    need = max(0, size - len(chosen))
                    chosen += [int(x) for x in rng.choice(rest, min(need, len(rest)),
                                                          replace=False)]
                    chosen = chosen[:14]
                    rng.shuffle(chosen)
                    spot = None if rng.random() < 0.1 else int(rng.choice(chosen))
                    key = (tuple(sorted(chosen)), spot)
                    if key not in seen:
                        break
                seen.add(key)
                push(t, "showcase", r, [int(i) for i in chosen], spot)
                prev = chosen
                t += int(rng.uniform(40_000, 100_000))

        # sessions, heartbeats, picks, engagement
        rates = {  # per minute: like, comment, share, gift; follow probability per room
            "fan": (1.0, 0.3, 0.1, 0.3, 0.6), "neutral": (0.5, 0.4, 0.05, 0.02, 0.15),
            "skeptic": (0.1, 1.0, 0.02, 0.0, 0.03)}
        followed: set[tuple[int, int]] = set()
        for (v, r, a, b) in self._sessions(rng):
            push(a, "enter", v, r)
            push(b, "leave", v, r)
            t, last = a, a
            while True:
                t += int(rng.uniform(28_000, 32_000))
                if t >= b:
                    break
                push(t, "heartbeat", v, r, t - last)
                last = t
            minutes = (b - a) / 60_000
            for _ in range(int(rng.poisson(self.rate[v] * minutes))):
                push(int(rng.uniform(a, b)), "pick", v, r)
            ty = self.vtype[v] if var == "persuasion" else "neutral"
            like, comment, share, gift, follow = rates[ty]
            if var != "persuasion":
                like, gift, follow = 0.5, 0.03, 0.1
            for kind, rt in (("like", like), ("comment", comment), ("share", share),
                             ("gift", gift)):
                for _ in range(int(rng.poisson(rt * minutes))):
                    push(int(rng.uniform(a, b)), "engage", v, r, kind)
            if (v, r) not in followed and rng.random() < follow:
                followed.add((v, r))
                push(int(rng.uniform(a, min(b, a + 90_000))), "engage", v, r, "follow")

        # state
        V = self.n_viewers
        state: dict[str, Any] = {
            "warm": [dict() for _ in range(V)], "bought_at": [dict() for _ in range(V)],
            "bought": [set() for _ in range(V)], "past_spots": [[] for _ in range(self.n_rooms)],
            "social": {}}
        present: list[dict[int, None]] = [dict() for _ in range(self.n_rooms)]
        where: dict[int, int] = {}
        show: list[tuple[list[int], int | None] | None] = [None] * self.n_rooms
        out: list[dict[str, Any]] = []

        def emit(kind: str, t: int, r: int, **fields: Any) -> None:
            out.append({"event_id": f"mw{self.seed}-{len(out)}", "type": kind, "ts": T0 + t,
                        "room_id": self.room_ids[r], **fields})

        def note_oracle(v: int, r: int, t: int) -> None:
            cur = show[r]
            if cur is None:
                return
            items, spot = cur
            key = (self.user_ids[v], tuple(sorted(self.item_ids[i] for i in items)),
                   None if spot is None else self.item_ids[spot])
            self._oracle.setdefault(key, []).append(
                (T0 + t, self._rank(v, items, spot, r, t, state)))

        def on_show(v: int, r: int, i: int) -> bool:
            cur = show[r]
            return where.get(v) == r and cur is not None and i in cur[0]

        while heap:
            t, _, kind, args = heapq.heappop(heap)
            if kind == "showcase":
                r, items, spot = args
                if show[r] is not None and show[r][1] is not None:
                    state["past_spots"][r] = (state["past_spots"][r] + [show[r][1]])[-3:]
                show[r] = (items, spot)
                emit("showcase", t, r, items=[dict(self.item_json[i]) for i in items],
                     spotlight=None if spot is None else self.item_ids[spot])
                for v in present[r]:
                    note_oracle(v, r, t)
            elif kind == "enter":
                v, r = args
                present[r][v] = None
                where[v] = r
                attrs = {"spend_tier": int(self.tier[v])}
                emit("enter", t, r, user_id=self.user_ids[v], attrs=attrs)
                note_oracle(v, r, t)
            elif kind == "leave":
                v, r = args
                present[r].pop(v, None)
                if where.get(v) == r:
                    del where[v]
                emit("leave", t, r, user_id=self.user_ids[v])
            elif kind == "heartbeat":
                v, r, watched = args
                emit("heartbeat", t, r, user_id=self.user_ids[v], watch_ms=int(watched))
            elif kind == "engage":
                v, r, what = args
                fields: dict[str, Any] = {"user_id": self.user_ids[v]}
                cur = show[r]
                if what == "like" and cur is not None and cur[1] is not None and (
                        (var == "persuasion" and self.vtype[v] == "fan") or rng.random() < 0.3):
                    fields["item_id"] = self.item_ids[cur[1]]
                emit(what, t, r, **fields)
            elif kind == "pick":
                v, r = args
                cur = show[r]
                if cur is None or where.get(v) != r:
                    continue
                items, spot = cur
                w = self._weights(v, items, spot, r, t, state)
                i = items[int(rng.choice(len(items), p=w / w.sum()))]
                emit("item_click", t, r, user_id=self.user_ids[v], item_id=self.item_ids[i])
                self._update(state, v, r, i, t, "click")
                p_cart = 0.4 if var == "sated" else 0.3
                if rng.random() < p_cart:
                    push(t + int(rng.uniform(4_000, 25_000)), "cart", v, r, i)
            elif kind == "cart":
                v, r, i = args
                if not on_show(v, r, i):
                    continue
                emit("add_to_cart", t, r, user_id=self.user_ids[v], item_id=self.item_ids[i])
                self._update(state, v, r, i, t, "cart")
                p_buy = 0.6 if var == "sated" else 0.5
                if rng.random() < p_buy:
                    push(t + int(rng.uniform(5_000, 40_000)), "buy", v, r, i)
            elif kind == "buy":
                v, r, i = args
                if not on_show(v, r, i):
                    continue
                qty = 2 if self.price[i] < 30 and rng.random() < 0.1 else 1
                emit("purchase", t, r, user_id=self.user_ids[v], item_id=self.item_ids[i],
                     amount=round(float(self.price[i]) * qty, 2), qty=qty)
                self._update(state, v, r, i, t, "buy")
        for r in range(self.n_rooms):
            emit("room_close", end + 1_000, r)
        out.sort(key=lambda e: e["ts"])  # stable: same-ms events keep their order
        return out

    def _update(self, state: dict[str, Any], v: int, r: int, i: int, t: int, what: str) -> None:
        var = self.variant
        if var == "bundles":
            if what in ("cart", "buy") and self.role[i] == "anchor":
                self.owned[v].add(int(self.series[i]))
        elif var == "sated":
            c = int(self.cat[i])
            if what == "click":
                state["warm"][v][c] = state["warm"][v].get(c, 0) + 1
            elif what == "buy":
                state["warm"][v][c] = 0
                state["bought_at"][v][c] = t
                state["bought"][v].add(i)
        elif var == "cliques" and what in ("click", "cart"):
            state["social"].setdefault((r, v), []).append(
                (t, i, 6.0 if what == "click" else 12.0))

    # ---------------------------------------------------------------- the lab's interface
    def _ensure(self) -> list[dict[str, Any]]:
        if self._events is None:
            self._events = self._simulate()
        return self._events

    def events(self) -> Iterator[dict[str, Any]]:
        events = self._ensure()

        def stream() -> Iterator[dict[str, Any]]:
            for e in events:
                self._cursor_ts = e["ts"]
                yield dict(e)
            self._cursor_ts = None

        return stream()

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]:
        self._ensure()
        key = (user_id, tuple(sorted(item_ids)), spotlight)
        entries = self._oracle.get(key)
        if entries:
            if len(entries) == 1:
                return list(entries[0][1])
            if self._cursor_ts is not None:  # events() is being read: the moment is now
                best = entries[0][1]
                for ts, ranking in entries:
                    if ts <= self._cursor_ts:
                        best = ranking
                return list(best)
            # read already: the lab asks once per trigger, in time order
            n = self._calls.get(key, 0)
            self._calls[key] = n + 1
            return list(entries[min(n, len(entries) - 1)][1])
        self.oracle_misses += 1
        v = self.uidx.get(user_id)
        known = [i for i in item_ids if i in self.idx]
        if v is None or not known:
            return list(item_ids)
        items = [self.idx[i] for i in known]
        spot = self.idx.get(spotlight) if spotlight else None
        ranked = self._rank(v, items, spot, 0, 0, None)
        return ranked + [i for i in item_ids if i not in self.idx]
