"""ArcadeWorld: an independent simulator of live-commerce rooms for ``roomrank lab --world``.

Written on 2026-12-05 by a separate agent from the event contract (EVENTS.md) and a brief only,
without reading the model, feature or simulator code it will be used to test.

Protocol: ``ArcadeWorld(seed=, rooms=, viewers=, minutes=, variant=)``; ``events()`` yields
contract dicts in arrival order (ts non-decreasing); ``oracle_ranking(user_id, item_ids,
spotlight)`` orders a showcase by the world's hidden per-item probability for that viewer.

Seeds and days
--------------
``seed % 1000`` (with the variant) fixes the population: viewers, rooms, goods and every hidden
parameter below.  ``seed`` fixes the day's activity (who comes, when, to which room, what the hosts
show, every draw).  Day index ``d = seed // 1000`` shifts the clock: the stream starts at
2026-12-05 12:00 UTC minus ``d`` days, so ``seed + 1000`` is "yesterday" (same people and goods,
earlier timestamps, other activity).  Event ids carry the variant and seed, so two days never share
one.  Ids: rooms ``arc-r{r}``, viewers ``arc-u{v}``, items ``r{r}-i{k}`` (``r{r}-drop{k}`` in
churn).

Population (all hidden unless said "emitted")
---------------------------------------------
12 categories ``c`` with median prices ``m_c`` (snacks 29 ... electronics 299).
Viewer ``v``:
  gender g_v, age band, city tier, account age, device                    (emitted in enter attrs)
  taste   a_v ~ Dirichlet(6 w(g_v, age_v) / sum w) over categories; T_vc = clip(log 12a_vc, -3, 2)
  budget  log B_v ~ N(log 80 + 0.2 [city tier 1], 0.75)
  spend_tier = quintile-ish bin of (log B_v + N(0, 0.35)) in 1..5        (emitted; a noisy proxy)
  need    n_v: unit vector in R^3;   item style z_i: unit vector in R^3;  fit_vi = n_v . z_i
  price sensitivity ps_v = exp(N(0, 0.3)); quality sensitivity qs_v ~ U(0.5, 1.5);
  impulsiveness im_v ~ U(0.5, 1.5); deal sensitivity ds_v = exp(N(0, 0.35)) * (1.3 - 0.1 tier);
  urgency ur_v ~ U(0, 1.2); activity e_v ~ Beta(2.5, 2.5); chattiness ch_v ~ Gamma(1.2, 0.35)/min;
  two loved brands (drawn by taste), scan decay s_v ~ U(0.70, 0.92), browse set S_v = its top
  category plus one drawn from a_v.
Room ``r``: popularity W_r ~ LogNormal(0, 0.6), a focus distribution f_r over 1-3 main categories
(70 %) and the rest (30 %); match M_vr = 12 a_v.f_r (about 1 when neutral);
follows_host(v, r) ~ Bern(sigmoid(-3 + 0.6 M_vr + 0.5 log W_r)) (emitted in enter attrs).
Item ``i`` (belongs to one room): category c_i ~ f_r, price p_i = m_c exp(N(0, 0.45)) (ends in .9),
hidden quality Q_i and thumbnail appeal A_i, standard normal with corr(A, Q) = rho (-0.5 in
clickbait, 0 otherwise), brand (4 per category, shared by all rooms), discount_pct, rating =
clip(4.5 + 0.25 Q_i + N(0, 0.25), 3, 5), a listing key (the host's link order).  Emitted per item:
price, category, title (brand + noun; loud prefixes "🔥"/"!!!" when A_i is high), attrs
{brand, rating, discount_pct} (+ stock, drop in churn).

Exposure and choice, identical in every variant
-----------------------------------------------
A showcase lists its items sorted by listing key; pos_i (0-based) is the rank of item i among the
showcase's items by that key (the oracle recomputes it from the ids, whatever order they come in);
spot_i = [i is the spotlight].  lp_vi = max(0, log p_i - log B_v) (over-budget amount).
Between two showcase events every present viewer has one *window*: with probability
e_v * min(1, overlap / 45 s) (item-independent) the viewer shops in it, and then, independently
per item of the showcase,
  considered   with prob  C_vi                 (1 except in crowded)
  item_click   with prob  P_vi = sigmoid(U_vi)
  add_to_cart  with prob  K_vi          (given the click)
  purchase     with prob  B_vi          (given the cart), amount = p_i * qty, qty = 1 (+1 w.p. .1)
all inside the window while the viewer is present.  The oracle's score is the probability of a
purchase of i in a shopping window, C_vi P_vi K_vi B_vi (``oracle="click"`` gives C_vi P_vi);
ties break by item id.  Nothing else (history, time, fatigue) enters these probabilities, so the
oracle is exact.  X_vi = 0.7 spot_i - 0.15 log(1 + pos_i) is the exposure term (crowded has its
own, through C_vi).

Variants
--------
clickbait  (catalogue 10-24 per room, 6-14 on show, a change every 45-90 s, rho = -0.5)
  U = -2.0 + 1.1 im_v A_i + 0.5 T_vc + X_vi                    (clicks: appeal, a little taste)
  K = sigmoid(-0.6 + 1.2 qs_v Q_i + 1.0 fit_vi + 0.4 T_vc - 1.2 ps_v lp_vi)
  B = sigmoid(0.6 + 0.6 Q_i - 1.0 ps_v lp_vi)            (carts and buys: quality, fit, budget)
hoppers    (catalogue 8-16, 5-10 on show, a change every 20-40 s)
  each viewer makes 3 + Poisson(3) stays of U(30, 120) s, 1-15 s apart, never twice in a row in
  one room (room weights W_r^0.5 exp(0.25 M_vr)); taste is the same in every room (brands and
  styles are shared by all rooms):
  U = -2.0 + 0.8 T_vc + 1.2 [brand_i loved by v] + 0.6 fit_vi - 0.4 ps_v lp_vi + X_vi
  K = sigmoid(-0.4 + 0.6 fit_vi + 0.3 Q_i - 0.8 ps_v lp_vi);  B = sigmoid(0.5 - 0.6 ps_v lp_vi)
churn      (auction-style drops: a new item id every 35-75 s, on show for U(120, 330) s, spotlight =
  the newest drop w.p. .85; a room's pool holds ~3x the day's drops, so days overlap little;
  newest listed first; attrs add stock (scarce when < 30) and the drop number)
  U = -1.8 + 0.8 T_vc + 0.9 ds_v disc_i/30 + 0.6 Q_i + ur_v [stock_i < 30] - 0.8 ps_v lp_vi + X_vi
  K = sigmoid(0.0 + 0.5 Q_i + 0.5 ur_v [stock_i < 30] - 0.6 ps_v lp_vi)
  B = sigmoid(0.8 - 0.6 ps_v lp_vi)
crowded    (catalogue 60-150, 40-120 on show, a change every 60-120 s swapping 0-5 items)
  limited attention: C_vi = 1 - (1 - 0.85 spot_i)(1 - s_v^pos_i)(1 - 0.35 [c_i in S_v])
  U = -1.9 + 0.9 T_vc + 0.6 fit_vi + 0.4 Q_i - 0.7 ps_v lp_vi + 0.3 spot_i
  K = sigmoid(-0.3 + 0.5 fit_vi + 0.4 Q_i - 0.6 ps_v lp_vi);  B = sigmoid(0.6 - 0.5 ps_v lp_vi)

Sessions outside hoppers: 1 + Poisson(0.5) (at most 3) stays of LogNormal(log 200 s, 0.7) (at
least 20 s), 3-40 s apart, the first starting U(0, 0.85 T), never twice in a row in one room;
room weights W_r exp(0.5 M_vr) (1 + 2 follows_host).  90 % of viewers come on a given day.
Heartbeats every 30 s (+-1.5 s) with the ms watched since the last one; 80 % of stays end with a
``leave``, the rest are silent.  Windows shorter than 2 s are skipped; in a window a click falls at
o0 + U(.05, .7)(o1 - o0), the cart and the purchase later in the same window (the item is still on
show and the viewer still present).
Noise unrelated to choice: per stay Poisson(ch_v * minutes) engagement events (like 60 %, comment
25 %, share 5 %, gift 5 %, follow 5 %, only of a host not yet followed), a like/comment names the
spotlight item w.p. .4.  Hosts (outside churn) show a random part of their catalogue, move the
spotlight round it (null w.p. .1) and at each change swap one item w.p. .3 (crowded: 0-5 items);
every room opens with a showcase at the start and ends with ``room_close`` at T = minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

START_MS = int(datetime(2026, 12, 5, 12, tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000

CATEGORIES = ("beauty", "skincare", "snacks", "tea", "apparel", "shoes", "bags", "jewelry",
              "home", "kitchen", "electronics", "toys")
MEDIAN_PRICE = np.array([89, 129, 29, 59, 139, 199, 169, 99, 59, 79, 299, 69], dtype=float)
NOUNS = {
    "beauty": ("Lipstick", "Eyeshadow Palette", "Cushion Foundation", "Mascara"),
    "skincare": ("Serum 30ml", "Sunscreen SPF50", "Face Cream", "Sheet Masks x10"),
    "snacks": ("Beef Jerky", "Nut Mix 500g", "Spicy Noodles x5", "Dried Mango"),
    "tea": ("Oolong 250g", "Pu-erh Cake", "Jasmine Green", "Tea Set"),
    "apparel": ("Down Jacket", "Knit Sweater", "Wide-leg Pants", "Hoodie"),
    "shoes": ("Running Shoes", "Leather Boots", "Canvas Sneakers", "Slippers"),
    "bags": ("Tote Bag", "Crossbody Bag", "Backpack", "Wallet"),
    "jewelry": ("Silver Ring", "Pearl Earrings", "Gold Necklace", "Bracelet"),
    "home": ("Duvet", "Scented Candle", "Storage Box", "Throw Pillow"),
    "kitchen": ("Air Fryer", "Knife Set", "Rice Cooker", "Nonstick Pan"),
    "electronics": ("Earbuds", "Power Bank", "Smart Watch", "Bluetooth Speaker"),
    "toys": ("Building Blocks", "Plush Bear", "RC Car", "Puzzle 1000pc"),
}
BRAND_STEMS = ("Nova", "Lumi", "Kiko", "Orchid", "Tenda", "Vela", "Moro", "Zest", "Hana", "Qin",
               "Pax", "Rune")
GENDER_WEIGHT = {
    "f": {"beauty": 2.0, "skincare": 2.0, "apparel": 1.5, "jewelry": 1.5, "bags": 1.3},
    "m": {"electronics": 2.0, "shoes": 1.5, "snacks": 1.2, "tea": 1.2},
    "u": {},
}
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
AGE_WEIGHT = {"18-24": {"snacks": 1.4, "toys": 0.7, "tea": 0.6},
              "25-34": {"toys": 1.3, "beauty": 1.2},
              "35-44": {"kitchen": 1.4, "home": 1.4, "toys": 1.3},
              "45+": {"tea": 1.8, "home": 1.3, "kitchen": 1.2}}
COMMENTS = ("link?", "size guide pls", "how much", "in stock?", "love it", "hi", "ship to sz?",
            "bought!", "too pricey", "show again")

# per-variant room setup: catalogue size range, on-show range, seconds between changes
SETUP = {
    "clickbait": {"cat": (10, 24), "show": (6, 14), "gap": (45, 90)},
    "hoppers": {"cat": (8, 16), "show": (5, 10), "gap": (20, 40)},
    "churn": {"cat": (0, 0), "show": (0, 0), "gap": (35, 75)},
    "crowded": {"cat": (60, 150), "show": (40, 120), "gap": (60, 120)},
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class ArcadeWorld:
    """Live-commerce rooms with four mechanisms; see the module docstring for the model."""

    VARIANTS = ("clickbait", "hoppers", "churn", "crowded")

    def __init__(self, seed: int = 1, rooms: int = 10, viewers: int = 400, minutes: float = 15.0,
                 variant: str = "clickbait", oracle: str = "purchase") -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"variant {variant!r}: ArcadeWorld offers {', '.join(self.VARIANTS)}")
        if oracle not in ("purchase", "click"):
            raise ValueError(f"oracle {oracle!r}: 'purchase' or 'click'")
        self.seed, self.rooms, self.viewers = int(seed), int(rooms), int(viewers)
        self.minutes, self.variant, self.oracle = float(minutes), variant, oracle
        self.end_ms = int(self.minutes * 60_000)
        self.day = self.seed // 1000
        self.t0 = START_MS - self.day * DAY_MS
        self._vi = self.VARIANTS.index(variant)
        self._build_population()

    # ------------------------------------------------------------------ population (seed % 1000)
    def _build_population(self) -> None:
        rng = np.random.default_rng([self.seed % 1000, self._vi, 0])
        nc, nv, nr = len(CATEGORIES), self.viewers, self.rooms
        self.user_ids = [f"arc-u{v}" for v in range(nv)]
        self._user_index = {u: v for v, u in enumerate(self.user_ids)}
        self.room_ids = [f"arc-r{r}" for r in range(nr)]

        # viewers
        self.gender = rng.choice(["f", "m", "u"], size=nv, p=[0.55, 0.40, 0.05])
        self.age = rng.choice(AGE_BANDS, size=nv, p=[0.3, 0.35, 0.2, 0.15])
        self.city_tier = rng.choice([1, 2, 3, 4], size=nv, p=[0.2, 0.3, 0.3, 0.2])
        self.account_days = np.minimum(rng.geometric(1 / 500, size=nv), 3650)
        self.device = rng.choice(["ios", "android"], size=nv, p=[0.4, 0.6])
        taste = np.empty((nv, nc))
        for v in range(nv):
            w = np.ones(nc)
            for table in (GENDER_WEIGHT[self.gender[v]], AGE_WEIGHT[self.age[v]]):
                for cat, mult in table.items():
                    w[CATEGORIES.index(cat)] *= mult
            taste[v] = rng.dirichlet(6.0 * w / w.sum())
        taste = np.maximum(taste, 1e-9)
        self.taste = taste
        self.T = np.clip(np.log(nc * taste), -3.0, 2.0)
        self.log_budget = rng.normal(np.log(80.0) + 0.2 * (self.city_tier == 1), 0.75)
        noisy = self.log_budget + rng.normal(0.0, 0.35, size=nv)
        cuts = np.quantile(noisy, [0.25, 0.55, 0.75, 0.9]) if nv > 1 else np.array([0, 1, 2, 3])
        self.spend_tier = 1 + np.searchsorted(cuts, noisy)
        need = rng.normal(size=(nv, 3))
        self.need = need / np.linalg.norm(need, axis=1, keepdims=True)
        self.ps = np.exp(rng.normal(0.0, 0.3, size=nv))
        self.qs = rng.uniform(0.5, 1.5, size=nv)
        self.im = rng.uniform(0.5, 1.5, size=nv)
        self.ds = np.exp(rng.normal(0.0, 0.35, size=nv)) * (1.3 - 0.1 * self.spend_tier)
        self.ur = rng.uniform(0.0, 1.2, size=nv)
        self.active = rng.beta(2.5, 2.5, size=nv)
        self.chat = rng.gamma(1.2, 0.35, size=nv)
        self.scan = rng.uniform(0.70, 0.92, size=nv)
        self.browse = np.zeros((nv, nc), dtype=bool)
        n_brands = 4 * nc
        self.loves = np.zeros((nv, n_brands), dtype=bool)
        for v in range(nv):
            self.browse[v, int(np.argmax(taste[v]))] = True
            self.browse[v, rng.choice(nc, p=taste[v])] = True
            for _ in range(2):
                c = rng.choice(nc, p=taste[v])
                self.loves[v, 4 * c + rng.integers(4)] = True
        self.brand_names = [f"{BRAND_STEMS[c]}{'ABCD'[k]}" for c in range(nc) for k in range(4)]

        # rooms
        self.popularity = rng.lognormal(0.0, 0.6, size=nr)
        self.focus = np.empty((nr, nc))
        for r in range(nr):
            main = rng.choice(nc, size=rng.integers(1, 4), replace=False)
            f = np.full(nc, 0.3 / nc)
            f[main] += 0.7 * rng.dirichlet(np.ones(len(main)))
            self.focus[r] = f / f.sum()
        self.match = nc * self.taste @ self.focus.T  # taste lift for the room, ~1 when neutral
        self.follows = rng.random((nv, nr)) < _sigmoid(
            -3.0 + 0.6 * self.match + 0.5 * np.log(self.popularity))

        # goods
        rho = -0.5 if self.variant == "clickbait" else 0.0
        setup = SETUP[self.variant]
        per_room: list[int] = []
        for _r in range(nr):
            if self.variant == "churn":
                n_drops = int(self.minutes * 60 / 55) + 3
                per_room.append(3 * n_drops + 10)
            else:
                lo, hi = setup["cat"]
                per_room.append(int(rng.integers(lo, hi + 1)))
        ni = int(sum(per_room))
        self.item_room = np.repeat(np.arange(nr), per_room)
        self.item_local = np.concatenate([np.arange(n) for n in per_room]) if ni else np.zeros(0)
        self.cat = np.array([rng.choice(nc, p=self.focus[r]) for r in self.item_room], dtype=int)
        self.price = np.round(MEDIAN_PRICE[self.cat] * np.exp(rng.normal(0, 0.45, size=ni)))
        self.price = np.maximum(self.price, 2.0) - 0.1
        self.log_price = np.log(self.price)
        q = rng.normal(size=ni)
        self.Q = q
        self.A = rho * q + np.sqrt(1 - rho * rho) * rng.normal(size=ni)
        z = rng.normal(size=(ni, 3))
        self.z = z / np.linalg.norm(z, axis=1, keepdims=True)
        self.brand = 4 * self.cat + rng.integers(0, 4, size=ni)
        self.discount = rng.choice([0, 5, 10, 15, 20, 30, 40, 50], size=ni,
                                   p=[0.2, 0.1, 0.2, 0.15, 0.15, 0.1, 0.06, 0.04])
        self.rating = np.round(np.clip(4.5 + 0.25 * q + rng.normal(0, 0.25, size=ni), 3, 5), 1)
        self.stock = rng.integers(5, 200, size=ni)
        self.scarce = self.stock < 30
        if self.variant == "churn":
            self.key = -self.item_local.astype(float)  # newest drop listed first
        else:
            self.key = rng.random(ni)  # the host's link order
        prefix = "r{}-drop{}" if self.variant == "churn" else "r{}-i{}"
        self.item_ids = [prefix.format(int(r), int(k))
                         for r, k in zip(self.item_room, self.item_local, strict=True)]
        self._item_index = {i: n for n, i in enumerate(self.item_ids)}
        self.room_items = [np.flatnonzero(self.item_room == r) for r in range(nr)]
        self._templates = [self._item_dict(n, rng) for n in range(ni)]

    def _item_dict(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        cat = CATEGORIES[self.cat[n]]
        noun = NOUNS[cat][int(rng.integers(4))]
        title = f"{self.brand_names[self.brand[n]]} {noun}"
        if self.A[n] > 1.2:
            title = f"🔥 {title} LIMITED!!!"
        elif self.A[n] > 0.6:
            title = f"{title} - hot deal!"
        attrs: dict[str, Any] = {"brand": self.brand_names[self.brand[n]],
                                 "rating": float(self.rating[n]),
                                 "discount_pct": int(self.discount[n])}
        if self.variant == "churn":
            attrs["stock"] = int(self.stock[n])
            attrs["drop"] = int(self.item_local[n])
        return {"item_id": self.item_ids[n], "price": round(float(self.price[n]), 2),
                "category": cat, "title": title, "attrs": attrs}

    # ------------------------------------------------------------------ hidden probabilities
    def _probs(self, v: int, idx: np.ndarray, spot: int) -> tuple[np.ndarray, ...]:
        """(considered, click, cart | click, buy | cart) for viewer v on the showcase ``idx``."""
        order = np.argsort(self.key[idx], kind="stable")
        pos = np.empty(len(idx))
        pos[order] = np.arange(len(idx))
        is_spot = (idx == spot).astype(float)
        t = self.T[v, self.cat[idx]]
        fit = self.z[idx] @ self.need[v]
        lp = np.maximum(0.0, self.log_price[idx] - self.log_budget[v])
        q, ps = self.Q[idx], self.ps[v]
        x = 0.7 * is_spot - 0.15 * np.log1p(pos)
        consider = np.ones(len(idx))
        if self.variant == "clickbait":
            u = -2.0 + 1.1 * self.im[v] * self.A[idx] + 0.5 * t + x
            k = -0.6 + 1.2 * self.qs[v] * q + 1.0 * fit + 0.4 * t - 1.2 * ps * lp
            b = 0.6 + 0.6 * q - 1.0 * ps * lp
        elif self.variant == "hoppers":
            loved = self.loves[v, self.brand[idx]].astype(float)
            u = -2.0 + 0.8 * t + 1.2 * loved + 0.6 * fit - 0.4 * ps * lp + x
            k = -0.4 + 0.6 * fit + 0.3 * q - 0.8 * ps * lp
            b = 0.5 - 0.6 * ps * lp
        elif self.variant == "churn":
            scarce = self.scarce[idx].astype(float)
            u = (-1.8 + 0.8 * t + 0.9 * self.ds[v] * self.discount[idx] / 30 + 0.6 * q
                 + self.ur[v] * scarce - 0.8 * ps * lp + x)
            k = 0.5 * q + 0.5 * self.ur[v] * scarce - 0.6 * ps * lp
            b = 0.8 - 0.6 * ps * lp
        else:  # crowded
            browse = self.browse[v, self.cat[idx]].astype(float)
            consider = 1 - (1 - 0.85 * is_spot) * (1 - self.scan[v] ** pos) * (1 - 0.35 * browse)
            u = -1.9 + 0.9 * t + 0.6 * fit + 0.4 * q - 0.7 * ps * lp + 0.3 * is_spot
            k = -0.3 + 0.5 * fit + 0.4 * q - 0.6 * ps * lp
            b = 0.6 - 0.5 * ps * lp
        return consider, _sigmoid(u), _sigmoid(k), _sigmoid(b)

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]:
        """The showcase's items, best first by the viewer's hidden purchase probability (or click
        probability with ``oracle="click"``); unknown items last, ties by id."""
        known = [i for i in item_ids if i in self._item_index]
        unknown = sorted({i for i in item_ids if i not in self._item_index})
        v = self._user_index.get(user_id)
        if v is None or not known:
            return sorted(dict.fromkeys(known)) + unknown
        known = list(dict.fromkeys(known))
        idx = np.array([self._item_index[i] for i in known], dtype=int)
        spot = self._item_index.get(spotlight, -1) if spotlight is not None else -1
        c, p, k, b = self._probs(v, idx, spot)
        score = c * p if self.oracle == "click" else c * p * k * b
        ranked = sorted(range(len(known)), key=lambda n: (-float(score[n]), known[n]))
        return [known[n] for n in ranked] + unknown

    # ------------------------------------------------------------------ one day of activity
    def _schedule(self, r: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray, int]]:
        """The room's showcase events: (t ms from start, item indices in list order, spotlight)."""
        out: list[tuple[int, np.ndarray, int]] = []
        pool = self.room_items[r]
        lo, hi = SETUP[self.variant]["gap"]
        if self.variant == "churn":
            n_drops = int(self.minutes * 60 / 55) + 3
            chosen = np.sort(rng.choice(pool, size=min(len(pool), n_drops), replace=False))
            launches, t = [], 0
            for n, item in enumerate(chosen):
                if n >= 3:
                    t += int(rng.uniform(lo, hi) * 1000)
                if t >= self.end_ms - 5_000:
                    break
                launches.append((t, int(item), t + int(rng.uniform(120, 330) * 1000)))
            times = sorted({t for t, _, _ in launches}
                           | {e for _, _, e in launches if e < self.end_ms - 5_000})
            for t in times:
                live = [(s, i) for s, i, e in launches if s <= t < e]
                if not live:
                    out.append((t, np.zeros(0, dtype=int), -1))
                    continue
                idx = np.array([i for _, i in live], dtype=int)
                idx = idx[np.argsort(self.key[idx], kind="stable")]
                newest = max(live)[1]
                spot = newest if rng.random() < 0.85 else int(rng.choice(idx))
                out.append((t, idx, spot))
            return out
        slo, shi = SETUP[self.variant]["show"]
        size = min(len(pool), int(rng.integers(slo, shi + 1)))
        shown = set(rng.choice(pool, size=size, replace=False).tolist())
        t, rotation = 0, list[int]()
        while t < self.end_ms - 5_000:
            if out:
                swaps = (int(rng.integers(0, 6)) if self.variant == "crowded"
                         else int(rng.random() < 0.3))
                hidden = [i for i in pool if i not in shown]
                swaps = min(swaps, len(hidden), len(shown) - 1)
                if swaps > 0:
                    for i in rng.choice(sorted(shown), size=swaps, replace=False):
                        shown.discard(int(i))
                    shown.update(int(i) for i in rng.choice(hidden, size=swaps, replace=False))
            idx = np.array(sorted(shown), dtype=int)
            idx = idx[np.argsort(self.key[idx], kind="stable")]
            rotation = [i for i in rotation if i in shown]
            if not rotation:
                rotation = [int(i) for i in rng.permutation(idx)]
            spot = -1 if rng.random() < 0.1 else rotation.pop(0)
            out.append((t, idx, spot))
            t += int(rng.uniform(lo, hi) * 1000)
        return out

    def _stays(self, v: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
        """The viewer's stays today: (room, enter ms, leave ms)."""
        nr, end = self.rooms, self.end_ms
        if self.variant == "hoppers":
            n = 3 + int(rng.poisson(3))
            w = np.sqrt(self.popularity) * np.exp(0.25 * self.match[v])
            dur, gap = (30, 120), (1, 15)
        else:
            n = min(3, 1 + int(rng.poisson(0.5)))
            w = self.popularity * np.exp(0.5 * self.match[v]) * (1 + 2 * self.follows[v])
            dur, gap = (0, 0), (3, 40)
        t = int(rng.uniform(0, 0.85) * end)
        out, prev = [], -1
        for _ in range(n):
            if t >= end - 10_000:
                break
            p = w.copy()
            if prev >= 0 and nr > 1:
                p[prev] = 0.0
            r = int(rng.choice(nr, p=p / p.sum()))
            if self.variant == "hoppers":
                length = int(rng.uniform(*dur) * 1000)
            else:
                length = max(20_000, int(rng.lognormal(np.log(200.0), 0.7) * 1000))
            leave = min(t + length, end - 1_000)
            out.append((r, t, leave))
            prev = r
            t = leave + int(rng.uniform(*gap) * 1000)
        return out

    def events(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed % 1000, self._vi, (self.seed // 1000) % 2**32, 1])
        rows: list[tuple[int, int, int, dict[str, Any]]] = []
        tag = f"aw{self.variant[:2]}{self.seed}"

        def add(kind: str, t: int, r: int, prio: int = 2, **fields: Any) -> None:
            n = len(rows)
            rows.append((t, prio, n, {"event_id": f"{tag}-{n}", "type": kind,
                                      "ts": self.t0 + t, "room_id": self.room_ids[r], **fields}))

        schedules = [self._schedule(r, rng) for r in range(self.rooms)]
        starts = [np.array([s[0] for s in sch]) for sch in schedules]
        for r, sch in enumerate(schedules):
            for t, idx, spot in sch:
                add("showcase", t, r, 0, items=[self._showcase_item(int(i)) for i in idx],
                    spotlight=self.item_ids[spot] if spot >= 0 else None)
            add("room_close", self.end_ms, r, 4)

        for v in range(self.viewers):
            if rng.random() >= 0.9:
                continue
            user = self.user_ids[v]
            followed: set[int] = set()
            for r, enter, leave in self._stays(v, rng):
                add("enter", enter, r, 1, user_id=user, attrs=self._attrs(v, r))
                last, t = enter, enter + 30_000
                while t < leave:
                    beat = min(leave - 1, t + int(rng.integers(-1500, 1501)))
                    if beat > last:
                        add("heartbeat", beat, r, user_id=user, watch_ms=beat - last)
                        last = beat
                    t += 30_000
                if rng.random() < 0.8:
                    add("leave", leave, r, 3, user_id=user)
                self._noise(v, r, enter, leave, schedules[r], starts[r], followed, add, rng)
                self._shop(v, r, enter, leave, schedules[r], add, rng)

        rows.sort(key=lambda row: row[:3])
        return iter([row[3] for row in rows])

    def _showcase_item(self, n: int) -> dict[str, Any]:
        tpl = self._templates[n]
        return {**tpl, "attrs": dict(tpl["attrs"])}

    def _attrs(self, v: int, r: int) -> dict[str, str | int]:
        return {"spend_tier": int(self.spend_tier[v]), "city_tier": int(self.city_tier[v]),
                "gender": str(self.gender[v]), "age_band": str(self.age[v]),
                "account_days": int(self.account_days[v]), "device": str(self.device[v]),
                "follows_host": int(self.follows[v, r])}

    def _noise(self, v: int, r: int, enter: int, leave: int, sch: list, starts: np.ndarray,
               followed: set[int], add: Any, rng: np.random.Generator) -> None:
        """Engagement unrelated to choice: likes, comments, shares, gifts, follows."""
        user = self.user_ids[v]
        n = int(rng.poisson(self.chat[v] * (leave - enter) / 60_000))
        for t in np.sort(rng.integers(enter + 1, max(enter + 2, leave), size=n)):
            kind = str(rng.choice(["like", "comment", "share", "gift", "follow"],
                                  p=[0.6, 0.25, 0.05, 0.05, 0.05]))
            if kind == "follow":
                if r in followed or self.follows[v, r]:
                    continue
                followed.add(r)
            fields: dict[str, Any] = {"user_id": user}
            spot = sch[int(np.searchsorted(starts, t, side="right")) - 1][2]
            if kind in ("like", "comment") and spot >= 0 and rng.random() < 0.4:
                fields["item_id"] = self.item_ids[spot]
            if kind == "comment":
                fields["text"] = str(rng.choice(COMMENTS))
            add(kind, int(t), r, **fields)

    def _shop(self, v: int, r: int, enter: int, leave: int, sch: list, add: Any,
              rng: np.random.Generator) -> None:
        """Windows between showcase changes: gate, then click -> cart -> purchase per item."""
        user = self.user_ids[v]
        for n, (start, idx, spot) in enumerate(sch):
            stop = sch[n + 1][0] if n + 1 < len(sch) else self.end_ms
            o0, o1 = max(start, enter), min(stop, leave)
            if o1 - o0 < 2_000 or len(idx) == 0:
                continue
            if rng.random() >= self.active[v] * min(1.0, (o1 - o0) / 45_000):
                continue
            c, p, k, b = self._probs(v, idx, spot)
            draw = rng.random((4, len(idx)))
            clicked = np.flatnonzero((draw[0] < c) & (draw[1] < p))
            for j in clicked:
                item = self.item_ids[int(idx[j])]
                tc = o0 + int(rng.uniform(0.05, 0.7) * (o1 - o0))
                add("item_click", tc, r, user_id=user, item_id=item)
                if draw[2, j] >= k[j]:
                    continue
                tk = tc + int(rng.uniform(0.2, 0.6) * (o1 - tc))
                add("add_to_cart", tk, r, user_id=user, item_id=item)
                if draw[3, j] >= b[j]:
                    continue
                tb = tk + int(rng.uniform(0.2, 0.8) * (o1 - tk))
                qty = 2 if rng.random() < 0.1 else 1
                add("purchase", tb, r, user_id=user, item_id=item, qty=qty,
                    amount=round(float(self.price[int(idx[j])]) * qty, 2))
