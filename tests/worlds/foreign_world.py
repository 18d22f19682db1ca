"""ForeignWorld: an independent simulator of live-commerce streaming rooms.

Written only against /work/shared/contract/EVENTS.md (event contract v1), to test a
recommender on a world it was not designed around.  numpy only.

Written on 2026-12-04 by a separate agent that did not read the project's simulator or docs,
and kept **held out**: it was first run after the choice model's leader of two learners was
decided and measured on the project's regimes and on ``herd_world.py``, and like the
``held-out`` regime it is to be scored only at the end of a piece of model work
(docs/evaluation.md, "Worlds from another simulator"). Kept as written, apart from lint.

Generative model
----------------
* Items live in a global pool.  Each item has a 6-dim latent factor f_i, a Zipf intrinsic
  popularity (a random rank r_i; pop_i = z-score of -log r_i, i.e. log of a Zipf weight)
  and a category, which is only a coarse, noisy label: argmax over 24 category centroids of
  (centroid . f_i + cat_noise * Gumbel).  Price is log-normal around a per-category median.
* Rooms have a latent theme; a room's catalogue is ~70 items drawn from the pool with weights
  exp(1.5 theme . f_i) plus ~20 items from the pool's most popular 150 (shared across rooms).
* Hosts change the showcase every U(20,120) s: 4-30 items drawn from the catalogue
  (weighted by popularity), spotlight = one of them (10% of the time no spotlight).
* Viewers: latent preference p_u (6-dim), idiosyncratic item-level taste eps_ui ~ N(0,1),
  log budget b_u ~ N(log 35, sd), price sensitivity beta_u (log-normal), activity a_u
  (log-normal, heavy tailed: a few very active viewers, many passive ones), and a Dirichlet
  preference over rooms (some viewers hop between several rooms).
* Sessions: first arrival uniform over [-8 min, T] (earlier ones are already in the room at
  t=0), log-normal session length scaled by activity, then a revisit (possibly another room)
  with probability ~0.6*min(1,a_u).  Heartbeats every 25-35 s while present (watch_ms = ms
  since the previous enter/heartbeat); leave at session end (or at T).
* Funnel: a present viewer "considers" the showcase as a Poisson process of rate
  0.5/min * a_u.  It picks one item by a multinomial logit over the items on show plus an
  outside option ("nothing", utility u0):
      U_ui = w_pref * p_u.f_i/sqrt(6) + w_idio * eps_ui + w_pop * pop_i
             + w_spot * [i = spotlight] - beta_u * max(0, log price_i - b_u)
             + intent * exp(-(t - t_last_click_ui)/tau)          (short-term revisit)
  A pick is an item_click.  Cart with prob sigmoid(c0 + 0.6*(U - spotlight bonus - intent)
  - gate * over) where over = max(0, log price - b_u): the spotlight attracts clicks but not
  carts.  Purchase after cart with prob sigmoid(k0 - gate * over); qty 2 for 10% of cheap
  items; amount = price * qty.  Cart/purchase only if it happens before the session ends.
* Engagement (like 70% / comment 25% / share 5%) is a Poisson process of rate 0.6/min * a_u,
  independent of taste (noise); 30% carry the spotlight's item_id.
* enter carries attrs {"spend_tier": 1..5} (the contract's example attribute): a noisy
  quantisation of the hidden budget; 20% of viewers are unknown to the platform (no attrs).

Variants (different mechanisms, not just different noise):
  base              moderate taste, popularity, spotlight and price effects.
  price-driven      wide budgets, strong price sensitivity and a hard price gate on carts and
                    purchases; taste weak.
  popularity-driven taste weak; intrinsic popularity and the spotlight dominate the choice.
  niche             strong item-level individual taste (eps_ui), near-random category labels,
                    popularity irrelevant; strong short-term revisits.

oracle_ranking(user_id, item_ids, spotlight, ts=None) ranks by U_ui (the MNL utility, so the
same order as the hidden click probability).  Without ts, the short-term intent term is left
out (static ceiling); with ts (ms) it includes the intent from this user's clicks before ts.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator

import numpy as np

CATEGORIES = [
    "beauty", "skincare", "snacks", "beverages", "fresh_food", "womens_apparel",
    "mens_apparel", "shoes", "bags", "jewelry", "home_decor", "kitchen", "cleaning",
    "baby", "toys", "pet", "electronics", "phone_accessories", "sports", "outdoor",
    "books", "health", "stationery", "furniture",
]
# median price per category (currency units)
CAT_PRICE = {
    "beauty": 45, "skincare": 60, "snacks": 9, "beverages": 7, "fresh_food": 18,
    "womens_apparel": 55, "mens_apparel": 50, "shoes": 80, "bags": 90, "jewelry": 120,
    "home_decor": 35, "kitchen": 30, "cleaning": 12, "baby": 28, "toys": 25, "pet": 20,
    "electronics": 160, "phone_accessories": 18, "sports": 40, "outdoor": 70, "books": 15,
    "health": 25, "stationery": 6, "furniture": 220,
}

VARIANTS = {
    "base": dict(w_pref=1.0, w_idio=0.35, w_pop=0.6, w_spot=1.0, beta_mu=1.0, budget_sd=0.7,
                 cat_noise=0.7, gate=1.0, intent=1.2, tau=240.0, u0=1.0, c0=-0.9, k0=0.4),
    "price-driven": dict(w_pref=0.3, w_idio=0.1, w_pop=0.3, w_spot=0.5, beta_mu=3.0,
                         budget_sd=1.1, cat_noise=0.7, gate=4.0, intent=0.8, tau=240.0,
                         u0=0.5, c0=0.2, k0=1.2),
    "popularity-driven": dict(w_pref=0.2, w_idio=0.1, w_pop=1.8, w_spot=2.5, beta_mu=0.5,
                              budget_sd=0.7, cat_noise=0.7, gate=0.8, intent=0.5, tau=180.0,
                              u0=2.0, c0=-2.3, k0=0.3),
    "niche": dict(w_pref=1.2, w_idio=1.8, w_pop=0.1, w_spot=0.3, beta_mu=0.7, budget_sd=0.7,
                  cat_noise=6.0, gate=1.0, intent=1.5, tau=360.0, u0=1.5, c0=-0.8, k0=0.4),
}

DIM = 6
T0_MS = 1767225600000  # 2026-01-01T00:00:00Z
TYPE_ORDER = {"showcase": 0, "enter": 1, "leave": 3}  # tie-break at equal ts; others 2


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class ForeignWorld:
    def __init__(self, seed: int, rooms: int = 10, viewers: int = 400, minutes: float = 15.0,
                 variant: str = "base"):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; one of {sorted(VARIANTS)}")
        self.seed, self.n_rooms, self.n_viewers = seed, rooms, viewers
        self.minutes, self.variant, self.p = minutes, variant, VARIANTS[variant]
        self.T = minutes * 60.0  # seconds
        rng = np.random.default_rng([seed, 7919])
        self.rng = rng
        p = self.p

        # ---- items
        n_items = max(200, 80 * rooms)
        self.n_items = n_items
        self.item_ids = [f"sku-{i}" for i in range(n_items)]
        self.item_index = {s: i for i, s in enumerate(self.item_ids)}
        self.F = rng.normal(size=(n_items, DIM))
        ranks = rng.permutation(n_items) + 1
        lp = -np.log(ranks)
        self.pop = (lp - lp.mean()) / lp.std()
        centroids = rng.normal(size=(len(CATEGORIES), DIM))
        gumbel = rng.gumbel(size=(n_items, len(CATEGORIES)))
        cat_idx = np.argmax(self.F @ centroids.T / math.sqrt(DIM) + p["cat_noise"] * gumbel, axis=1)
        self.cat = [CATEGORIES[c] for c in cat_idx]
        logp = np.array([math.log(CAT_PRICE[c]) for c in self.cat]) + 0.5 * rng.normal(size=n_items)
        price = np.exp(logp)
        price = np.where(price < 10, np.round(price, 1), np.floor(price) + 0.9)
        self.price = np.maximum(price, 0.5)
        self.logprice = np.log(self.price)

        # ---- rooms and catalogues
        self.room_ids = [f"r-{k}" for k in range(rooms)]
        top_shared = np.argsort(-self.pop)[:150]
        self.catalogue = []
        for _ in range(rooms):
            theme = rng.normal(size=DIM)
            w = np.exp(1.5 * (self.F @ theme) / math.sqrt(DIM))
            own = rng.choice(n_items, size=70, replace=False, p=w / w.sum())
            shared = rng.choice(top_shared, size=20, replace=False)
            self.catalogue.append(np.unique(np.concatenate([own, shared])))

        # ---- viewers
        self.user_ids = [f"u-{u}" for u in range(viewers)]
        self.user_index = {s: i for i, s in enumerate(self.user_ids)}
        self.P = rng.normal(size=(viewers, DIM))
        self.EPS = rng.normal(size=(viewers, n_items))
        self.logbudget = math.log(35) + p["budget_sd"] * rng.normal(size=viewers)
        self.beta = p["beta_mu"] * np.exp(0.3 * rng.normal(size=viewers))
        self.activity = np.minimum(np.exp(rng.normal(-0.5, 1.0, size=viewers)), 15.0)
        self.room_pref = rng.dirichlet(np.full(rooms, 0.3), size=viewers)
        noisy = self.logbudget + 0.4 * rng.normal(size=viewers)
        cuts = np.quantile(noisy, [0.2, 0.4, 0.6, 0.8])
        tiers = 1 + np.searchsorted(cuts, noisy)
        known = rng.random(viewers) > 0.2
        self.attrs = [{"spend_tier": int(t)} if k else None
                      for t, k in zip(tiers, known, strict=True)]

        # static utility (without spotlight and intent), viewers x items
        self.U = (p["w_pref"] * (self.P @ self.F.T) / math.sqrt(DIM)
                  + p["w_idio"] * self.EPS + p["w_pop"] * self.pop[None, :]
                  - self.beta[:, None]
                  * np.maximum(0.0, self.logprice[None, :] - self.logbudget[:, None]))
        self.click_log: dict[int, list[tuple[float, int]]] = {}
        self._events: list | None = None

    # ------------------------------------------------------------------ utility
    def _intent(self, u: int, items: np.ndarray, t: float) -> np.ndarray:
        out = np.zeros(len(items))
        log = self.click_log.get(u)
        if not log:
            return out
        last: dict[int, float] = {}
        for tc, i in log:
            if tc < t:
                last[i] = tc
        p = self.p
        for j, i in enumerate(items):
            if i in last:
                out[j] = p["intent"] * math.exp(-(t - last[i]) / p["tau"])
        return out

    def _utility(self, u: int, items: np.ndarray, spot: int | None, t: float | None) -> np.ndarray:
        util = self.U[u, items].copy()
        if spot is not None:
            util[items == spot] += self.p["w_spot"]
        if t is not None:
            util += self._intent(u, items, t)
        return util

    def oracle_ranking(self, user_id: str, item_ids, spotlight: str | None,
                       ts: int | None = None) -> list[str]:
        """Items best first by the hidden click utility of this viewer (MNL order).

        Items unknown to the world keep their relative order at the end.  With ts (epoch ms)
        the short-term intent from this user's clicks strictly before ts is included."""
        self.events_list()  # make sure the click log exists when ts is used
        item_ids = list(item_ids)
        u = self.user_index.get(user_id)
        known = [s for s in item_ids if s in self.item_index]
        unknown = [s for s in item_ids if s not in self.item_index]
        if u is None or not known:
            return known + unknown
        idx = np.array([self.item_index[s] for s in known])
        spot = self.item_index.get(spotlight) if spotlight is not None else None
        t = None if ts is None else (ts - T0_MS) / 1000.0
        util = self._utility(u, idx, spot, t)
        order = sorted(range(len(known)), key=lambda j: (-util[j], j))
        return [known[j] for j in order] + unknown

    # ------------------------------------------------------------------ simulation
    def _simulate(self) -> list[dict]:
        rng = np.random.default_rng([self.seed, 104729])
        p, T = self.p, self.T
        raw: list[tuple[int, int, int, dict]] = []  # (ts, type order, seq, event)
        seq = 0

        def emit(t: float, ev: dict) -> None:
            nonlocal seq
            ts = T0_MS + round(t * 1000)
            ev = {"event_id": "", "type": ev.pop("type"), "ts": ts, **ev}
            raw.append((ts, TYPE_ORDER.get(ev["type"], 2), seq, ev))
            seq += 1

        # showcase schedules per room: list of (start_s, items array, spotlight or None)
        schedules = []
        for r in range(self.n_rooms):
            cat = self.catalogue[r]
            w = np.exp(0.5 * self.pop[cat])
            w = w / w.sum()
            sched, t = [], 0.0
            while t < T:
                t_ms = round(t, 3)
                size = int(rng.integers(4, 31))
                items = rng.choice(cat, size=min(size, len(cat)), replace=False, p=w)
                spot = int(items[0]) if rng.random() < 0.9 else None  # host presents the first
                if spot is not None and rng.random() < 0.5:
                    rng.shuffle(items)  # spotlight not always first in the list
                sched.append((t_ms, items, spot))
                emit(t_ms, {"type": "showcase", "room_id": self.room_ids[r],
                            "items": [{"item_id": self.item_ids[i], "price": float(self.price[i]),
                                       "category": self.cat[i]} for i in items],
                            "spotlight": None if spot is None else self.item_ids[spot]})
                t += float(rng.uniform(20, 120))
            schedules.append(sched)
        starts = [np.array([s[0] for s in sc]) for sc in schedules]

        def showcase_at(r: int, t: float):
            k = int(np.searchsorted(starts[r], t, side="right")) - 1
            return schedules[r][max(k, 0)]

        for u in range(self.n_viewers):
            uid, a = self.user_ids[u], float(self.activity[u])
            t = float(rng.uniform(-480.0, T))
            sessions = []
            while t < T:
                length = float(np.exp(rng.normal(math.log(240), 0.9))) * a ** 0.3
                start, end = max(t, 0.0), min(t + length, T)
                if end - start >= 5.0:
                    room = int(rng.choice(self.n_rooms, p=self.room_pref[u]))
                    sessions.append((room, start, end))
                if rng.random() > 0.6 * min(1.0, a):
                    break
                t = t + length + float(rng.exponential(180.0))
            for r, start, end in sessions:
                rid = self.room_ids[r]
                ev = {"type": "enter", "room_id": rid, "user_id": uid}
                if self.attrs[u] is not None:
                    ev["attrs"] = dict(self.attrs[u])
                emit(start, ev)
                # heartbeats
                last_ms = T0_MS + round(start * 1000)
                th = start + float(rng.uniform(25, 35))
                while th < end:
                    ts = T0_MS + round(th * 1000)
                    emit(th, {"type": "heartbeat", "room_id": rid, "user_id": uid,
                              "watch_ms": ts - last_ms})
                    last_ms = ts
                    th += float(rng.uniform(25, 35))
                # engagement: noise
                te = start + float(rng.exponential(60.0 / (0.6 * a)))
                while te < end:
                    kind = rng.choice(["like", "comment", "share"], p=[0.7, 0.25, 0.05])
                    ev = {"type": str(kind), "room_id": rid, "user_id": uid}
                    _, _, spot = showcase_at(r, te)
                    if spot is not None and rng.random() < 0.3:
                        ev["item_id"] = self.item_ids[spot]
                    emit(te, ev)
                    te += float(rng.exponential(60.0 / (0.6 * a)))
                # funnel
                tc = start + float(rng.exponential(60.0 / (0.5 * a)))
                while tc < end:
                    tcr = round(tc, 3)
                    _, items, spot = showcase_at(r, tcr)
                    intent = self._intent(u, items, tcr)
                    util = self._utility(u, items, spot, None) + intent
                    z = np.concatenate([[p["u0"]], util])
                    pr = np.exp(z - z.max())
                    pr /= pr.sum()
                    k = int(rng.choice(len(z), p=pr))
                    if k > 0:
                        i = int(items[k - 1])
                        self.click_log.setdefault(u, []).append((tcr, i))
                        emit(tcr, {"type": "item_click", "room_id": rid, "user_id": uid,
                                   "item_id": self.item_ids[i]})
                        over = max(0.0, float(self.logprice[i] - self.logbudget[u]))
                        base_u = float(self.U[u, i])
                        t_cart = tcr + 3.0 + float(rng.exponential(20.0))
                        carts = _sigmoid(p["c0"] + 0.6 * base_u - p["gate"] * over)
                        if t_cart < end and rng.random() < carts:
                            emit(t_cart, {"type": "add_to_cart", "room_id": rid, "user_id": uid,
                                          "item_id": self.item_ids[i]})
                            t_buy = t_cart + 5.0 + float(rng.exponential(40.0))
                            if t_buy < end and rng.random() < _sigmoid(p["k0"] - p["gate"] * over):
                                qty = 2 if (self.price[i] < 20 and rng.random() < 0.1) else 1
                                ev = {"type": "purchase", "room_id": rid, "user_id": uid,
                                      "item_id": self.item_ids[i],
                                      "amount": round(float(self.price[i]) * qty, 2)}
                                if qty > 1:
                                    ev["qty"] = qty
                                emit(t_buy, ev)
                    tc += float(rng.exponential(60.0 / (0.5 * a)))
                emit(end, {"type": "leave", "room_id": rid, "user_id": uid})

        raw.sort(key=lambda x: (x[0], x[1], x[2]))
        out = []
        for n, (_, _, _, ev) in enumerate(raw):
            ev["event_id"] = f"fw{self.seed}-{n}"
            out.append(ev)
        return out

    def events_list(self) -> list[dict]:
        if self._events is None:
            self._events = self._simulate()
        return self._events

    def events(self) -> Iterator[dict]:
        return iter(self.events_list())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--viewers", type=int, default=400)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--variant", default="base", choices=sorted(VARIANTS))
    ap.add_argument("--out", default="-")
    a = ap.parse_args(argv)
    w = ForeignWorld(a.seed, a.rooms, a.viewers, a.minutes, a.variant)
    f = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for ev in w.events():
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
    finally:
        if f is not sys.stdout:
            f.close()


if __name__ == "__main__":
    main()
