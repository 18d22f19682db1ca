"""HerdWorld: an independent live-commerce room simulator (event contract v1).

Written on 2026-12-04 by a separate agent from the event contract alone, without reading the
project's simulator (``models/sim``) or its docs, as a world the job was not designed around:
``roomrank lab --world tests/worlds/herd_world.py:HerdWorld`` (docs/evaluation.md, "Worlds from
another simulator"). Kept as written, apart from lint; its constants are its own.

Generative model
----------------
World.  8-25 categories (named "kitchen", "toys", ...), each with a base price.  Every room owns a
catalog of 30-120 items (ids "r<k>-sku-<j>", disjoint between rooms) drawn mostly from 2-6 "theme"
categories of the room.  Each item has a price (category base x lognormal) and a hidden quality
q ~ N(0, 1) that the platform never sees.

Hosts.  A room starts with a showcase and replaces it every U(30, 180) s with 3-40 catalog items
(theme-weighted) and a spotlight item (null with prob 0.1).  A room lives `minutes`; rooms start
staggered within the first 2 minutes.  At the end everyone still present leaves, then `room_close`.

Viewers.  Each viewer has a heavy-tailed activity a = 0.25 * (1 + Pareto(1.5)) (capped at 12),
a log-budget ~ N(log 40, 0.8) (the platform sees only a noisy `spend_tier` 1-5 in `enter.attrs`),
Dirichlet category preferences, and a chattiness level.  Each viewer has a home room (Zipf-like
room popularity); arrivals into each room form a Poisson process over the first 85% of the stream.
Session lengths are lognormal (median 150 s, sigma 1.1, >= 10 s): heavy-tailed.  After a session,
with prob 0.35 the viewer comes back to the same room after Exp(mean 180 s); with prob 0.15 they
(also) visit one other room after Exp(mean 60 s).  Heartbeats every 30 s while present (watch_ms).

Choice (per second while present).  Stage 1: the viewer looks at the showcase with probability
1 - exp(-0.02 a).  A look then resolves to at most one item_click:
  * base/herding: with prob 0.3 the look is captured by the spotlight item (host's attention);
  * herding: otherwise with prob 1 - exp(-0.08 R) (R = clicks on the showcase items in the room in
    the last 120 s) the viewer follows the crowd, picking item i with prob n_i / R (n_i = clicks on
    i in the last 120 s): self-exciting social proof, early luck snowballs;
  * otherwise stage 2: a category c ~ prefs.  If c is on show, stage 3 picks an item of c by
    softmax(-1.5 (log price - log budget)^2 + 1.0 q [+ 0.8 log(1+n_i) in herding]
    [+ 1.0 if spotlight in base/herding]).  If c is not on show: leave the room (prob 0.05),
    click a uniformly random item on show (prob 0.3), else nothing.
  Variants: base: prefs ~ Dirichlet(0.4).  two-stage: 1-2 categories get 95% of the mass, and the
  within-category pick is uniform.  quality: prefs ~ Dirichlet(20) (weak), within-category pick
  and the "random" fallback are softmax(3 q), no price term: the same items win for everyone.
After a click: add_to_cart with prob sigmoid(-0.8 + bq q + 0.4 fit) 2-20 s later, then purchase
with prob sigmoid(0.2 + bq q) 3-60 s later (bq = 1.2; 2.5 in quality), amount = price x qty.
Cart/purchase events that would fall after the viewer leaves are dropped.

Engagement.  A per-viewer mood jumps by 1 at each purchase and decays with a 120 s time constant.
Per second: like ~ 0.012 c (1 + 4 mood), comment 0.002 c (1 + 3 mood), share 0.0003 (1 + 3 mood),
gift 0.0002 (1 + 8 mood), follow (at most once per viewer and room) 0.0004 (1 + 5 mood), where c
is lognormal chattiness (noise).  About 30% of engagements carry the spotlight item_id.

Oracle.  oracle_ranking(user, items, spotlight) ranks items by the exact probability that the
viewer's next look becomes a click on each item, under the model above with the given items as the
showcase.  Herding state (n_i) is a proxy: for each item, the clicks it received in the 120 s before
the end of its last stretch on show (item removed from the showcase, or room close).  This needs
the world simulated, which happens on construction.
"""
from __future__ import annotations

import argparse
import json
import math
from collections import deque

import numpy as np

CATEGORY_NAMES = [
    "kitchen", "toys", "beauty", "skincare", "fashion", "shoes", "bags", "jewelry", "electronics",
    "phones", "home", "garden", "pets", "sports", "outdoor", "books", "snacks", "drinks",
    "baby", "health", "tools", "auto", "stationery", "games", "furniture",
]
T0 = 1764331200000  # 2025-11-28T12:00:00Z
LOOK_RATE = 0.02
P_SPOT = 0.3
P_LEAVE_MISS = 0.05
P_RANDOM_MISS = 0.3
HERD_WINDOW_MS = 120_000
PRIO = {"showcase": 0, "enter": 1, "leave": 3, "room_close": 4}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _softmax(u: np.ndarray) -> np.ndarray:
    e = np.exp(u - u.max())
    return e / e.sum()


class HerdWorld:
    VARIANTS = ("base", "herding", "two-stage", "quality")

    def __init__(self, seed: int, rooms: int = 10, viewers: int = 400, minutes: float = 15.0,
                 variant: str = "base"):
        if variant not in self.VARIANTS:
            raise ValueError(f"variant must be one of {self.VARIANTS}")
        self.seed, self.n_rooms, self.n_viewers = int(seed), int(rooms), int(viewers)
        self.minutes, self.variant = float(minutes), variant
        self.rng = np.random.default_rng([self.seed, self.VARIANTS.index(variant)])
        self._build_world()
        self._events = self._simulate()

    # ------------------------------------------------------------------ world
    def _build_world(self):
        rng, v = self.rng, self.variant
        nc = int(rng.integers(8, 26))
        self.categories = list(rng.choice(CATEGORY_NAMES, size=nc, replace=False))
        self.cat_index = {c: k for k, c in enumerate(self.categories)}
        cat_base = np.exp(rng.normal(math.log(35), 0.7, nc))
        self.items = {}  # item_id -> dict(cat, price, q, room)
        self.room_ids = [f"r-{self.seed}-{k}" for k in range(self.n_rooms)]
        self.catalogs, self.theme_w = [], []
        for k in range(self.n_rooms):
            w = np.full(nc, 0.05)
            theme = rng.choice(nc, size=int(rng.integers(2, min(6, nc) + 1)), replace=False)
            w[theme] += rng.uniform(0.5, 1.5, len(theme))
            w /= w.sum()
            ids = []
            for j in range(int(rng.integers(30, 121))):
                c = int(rng.choice(nc, p=w))
                price = round(float(cat_base[c] * math.exp(rng.normal(0, 0.5))), 1) + 0.9
                iid = f"r{k}-sku-{j}"
                self.items[iid] = {"cat": c, "price": price, "q": float(rng.normal()), "room": k}
                ids.append(iid)
            self.catalogs.append(ids)
            self.theme_w.append(np.array([w[self.items[i]["cat"]] for i in ids]))
        # viewers
        n = self.n_viewers
        self.user_ids = [f"u-{self.seed}-{i}" for i in range(n)]
        self.uidx = {u: i for i, u in enumerate(self.user_ids)}
        self.activity = np.minimum(0.25 * (1.0 + rng.pareto(1.5, n)), 12.0)
        self.log_budget = rng.normal(math.log(40), 0.8, n)
        noisy = self.log_budget + rng.normal(0, 0.4, n) - math.log(40)
        tier = np.clip(np.round(noisy / 0.5) + 3, 1, 5)
        self.spend_tier = tier.astype(int)
        self.chatty = np.exp(rng.normal(0, 0.8, n))
        if v == "two-stage":
            prefs = np.full((n, nc), 0.05 / nc)
            for i in range(n):
                favs = rng.choice(nc, size=int(rng.integers(1, 3)), replace=False)
                prefs[i, favs] += 0.95 * rng.dirichlet(np.ones(len(favs)))
        elif v == "quality":
            prefs = rng.dirichlet(np.full(nc, 20.0), n)
        else:
            prefs = rng.dirichlet(np.full(nc, 0.4), n)
        self.prefs = prefs / prefs.sum(axis=1, keepdims=True)
        self.bq = 2.5 if v == "quality" else 1.2

    # ---------------------------------------------------------- choice model
    def _choice_probs(self, u: int, show: list[str], spotlight, counts: dict) -> np.ndarray:
        """P(the look of viewer u ends in a click on each item of `show`)."""
        v, m = self.variant, len(show)
        if m == 0:
            return np.zeros(0)
        out = np.zeros(m)
        rest = 1.0
        if v in ("base", "herding") and spotlight in show:
            out[show.index(spotlight)] += P_SPOT
            rest -= P_SPOT
        if v == "herding":
            n = np.array([counts.get(i, 0) for i in show], dtype=float)
            R = n.sum()
            if R > 0:
                ph = 1.0 - math.exp(-0.08 * R)
                out += rest * ph * n / R
                rest *= 1.0 - ph
        cats = np.array([self.items[i]["cat"] for i in show])
        q = np.array([self.items[i]["q"] for i in show])
        lp = np.log([self.items[i]["price"] for i in show])
        pref = self.prefs[u]
        on_show = np.unique(cats)
        for c in on_show:
            idx = np.flatnonzero(cats == c)
            if v == "two-stage":
                w = np.full(len(idx), 1.0 / len(idx))
            elif v == "quality":
                w = _softmax(3.0 * q[idx])
            else:
                util = -1.5 * (lp[idx] - self.log_budget[u]) ** 2 + 1.0 * q[idx]
                if v == "herding":
                    util = util + 0.8 * np.log1p([counts.get(show[j], 0) for j in idx])
                if spotlight is not None:
                    util = util + np.array([1.0 if show[j] == spotlight else 0.0 for j in idx])
                w = _softmax(util)
            out[idx] += rest * pref[c] * w
        miss = max(0.0, 1.0 - pref[on_show].sum())
        fb = _softmax(3.0 * q) if v == "quality" else np.full(m, 1.0 / m)
        out += rest * miss * P_RANDOM_MISS * fb
        return out

    # ------------------------------------------------------------- sessions
    def _sessions(self):
        rng = self.rng
        dur = int(self.minutes * 60_000)
        self.room_start = [T0 + 1000 * int(rng.integers(0, 120)) for _ in range(self.n_rooms)]
        self.room_end = [s + dur for s in self.room_start]
        pop = 1.0 / np.arange(1, self.n_rooms + 1) ** 0.8
        pop = rng.permutation(pop / pop.sum())
        home = rng.choice(self.n_rooms, size=self.n_viewers, p=pop)
        sessions = []  # (room, user, start_ms, end_ms)

        def sess_len():
            return int(max(10.0, math.exp(rng.normal(math.log(150), 1.1))) * 1000)

        for r in range(self.n_rooms):
            members = np.flatnonzero(home == r)
            if len(members) == 0:
                continue
            rate = len(members) / (0.85 * dur)
            t = self.room_start[r] + rng.exponential(1.0 / rate) + 1000
            for u in rng.permutation(members):
                start = int(t)
                t += rng.exponential(1.0 / rate)
                u = int(u)
                end = start + sess_len()
                cur_room = r
                visited_other = False
                while start < self.room_end[cur_room] - 2000:
                    end = min(end, self.room_end[cur_room])
                    sessions.append((cur_room, u, start, end))
                    if rng.random() < 0.35:  # comes back later to the same room
                        start = end + int(rng.exponential(180_000)) + 1000
                    elif not visited_other and self.n_rooms > 1 and rng.random() < 0.15 / 0.65:
                        visited_other = True
                        others = [x for x in range(self.n_rooms) if x != cur_room]
                        cur_room = int(rng.choice(others))
                        start = max(end + int(rng.exponential(60_000)) + 1000,
                                    self.room_start[cur_room] + 1000)
                    else:
                        break
                    end = start + sess_len()
        return sessions

    # ------------------------------------------------------------- simulate
    def _simulate(self):
        sessions = self._sessions()
        evs = []
        self.clicks = {}          # item_id -> list of click ts
        self.last_show_end = {}   # item_id -> end of its last stretch on show
        for r in range(self.n_rooms):
            evs.extend(self._simulate_room(r, [s for s in sessions if s[0] == r]))
        evs.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
        out = []
        for n, (_, _, _, _, d) in enumerate(evs):
            d["event_id"] = f"e-{self.seed}-{self.variant}-{n}"
            out.append(d)
        self.herd_counts = {}
        for iid, end in self.last_show_end.items():
            ts = self.clicks.get(iid, [])
            self.herd_counts[iid] = sum(1 for t in ts if end - HERD_WINDOW_MS <= t <= end)
        return out

    def _simulate_room(self, r: int, sessions):
        rng = self.rng
        room = self.room_ids[r]
        t0, t1 = self.room_start[r], self.room_end[r]
        evs = []
        seq = [0]

        def emit(ts, typ, **kw):
            d = {"type": typ, "ts": int(ts), "room_id": room}
            d.update(kw)
            seq[0] += 1
            evs.append((int(ts), PRIO.get(typ, 2), r, seq[0], d))

        # showcase schedule
        cat_ids, tw = self.catalogs[r], self.theme_w[r]
        changes = []
        t = t0
        while t < t1:
            k = int(min(len(cat_ids), rng.integers(3, 41)))
            show = list(rng.choice(cat_ids, size=k, replace=False, p=tw / tw.sum()))
            spot = str(rng.choice(show)) if rng.random() < 0.9 else None
            changes.append((t, show, spot))
            t += 1000 * int(rng.integers(30, 181))
        starts = sorted(sessions, key=lambda s: s[2])
        active = {}  # session key -> state
        recent = deque()  # (ts, item) clicks for herding
        counts = {}
        show, spot = [], None
        ci, si = 0, 0
        followed = set()
        mood = {}  # user -> (value, ts)
        for sec in range(t0 // 1000, t1 // 1000 + 1):
            now = sec * 1000
            if now > t1:
                break
            # showcase change
            while ci < len(changes) and changes[ci][0] <= now:
                ts, new_show, spot = changes[ci]
                for iid in show:
                    if iid not in new_show:
                        self.last_show_end[iid] = ts
                show = [str(x) for x in new_show]
                ci += 1
                emit(ts, "showcase", spotlight=spot, items=[
                    {"item_id": i, "price": self.items[i]["price"],
                     "category": self.categories[self.items[i]["cat"]]} for i in show])
            # arrivals
            while si < len(starts) and starts[si][2] < now + 1000:
                _, u, s0, s1 = starts[si]
                si += 1
                key = (u, s0)
                active[key] = {"u": u, "start": s0, "end": s1, "pend": [], "hb": s0 + 30_000}
                emit(s0, "enter", user_id=self.user_ids[u],
                     attrs={"spend_tier": int(self.spend_tier[u])})
            # herding window
            while recent and recent[0][0] < now - HERD_WINDOW_MS:
                _, iid = recent.popleft()
                counts[iid] -= 1
                if counts[iid] == 0:
                    del counts[iid]
            for key in list(active):
                st = active[key]
                u, uid = st["u"], self.user_ids[st["u"]]
                lo = max(now, st["start"] + 1)
                # heartbeats
                while st["hb"] < min(now + 1000, st["end"]):
                    emit(st["hb"], "heartbeat", user_id=uid, watch_ms=30_000)
                    st["hb"] += 30_000
                # pending cart / purchase
                keep = []
                for p in st["pend"]:
                    if p[0] >= st["end"]:
                        continue
                    if p[0] < now + 1000:
                        ts, typ, iid = p
                        if typ == "add_to_cart":
                            emit(ts, typ, user_id=uid, item_id=iid)
                            if rng.random() < _sigmoid(0.2 + self.bq * self.items[iid]["q"]):
                                keep.append((ts + int(rng.uniform(3, 60) * 1000), "purchase", iid))
                        else:
                            price = self.items[iid]["price"]
                            qty = 1 if rng.random() < 0.85 else int(rng.integers(2, 4))
                            extra = {"qty": qty} if qty > 1 else {}
                            emit(ts, typ, user_id=uid, item_id=iid,
                                 amount=round(price * qty, 2), **extra)
                            m0, mt = mood.get(u, (0.0, ts))
                            mood[u] = (m0 * math.exp(-(ts - mt) / 120_000) + 1.0, ts)
                    else:
                        keep.append(p)
                st["pend"] = keep
                if lo >= st["end"]:
                    continue
                # look at the showcase
                if show and rng.random() < 1.0 - math.exp(-LOOK_RATE * self.activity[u]):
                    ts = int(min(now + int(rng.integers(1, 1000)), st["end"] - 1))
                    ts = max(ts, lo)
                    if ts < st["end"]:
                        clicked = self._draw_click(u, show, spot, counts)
                        if clicked == "LEAVE":  # leaves at the end of this second
                            st["end"] = min(st["end"], now + 999)
                        elif clicked is not None:
                            emit(ts, "item_click", user_id=uid, item_id=clicked)
                            self.clicks.setdefault(clicked, []).append(ts)
                            recent.append((ts, clicked))
                            counts[clicked] = counts.get(clicked, 0) + 1
                            it = self.items[clicked]
                            fit = -(math.log(it["price"]) - self.log_budget[u]) ** 2
                            if rng.random() < _sigmoid(-0.8 + self.bq * it["q"] + 0.4 * fit):
                                st["pend"].append((ts + int(rng.uniform(2, 20) * 1000),
                                                   "add_to_cart", clicked))
                # engagement
                m0, mt = mood.get(u, (0.0, now))
                md = m0 * math.exp(-(now - mt) / 120_000)
                c = self.chatty[u]
                rates = [("like", 0.012 * c * (1 + 4 * md)), ("comment", 0.002 * c * (1 + 3 * md)),
                         ("share", 0.0003 * (1 + 3 * md)), ("gift", 0.0002 * (1 + 8 * md))]
                if (u, r) not in followed:
                    rates.append(("follow", 0.0004 * (1 + 5 * md)))
                for typ, rate in rates:
                    if rng.random() < rate:
                        ts = max(lo, now + int(rng.integers(1, 1000)))
                        if ts >= st["end"]:
                            continue
                        kw = {"user_id": uid}
                        if spot is not None and rng.random() < 0.3:
                            kw["item_id"] = spot
                        emit(ts, typ, **kw)
                        if typ == "follow":
                            followed.add((u, r))
            # departures
            for key in list(active):
                st = active[key]
                if st["end"] < now + 1000:
                    emit(min(st["end"], t1), "leave", user_id=self.user_ids[st["u"]])
                    del active[key]
        for st in active.values():
            emit(t1, "leave", user_id=self.user_ids[st["u"]])
        for iid in show:
            self.last_show_end[iid] = t1
        emit(t1, "room_close")
        return evs

    def _draw_click(self, u, show, spot, counts):
        rng = self.rng
        v = self.variant
        if v in ("base", "herding") and spot is not None and rng.random() < P_SPOT:
            return spot
        if v == "herding":
            R = sum(counts.get(i, 0) for i in show)
            if R > 0 and rng.random() < 1.0 - math.exp(-0.08 * R):
                n = np.array([counts.get(i, 0) for i in show], dtype=float)
                return show[int(rng.choice(len(show), p=n / n.sum()))]
        c = int(rng.choice(len(self.categories), p=self.prefs[u]))
        idx = [j for j, i in enumerate(show) if self.items[i]["cat"] == c]
        if idx:
            sub = [show[j] for j in idx]
            q = np.array([self.items[i]["q"] for i in sub])
            if v == "two-stage":
                return sub[int(rng.integers(len(sub)))]
            if v == "quality":
                return sub[int(rng.choice(len(sub), p=_softmax(3.0 * q)))]
            lp = np.log([self.items[i]["price"] for i in sub])
            util = -1.5 * (lp - self.log_budget[u]) ** 2 + q
            if v == "herding":
                util = util + 0.8 * np.log1p([counts.get(i, 0) for i in sub])
            if spot is not None:
                util = util + np.array([1.0 if i == spot else 0.0 for i in sub])
            return sub[int(rng.choice(len(sub), p=_softmax(util)))]
        x = rng.random()
        if x < P_LEAVE_MISS:
            return "LEAVE"
        if x < P_LEAVE_MISS + P_RANDOM_MISS:
            if v == "quality":
                q = np.array([self.items[i]["q"] for i in show])
                return show[int(rng.choice(len(show), p=_softmax(3.0 * q)))]
            return show[int(rng.integers(len(show)))]
        return None

    # ------------------------------------------------------------ public API
    def events(self):
        for d in self._events:
            yield dict(d)

    def oracle_ranking(self, user_id, item_ids, spotlight=None):
        item_ids = [str(i) for i in item_ids]
        known = [i for i in dict.fromkeys(item_ids) if i in self.items]
        unknown = [i for i in dict.fromkeys(item_ids) if i not in self.items]
        if not known:
            return known + unknown
        u = self.uidx.get(user_id)
        if u is not None:
            p = self._choice_probs(u, known, spotlight, self.herd_counts)
        else:  # unknown viewer: the average of the first 50 viewers
            p = np.mean([self._choice_probs(x, known, spotlight, self.herd_counts)
                         for x in range(min(50, self.n_viewers))], axis=0)
        order = sorted(range(len(known)),
                       key=lambda j: (-p[j], -self.items[known[j]]["q"], known[j]))
        return [known[j] for j in order] + unknown


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--viewers", type=int, default=400)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--variant", default="base", choices=HerdWorld.VARIANTS)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    w = HerdWorld(a.seed, a.rooms, a.viewers, a.minutes, a.variant)
    n = 0
    with open(a.out, "w", encoding="utf-8") as f:
        for e in w.events():
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
            n += 1
    print(f"wrote {n} events to {a.out}")


if __name__ == "__main__":
    main()
