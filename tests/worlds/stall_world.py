"""StallWorld: an independent simulator of live-commerce streaming rooms ("live selling").

Written on 2026-12-05 by a separate agent that read only the event contract
(``/work/shared/contract/EVENTS.md``), the lab's world-loading plumbing
(``flows/lab_worlds.py``) and a brief; it knows nothing of the recommendation job it is used to
test. It emits contract-v1 room events (plain dicts) and, for any viewer and showcase, the
ordering of that showcase by the viewer's hidden utility at the moment of exposure.

Shared generative model
=======================

Notation: ``R`` rooms, ``V`` viewers per room, ``T = 60 * minutes`` seconds of stream, ``d = 6``
latent dimensions, ``sigma(z) = 1 / (1 + exp(-z))``. ``seed % 1000`` fixes the *population*
(people, rooms, goods); ``seed`` fixes the *day* (who shows up, what hosts do, every choice).
``seed + 1000`` is the previous day: same people and goods, time stamps one day earlier.
The hosts' showcase timelines depend on ``seed`` only, not on the variant, so all variants of
one seed share the same showcases; the viewers' draws depend on the variant too.

Population (``seed % 1000``)
----------------------------
* 8 categories ``c`` with reference prices ``ref_c``: beauty 60, apparel 80, snacks 20, home 45,
  electronics 150, baby 50, sports 70, jewelry 120; a category vector ``y_c ~ N(0, I_d)``.
* Each category has 6 brands: index 0 is the tier ``house`` (price x0.75), 1-3 ``national``
  (x1.0), 4-5 ``premium`` (x1.6).
* Room ``r`` has a primary and a secondary category and a catalogue of ``M_r ~ U{30..50}`` items
  (category primary w.p. 0.6, secondary 0.3, any other 0.1). Showcase size ``K_r ~ U{8..16}``.
* Item ``i``: category ``c_i``, brand ``b_i`` (uniform), embedding
  ``e_i = (y_{c_i} + 0.7 w_i) / sqrt(1.49)``, ``w_i ~ N(0, I_d)``; base price
  ``p_i = ref_{c_i} * tier_mult * exp(N(0, 0.4^2))``; reference ("original") mark-up
  ``m_i = 1`` w.p. 0.2 else ``U(1.1, 1.9)``; latent quality ``q_i ~ N(0,1)``; displayed rating
  ``clip(round(4.45 + 0.28 q_i + N(0, 0.12^2), 1), 2.8, 5.0)``; review count
  ``floor(exp(N(4.5, 1.6^2)))`` (independent of quality; rating hidden when fewer than 3);
  ``ship_days`` in 1..7 (premium brands faster), ``free_ship ~ B(0.55)``,
  ``bestseller ~ B(0.15)``, ``origin`` in {domestic, import} (pure decoration).
* ``U = ceil(1.5 R V)`` people. Person ``u``: wealth ``w_u ~ N(0,1)``; taste ``x_u ~ N(0, I_d)``;
  taste drift ``delta_u ~ N(0, I_d)``; price sensitivity
  ``beta_u = beta0 * exp(-0.35 w_u + N(0, 0.3^2))``; spotlight susceptibility
  ``gamma_u = gamma0 * exp(N(0, 0.5^2))``; outside option ``c_u = c0 + N(0, 0.6^2)``; session
  budget ``B_u = 120 * exp(0.7 w_u + N(0, 0.4^2))``; browse rate ``lambda_u = 0.9 exp(N(0,.5^2))``
  per minute; engagement rate ``eta_u = 0.5 exp(N(0, .8^2))`` per minute; idiosyncratic item
  taste ``zeta_ui ~ N(0, 1)`` (persistent across days); hidden *motive*
  ``m_u`` in {deal, quality, speed, brand} drawn from softmax logits
  ``(0.3 - 0.8 w, 0.2 + 0.3 w, 0, -0.6 + 0.8 w)``; home room drawn from
  ``softmax_r(x_u . (0.7 y_{c1_r} + 0.3 y_{c2_r}) / sqrt(d))``; follows the home room w.p. 0.5.
* What the platform knows (``enter`` attrs; the whole dict is absent w.p. 0.12, each key present
  w.p. as given): ``spend_tier`` 1..5 = quintile of ``w_u + N(0, 0.5^2)`` (0.9); ``age_band``
  binned from ``x_u[0] + N(0, 0.7^2)`` (0.6); ``device`` ios w.p. ``sigma(0.8 w_u)`` (0.7);
  ``region`` (0.5, noise); ``is_follower`` (0.8); ``persona`` = the platform's shopper-segment
  label: present for a fixed 55% of people, equal to ``m_u`` w.p. 0.8 else uniform (when shown).

Day (``seed``)
--------------
* Each person is active w.p. 2/3; an active person visits the home room w.p. 0.7, else a room
  drawn from the same taste softmax. Rooms start at ``ts0 = 1764331200000 - 86400000 *
  (seed // 1000)`` plus ``U(0, 45)`` s and run ``T`` seconds, then ``room_close``.
* Host timeline: a first showcase at the start (``K_r`` catalogue items, random order, random
  spotlight). Changes every ``15 + Gamma(2, 12)`` s (mean 39 s). Between changes each shown item
  sells exogenously ``Poisson(rate_i * dt / 60)`` units (x3 while in the spotlight;
  ``rate_i ~ U(0.5, 6)``) from a day stock ``U{30..400}``; sold-out items are dropped; deals
  that ran out revert to the day price ``p_i * U(0.92, 1.05)``. A change is one of: *spotlight*
  (0.35: another shown item, or none w.p. 0.1), *flash deal* (0.25: 1-3 shown items get price
  x``U(0.6, 0.9)`` for ``U(60, 300)`` s, spotlight on one), *swap* (0.30: 1-4 items out, 1-4 new
  catalogue items in at the top, spotlight on a new one), *reorder* (0.10: shuffle or sort by
  price). Displayed item attrs: ``list_price = max(m_i p_i, price)``, ``discount_pct``,
  ``rating``, ``reviews``, ``stock_left``, ``deal_ends_s`` (only during a flash deal),
  ``ship_days``, ``free_ship``, ``brand``, ``brand_tier``, ``bestseller``, ``origin``.
* Viewers: arrival ``U(1, 60)`` s w.p. 0.3 else ``U(1, T - 60)``; dwell ``exp(N(ln 240, 0.8^2))``
  s (min 20); 12% come back ``U(60, 240)`` s after leaving (dwell median 120 s), keeping their
  state. Heartbeats every ``30 + U(-2, 2)`` s (2% lost; ``watch_ms`` = ms since the previous
  emitted heartbeat or the enter). Leaves are explicit w.p. 0.8, silent otherwise. At each
  showcase change a viewer whose best utility is below ``c_u - 2.5`` leaves w.p. 0.25 within
  2-15 s (bored); a viewer in checkout stays until the purchase is done.
* Exposure: a viewer is exposed to a showcase at its ``showcase`` event while in the room, or at
  their ``enter`` while it is in force (and, for a silent leaver, at showcase events up to 90 s
  after they were last heard of, since the platform still counts them present).
* Choices: browses arrive as a Poisson process at ``lambda_u`` per minute plus, w.p. 0.45, one
  2-20 s after each showcase change. A browse *considers* the spotlight item surely and the item
  at 0-based position ``k`` w.p. ``max(0.1, 0.9 * 0.85^k)``; it clicks considered item ``j`` w.p.
  ``exp(U_uj) / (exp(c_u) + sum_considered exp(U_uk))`` (multinomial logit with an outside
  option; no click otherwise) -> ``item_click``. With probability ``sigma(U_uj - c_u + 0.5)`` the
  click turns into intent: ``add_to_cart`` after ``U(3, 30)`` s (w.p. 0.6) then ``purchase``
  after ``U(5, 60)`` s w.p. ``sigma(U_uj - c_u + 1.0)``, or a direct ``purchase`` after
  ``U(5, 45)`` s. Quantity ``1 + Bin(2, 0.3)`` under 30 in price, else 2 w.p. 0.05; the price
  is the one in force (if the item is still shown) else the clicked price; a purchase that does
  not fit the remaining budget is reduced to qty 1 or abandoned.
* Engagement: a Poisson process at ``eta_u`` per minute; type like 0.5 (a burst of
  ``1 + Poisson(2)`` likes; item = spotlight w.p. 0.25), comment 0.28 (item w.p. 0.45: the
  spotlight or one drawn with probability ``softmax(U_u.)``), share 0.07 (item w.p. 0.5 from
  ``softmax(U_u.)``), follow 0.05 (once, non-followers), gift ``0.06 exp(0.8 w_u)`` (the
  weights renormalised). After a purchase, w.p. 0.3 a comment naming the item.

Hidden utility (what ``oracle_ranking`` sorts by)
-------------------------------------------------
For viewer ``u``, item ``i`` of showcase ``s`` (shown at time ``t_s``; ``tau_s = t_s / T``)::

    U_ui = sig_t * x_u.e_i/sqrt(d)  +  kappa * tau_s * delta_u.e_i/sqrt(d)  +  sig_z * zeta_ui
           - beta_u * ln(price_i / ref_{c_i})  +  gamma_u * [i is the spotlight]
           + A_v(u, i, s)                                      (variant's attribute term)
           - phi * n_{u,c_i}(t) - 3 * [u already bought i today] - 1.5 * [price_i > budget left]

``n_{u,c}(t)`` counts ``u``'s purchases in category ``c`` so far today (satiation). Position
does not enter ``U``: it only acts through consideration (attention). Item features derived
from the displayed attrs:

* ``g = ln(list_price / price)`` (perceived discount against the reference price, >= 0)
* ``rt = ((n * rating + 30 * 4.45) / (n + 30) - 4.45) / 0.3`` (review-count-shrunk rating,
  ``n`` = reviews; 0 when no rating is shown)
* ``k = [stock_left <= 20]`` (scarcity), ``h = exp(-deal_ends_s / 90)`` during a flash deal else 0
* ``sd = ship_days - 3``, ``fs = free_ship``, ``bs = bestseller``,
  ``pr = [brand_tier == premium]``, ``ho = [brand_tier == house]``

Variants (parameters in ``VARIANTS``)
-------------------------------------
``attr_driven`` -- item attrs matter a lot, the same way for everyone::

    A = 1.8 g + 0.9 rt + 0.6 k + 0.8 h - 0.15 sd + 0.4 fs + 0.5 bs
    sig_t = 0.7, sig_z = 0.35, beta0 = 1.0, gamma0 = 0.5, kappa = 0, phi = 0.6, c0 = 4.0

``persona_match`` -- attrs matter through the viewer's hidden motive ``m_u`` (partly visible as
the ``persona`` enter attr and correlated with ``spend_tier``)::

    A = 2.0 g + 1.2 h          if m_u = deal
        1.3 rt                 if m_u = quality
        -0.4 sd + 0.9 fs       if m_u = speed
        1.4 pr - 0.9 ho        if m_u = brand
    sig_t = 0.9, sig_z = 0.4, beta0 = 1.0, gamma0 = 0.5, kappa = 0, phi = 0.6, c0 = 3.6

``noise_attrs`` -- control: the same attrs are displayed (same distributions) but ``A = 0``::

    sig_t = 1.0, sig_z = 0.5, beta0 = 1.0, gamma0 = 0.5, kappa = 0, phi = 0.6, c0 = 3.0

``spotlight_drift`` -- strong, heterogeneous spotlight pull, tastes drifting through the stream,
strong satiation, attrs mildly informative::

    A = 0.5 rt
    sig_t = 0.9, sig_z = 0.4, beta0 = 1.0, gamma0 = 1.2, kappa = 1.0, phi = 1.2, c0 = 3.0

``oracle_ranking(user, items, spotlight)`` looks up the viewer's exposure to a showcase with
those items (the latest one already emitted by ``events()``, else the first of the day), adds
``gamma_u`` to the given spotlight, and sorts by ``U`` (stable in the given order). For an item
set the viewer never saw it uses the static part of ``U`` (no satiation/budget, ``tau = 0.5``)
with each item's last displayed price and attrs; for an unknown viewer the mean of that over the
whole population. Unknown items go last.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import numpy as np

TS0 = 1764331200000
DAY_MS = 86_400_000
D = 6
CATEGORIES = ("beauty", "apparel", "snacks", "home", "electronics", "baby", "sports", "jewelry")
REF_PRICE = np.array([60.0, 80.0, 20.0, 45.0, 150.0, 50.0, 70.0, 120.0])
NOUNS = {
    "beauty": ("Serum", "Lipstick", "Cushion", "Toner", "Mask Set", "Sunscreen"),
    "apparel": ("Hoodie", "Linen Shirt", "Jeans", "Knit Dress", "Puffer", "Tee 3-pack"),
    "snacks": ("Beef Jerky", "Nut Mix", "Seaweed", "Dried Mango", "Choco Wafers", "Tea Box"),
    "home": ("Towel Set", "Storage Box", "Pillow", "Mop", "Cup Set", "Candle"),
    "electronics": ("Earbuds", "Power Bank", "Smartwatch", "Speaker", "Desk Lamp", "Charger"),
    "baby": ("Diapers", "Wipes", "Bottle", "Onesie", "Teether", "Stroller Fan"),
    "sports": ("Yoga Mat", "Running Shoes", "Dumbbells", "Gym Bag", "Jump Rope", "Leggings"),
    "jewelry": ("Pendant", "Earrings", "Bracelet", "Ring", "Anklet", "Hair Clip"),
}
SYL_A = ("Lu", "Ve", "Ka", "Mo", "Zen", "Ori", "Pa", "Su", "Ta", "Ni", "Ro", "Ha")
SYL_B = ("mi", "ra", "ko", "lia", "vo", "nex", "tu", "sa", "do", "ri", "lo", "fa")
TIERS = ("house", "national", "national", "national", "premium", "premium")
TIER_MULT = np.array([0.75, 1.0, 1.0, 1.0, 1.6, 1.6])
MOTIVES = ("deal", "quality", "speed", "brand")
AGE_BANDS = ("18-24", "25-30", "31-40", "41-50", "50+")
REGIONS = ("north", "south", "east", "west", "central")
# item features derived from the displayed attrs, in this order
FEATURES = ("g", "rt", "k", "h", "sd", "fs", "bs", "pr", "ho")

_COMMON: dict[str, Any] = {
    "beta0": 1.0, "kappa": 0.0, "phi": 0.6, "gamma0": 0.5,
    "rho": 3.0, "budget_penalty": 1.5, "intent_shift": 0.5, "buy_shift": 1.0,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "attr_driven": {
        **_COMMON, "sig_t": 0.7, "sig_z": 0.35, "c0": 4.0,
        "weights": {"g": 1.8, "rt": 0.9, "k": 0.6, "h": 0.8, "sd": -0.15, "fs": 0.4, "bs": 0.5},
    },
    "persona_match": {
        **_COMMON, "sig_t": 0.9, "sig_z": 0.4, "c0": 3.6,
        "persona_weights": {
            "deal": {"g": 2.0, "h": 1.2},
            "quality": {"rt": 1.3},
            "speed": {"sd": -0.4, "fs": 0.9},
            "brand": {"pr": 1.4, "ho": -0.9},
        },
    },
    "noise_attrs": {**_COMMON, "sig_t": 1.0, "sig_z": 0.5, "c0": 3.0, "weights": {}},
    "spotlight_drift": {
        **_COMMON, "sig_t": 0.9, "sig_z": 0.4, "c0": 3.0, "gamma0": 1.2, "kappa": 1.0,
        "phi": 1.2, "weights": {"rt": 0.5},
    },
}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@dataclass
class _Population:
    """People, rooms and goods: a function of ``seed % 1000`` (and the world's size)."""

    n_rooms: int
    room_cats: np.ndarray  # (R, 2)
    room_items: list[np.ndarray]  # global item indices per room
    show_size: np.ndarray  # (R,)
    item_room: np.ndarray
    item_cat: np.ndarray
    item_emb: np.ndarray  # (I, D)
    item_price: np.ndarray
    item_markup: np.ndarray
    item_rating: np.ndarray  # nan = not shown
    item_reviews: np.ndarray
    item_ship: np.ndarray
    item_free: np.ndarray
    item_best: np.ndarray
    item_tier: np.ndarray  # 0 house, 1 national, 2 premium
    item_brand: list[str]
    item_origin: list[str]
    item_title: list[str | None]
    item_ids: list[str]
    wealth: np.ndarray
    taste: np.ndarray  # (U, D)
    drift: np.ndarray  # (U, D)
    beta: np.ndarray
    gamma: np.ndarray
    outside: np.ndarray
    budget: np.ndarray
    browse_rate: np.ndarray
    eng_rate: np.ndarray
    zeta: np.ndarray  # (U, I) float32
    motive: np.ndarray
    home: np.ndarray
    room_aff: np.ndarray  # (U, R)
    follows_home: np.ndarray
    spend_tier: np.ndarray
    age_band: np.ndarray
    ios: np.ndarray
    region: np.ndarray
    persona_label: list[str | None]
    user_ids: list[str]
    room_ids: list[str]


def _make_population(pop: int, rooms: int, viewers: int, params: dict[str, Any]) -> _Population:
    rng = np.random.default_rng([pop, 515])
    n_cat = len(CATEGORIES)
    cat_vec = rng.normal(size=(n_cat, D))
    brand_names = []
    for _ in range(n_cat):
        picks = rng.choice(len(SYL_A) * len(SYL_B), size=6, replace=False)
        brand_names.append([SYL_A[p // len(SYL_B)] + SYL_B[p % len(SYL_B)] for p in picks])
    room_cats = np.array([rng.choice(n_cat, size=2, replace=False) for _ in range(rooms)])
    show_size = rng.integers(8, 17, size=rooms)
    room_items: list[np.ndarray] = []
    cats: list[int] = []
    item_room: list[int] = []
    start = 0
    for r in range(rooms):
        m = int(rng.integers(30, 51))
        u = rng.random(m)
        other = rng.integers(0, n_cat, size=m)
        cs = np.where(u < 0.6, room_cats[r, 0], np.where(u < 0.9, room_cats[r, 1], other))
        cats.extend(int(c) for c in cs)
        item_room.extend([r] * m)
        room_items.append(np.arange(start, start + m))
        start += m
    n_items = start
    item_cat = np.array(cats)
    emb = (cat_vec[item_cat] + 0.7 * rng.normal(size=(n_items, D))) / math.sqrt(1.49)
    brand_idx = rng.integers(0, 6, size=n_items)
    tier_code = np.array([0, 1, 1, 1, 2, 2])[brand_idx]
    price = REF_PRICE[item_cat] * TIER_MULT[brand_idx] * np.exp(rng.normal(0, 0.4, n_items))
    price = np.maximum(1.9, np.floor(price) + 0.9)
    markup = np.where(rng.random(n_items) < 0.2, 1.0, rng.uniform(1.1, 1.9, n_items))
    quality = rng.normal(size=n_items)
    rating = np.clip(np.round(4.45 + 0.28 * quality + rng.normal(0, 0.12, n_items), 1), 2.8, 5.0)
    reviews = np.floor(np.exp(rng.normal(4.5, 1.6, n_items))).astype(np.int64)
    rating = np.where(reviews < 3, np.nan, rating)
    ship = np.clip(np.round(rng.normal(3.5 - 1.0 * (tier_code == 2), 1.4)), 1, 7).astype(np.int64)
    free = (rng.random(n_items) < 0.55).astype(np.int64)
    best = (rng.random(n_items) < 0.15).astype(np.int64)
    origin = ["import" if v < 0.3 else "domestic" for v in rng.random(n_items)]
    has_title = rng.random(n_items) < 0.9
    noun_pick = rng.integers(0, 6, size=n_items)
    brands = [brand_names[int(item_cat[i])][int(brand_idx[i])] for i in range(n_items)]
    titles: list[str | None] = [
        f"{brands[i]} {NOUNS[CATEGORIES[int(item_cat[i])]][int(noun_pick[i])]}"
        if has_title[i] else None
        for i in range(n_items)
    ]
    item_ids = [f"sku-{pop:03d}-{int(item_room[i]):02d}-{i:04d}" for i in range(n_items)]

    n_users = math.ceil(1.5 * rooms * viewers)
    wealth = rng.normal(size=n_users)
    taste = rng.normal(size=(n_users, D))
    drift = rng.normal(size=(n_users, D))
    beta = params["beta0"] * np.exp(-0.35 * wealth + rng.normal(0, 0.3, n_users))
    gamma = params["gamma0"] * np.exp(rng.normal(0, 0.5, n_users))
    outside = params["c0"] + rng.normal(0, 0.6, n_users)
    budget = 120.0 * np.exp(0.7 * wealth + rng.normal(0, 0.4, n_users))
    browse_rate = 0.9 * np.exp(rng.normal(0, 0.5, n_users))
    eng_rate = 0.5 * np.exp(rng.normal(0, 0.8, n_users))
    zeta = rng.normal(size=(n_users, n_items)).astype(np.float32)
    logits = np.stack([0.3 - 0.8 * wealth, 0.2 + 0.3 * wealth, np.zeros(n_users),
                       -0.6 + 0.8 * wealth], axis=1)
    motive = _sample_rows(rng, logits)
    room_vec = 0.7 * cat_vec[room_cats[:, 0]] + 0.3 * cat_vec[room_cats[:, 1]]
    room_aff = taste @ room_vec.T / math.sqrt(D)
    home = _sample_rows(rng, room_aff)
    follows_home = rng.random(n_users) < 0.5
    noisy_w = wealth + rng.normal(0, 0.5, n_users)
    cuts = np.quantile(noisy_w, [0.2, 0.4, 0.6, 0.8])
    spend_tier = 1 + np.searchsorted(cuts, noisy_w)
    age = np.clip(np.floor((taste[:, 0] + rng.normal(0, 0.7, n_users) + 2.5) / 1.0), 0, 4)
    ios = rng.random(n_users) < 1 / (1 + np.exp(-0.8 * wealth))
    region = rng.integers(0, len(REGIONS), size=n_users)
    labelled = rng.random(n_users) < 0.55
    truthful = rng.random(n_users) < 0.8
    random_label = rng.integers(0, 4, size=n_users)
    persona_label = [
        (MOTIVES[int(motive[u])] if truthful[u] else MOTIVES[int(random_label[u])])
        if labelled[u] else None
        for u in range(n_users)
    ]
    return _Population(
        n_rooms=rooms, room_cats=room_cats, room_items=room_items, show_size=show_size,
        item_room=np.array(item_room), item_cat=item_cat, item_emb=emb, item_price=price,
        item_markup=markup, item_rating=rating, item_reviews=reviews, item_ship=ship,
        item_free=free, item_best=best, item_tier=tier_code, item_brand=brands,
        item_origin=origin, item_title=titles, item_ids=item_ids, wealth=wealth, taste=taste,
        drift=drift, beta=beta, gamma=gamma, outside=outside, budget=budget,
        browse_rate=browse_rate, eng_rate=eng_rate, zeta=zeta, motive=motive, home=home,
        room_aff=room_aff, follows_home=follows_home, spend_tier=spend_tier,
        age_band=age.astype(np.int64), ios=ios, region=region, persona_label=persona_label,
        user_ids=[f"shopper-{pop:03d}-{u:05d}" for u in range(n_users)],
        room_ids=[f"stall-{pop:03d}-{r:02d}" for r in range(rooms)],
    )


def _sample_rows(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``logits`` (Gumbel-max)."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


@dataclass
class _Snapshot:
    t: float  # seconds since the room start
    items: np.ndarray  # global item indices, in display order
    prices: np.ndarray
    feats: np.ndarray  # (K, len(FEATURES))
    spot: int  # position in items, -1 = none
    event: dict[str, Any]
    ids: tuple[str, ...]
    idset: frozenset[str]


@dataclass
class _Exposure:
    user: int
    snap: _Snapshot
    base: np.ndarray  # utility without the spotlight term
    trigger: dict[str, Any]
    pos: int = -1  # position of the trigger event in the output order


class StallWorld:
    """Live-selling rooms with a hidden multinomial-logit shopper; see the module docstring."""

    def __init__(self, seed: int, rooms: int, viewers: int, minutes: float,
                 variant: str = "attr_driven") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        self.seed = int(seed)
        self.rooms = int(rooms)
        self.viewers = int(viewers)
        self.minutes = float(minutes)
        self.variant = variant
        self.params = VARIANTS[variant]
        self.T = max(30.0, 60.0 * self.minutes)
        self.pop = _make_population(self.seed % 1000, self.rooms, self.viewers, self.params)
        self._vtag = zlib.crc32(variant.encode()) & 0xFFFF
        self._events: list[dict[str, Any]] | None = None
        self._exposures: list[_Exposure] = []
        self._by_key: dict[tuple[str, frozenset[str]], list[int]] = {}
        self._by_user: dict[str, list[int]] = {}
        self._yielded = 0
        self._last_display: dict[int, tuple[float, np.ndarray]] = {}
        self._uidx = {u: i for i, u in enumerate(self.pop.user_ids)}
        self._iidx = {s: i for i, s in enumerate(self.pop.item_ids)}
        self._pop_cache: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
        weights = np.zeros((len(MOTIVES), len(FEATURES)))
        if "persona_weights" in self.params:
            for m, ws in self.params["persona_weights"].items():
                for f, w in ws.items():
                    weights[MOTIVES.index(m), FEATURES.index(f)] = w
        else:
            for f, w in self.params["weights"].items():
                weights[:, FEATURES.index(f)] = w
        self._w = weights  # (motives, features): the attribute term's weights per motive

    # ------------------------------------------------------------------ public interface
    def events(self) -> Iterator[dict[str, Any]]:
        evs = self._generate()
        for k, e in enumerate(evs):
            self._yielded = max(self._yielded, k + 1)
            yield e

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]:
        self._generate()
        ids = list(item_ids)
        u = self._uidx.get(user_id)
        if u is None:
            return self._population_ranking(ids, spotlight)
        exp = self._find_exposure(user_id, ids, spotlight)
        if exp is not None:
            where = {s: j for j, s in enumerate(exp.snap.ids)}
            scores = []
            for s in ids:
                j = where.get(s)
                if j is None:
                    scores.append(-math.inf)
                else:
                    v = float(exp.base[j])
                    if s == spotlight:
                        v += float(self.pop.gamma[u])
                    scores.append(v)
        else:
            scores = list(self._static_scores(np.array([u]), ids, spotlight)[0])
        order = sorted(range(len(ids)), key=lambda j: -scores[j])
        return [ids[j] for j in order]

    # ------------------------------------------------------------------ oracle helpers
    def _find_exposure(self, user_id: str, ids: list[str],
                       spotlight: str | None) -> _Exposure | None:
        idset = frozenset(ids)
        cands = self._by_key.get((user_id, idset))
        if not cands:
            cands = [k for k in self._by_user.get(user_id, ())
                     if idset <= self._exposures[k].snap.idset]
        if not cands:
            return None
        exps = [self._exposures[k] for k in cands]
        same_spot = [e for e in exps if (e.snap.event["spotlight"] == spotlight)]
        exps = same_spot or exps
        seen = [e for e in exps if e.pos < self._yielded]
        if seen:
            return max(seen, key=lambda e: e.pos)
        return min(exps, key=lambda e: e.pos)

    def _static_scores(self, users: np.ndarray, ids: list[str],
                       spotlight: str | None) -> np.ndarray:
        """Static part of U (no satiation or budget, tau = 0.5) with each item's last display;
        unknown items get -inf."""
        pop = self.pop
        out = np.full((len(users), len(ids)), -np.inf)
        known = [(j, self._iidx[s]) for j, s in enumerate(ids) if s in self._iidx]
        if not known:
            return out
        cols = np.array([j for j, _ in known])
        items = np.array([i for _, i in known])
        prices = np.empty(len(items))
        feats = np.zeros((len(items), len(FEATURES)))
        for n, i in enumerate(items):
            disp = self._last_display.get(int(i))
            if disp is None:
                prices[n] = pop.item_price[i]
                feats[n] = self._features_static(int(i))
            else:
                prices[n], feats[n] = disp
        spot = np.array([1.0 if ids[j] == spotlight else 0.0 for j in cols])
        v = self._utility_matrix(users, items, prices, feats, 0.5)
        v = v + pop.gamma[users][:, None] * spot[None, :]
        out[:, cols] = v
        return out

    def _population_ranking(self, ids: list[str], spotlight: str | None) -> list[str]:
        key = (tuple(ids), spotlight)
        hit = self._pop_cache.get(key)
        if hit is None:
            users = np.arange(len(self.pop.user_ids))
            scores = self._static_scores(users, ids, spotlight)
            mean = scores.mean(axis=0)
            order = sorted(range(len(ids)), key=lambda j: -mean[j])
            hit = [ids[j] for j in order]
            if len(self._pop_cache) < 10000:
                self._pop_cache[key] = hit
        return list(hit)

    def _features_static(self, i: int) -> np.ndarray:
        pop = self.pop
        price = float(pop.item_price[i])
        return self._features(i, price, max(round(price * float(pop.item_markup[i]), 2), price),
                              10**6, -1.0)

    # ------------------------------------------------------------------ utility
    def _features(self, i: int, price: float, list_price: float, stock: int,
                  deal_left: float) -> np.ndarray:
        pop = self.pop
        n = float(pop.item_reviews[i])
        rating = float(pop.item_rating[i])
        rt = 0.0 if math.isnan(rating) else ((n * rating + 30 * 4.45) / (n + 30) - 4.45) / 0.3
        tier = int(pop.item_tier[i])
        return np.array([
            math.log(list_price / price) if price > 0 else 0.0,
            rt,
            1.0 if stock <= 20 else 0.0,
            math.exp(-deal_left / 90.0) if deal_left >= 0 else 0.0,
            float(pop.item_ship[i]) - 3.0,
            float(pop.item_free[i]),
            float(pop.item_best[i]),
            1.0 if tier == 2 else 0.0,
            1.0 if tier == 0 else 0.0,
        ])

    def _utility_matrix(self, users: np.ndarray, items: np.ndarray, prices: np.ndarray,
                        feats: np.ndarray, tau: float) -> np.ndarray:
        """Static part of U for ``users`` x ``items`` (no spotlight, satiation, budget)."""
        p = self.params
        pop = self.pop
        emb = pop.item_emb[items]
        v = p["sig_t"] * (pop.taste[users] @ emb.T) / math.sqrt(D)
        if p["kappa"]:
            v = v + p["kappa"] * tau * (pop.drift[users] @ emb.T) / math.sqrt(D)
        v = v + p["sig_z"] * pop.zeta[np.ix_(users, items)].astype(np.float64)
        lrp = np.log(prices / REF_PRICE[pop.item_cat[items]])
        v = v - pop.beta[users][:, None] * lrp[None, :]
        attr = self._w[pop.motive[users]] @ feats.T  # (users, items)
        return v + attr

    # ------------------------------------------------------------------ generation
    def _generate(self) -> list[dict[str, Any]]:
        if self._events is not None:
            return self._events
        pop = self.pop
        day = np.random.default_rng([self.seed, 12])
        active = day.random(len(pop.user_ids)) < 2 / 3
        stray = _sample_rows(day, pop.room_aff)
        at_home = day.random(len(pop.user_ids)) < 0.7
        room_of = np.where(at_home, pop.home, stray)
        base_ms = TS0 - DAY_MS * (self.seed // 1000)
        offsets = np.random.default_rng([self.seed, 10]).uniform(0, 45, self.rooms)
        rows: list[tuple[int, int, int, int, dict[str, Any]]] = []
        for r in range(self.rooms):
            room_ms = base_ms + int(offsets[r] * 1000)
            visitors = np.flatnonzero(active & (room_of == r))
            self._simulate_room(r, room_ms, visitors, rows)
        rows.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
        prefix = f"sw{self.seed}-{self._vtag:04x}-"
        evs: list[dict[str, Any]] = []
        pos_of: dict[int, int] = {}
        for k, (_, _, _, _, e) in enumerate(rows):
            e["event_id"] = f"{prefix}{k:07d}"
            pos_of[id(e)] = k
            evs.append(e)
        for n, x in enumerate(self._exposures):
            x.pos = pos_of[id(x.trigger)]
            uid = pop.user_ids[x.user]
            self._by_key.setdefault((uid, x.snap.idset), []).append(n)
            self._by_user.setdefault(uid, []).append(n)
        self._events = evs
        return evs

    def _timeline(self, r: int, room_id: str) -> list[_Snapshot]:
        pop = self.pop
        rng = np.random.default_rng([self.seed, 11, r])
        catalog = pop.room_items[r]
        day_price = {int(i): float(pop.item_price[i]) * float(rng.uniform(0.92, 1.05))
                     for i in catalog}
        stock = {int(i): int(rng.integers(30, 401)) for i in catalog}
        rate = {int(i): float(rng.uniform(0.5, 6.0)) for i in catalog}
        deal: dict[int, tuple[float, float]] = {}  # item -> (multiplier, ends at t)
        k = int(min(pop.show_size[r], len(catalog)))
        current = [int(i) for i in rng.choice(catalog, size=k, replace=False)]
        spot: int | None = current[int(rng.integers(0, len(current)))]
        snaps: list[_Snapshot] = []
        t = 0.0
        while True:
            snaps.append(self._snapshot(r, room_id, t, current, spot, day_price, stock, deal))
            dt = 15.0 + float(rng.gamma(2.0, 12.0))
            if t + dt > self.T - 5.0:
                break
            t += dt
            for i in current:
                lam = rate[i] * dt / 60.0 * (3.0 if i == spot else 1.0)
                stock[i] = max(0, stock[i] - int(rng.poisson(lam)))
            for i in [i for i, (_, end) in deal.items() if end <= t]:
                del deal[i]
            current = [i for i in current if stock[i] > 0]
            if spot not in current:
                spot = None
            kind = rng.random()
            if len(current) < 3:
                kind = 0.65  # force a swap
            if kind < 0.35 and current:
                spot = (None if rng.random() < 0.1
                        else current[int(rng.integers(0, len(current)))])
            elif kind < 0.60 and current:
                n = int(rng.integers(1, min(3, len(current)) + 1))
                picks = [current[int(j)] for j in rng.choice(len(current), n, replace=False)]
                for i in picks:
                    deal[i] = (float(rng.uniform(0.6, 0.9)), t + float(rng.uniform(60, 300)))
                spot = picks[0]
            elif kind < 0.90:
                n_out = int(rng.integers(1, 5)) if len(current) > 4 else 0
                for _ in range(n_out):
                    current.pop(int(rng.integers(0, len(current))))
                pool = [int(i) for i in catalog if int(i) not in current and stock[int(i)] > 0]
                target = int(pop.show_size[r])
                n_in = min(len(pool), max(int(rng.integers(1, 5)), target - len(current) - 2))
                new = [pool[int(j)] for j in rng.choice(len(pool), n_in, replace=False)] \
                    if n_in > 0 else []
                current = new + current
                if new:
                    spot = new[0]
                elif spot not in current:
                    spot = None
            else:
                if rng.random() < 0.5:
                    current = [current[int(j)] for j in rng.permutation(len(current))]
                else:
                    current.sort(key=lambda i: day_price[i] * deal.get(i, (1.0, 0.0))[0])
        return snaps

    def _snapshot(self, r: int, room_id: str, t: float, current: list[int], spot: int | None,
                  day_price: dict[int, float], stock: dict[int, int],
                  deal: dict[int, tuple[float, float]]) -> _Snapshot:
        pop = self.pop
        items_out: list[dict[str, Any]] = []
        prices = np.empty(len(current))
        feats = np.zeros((len(current), len(FEATURES)))
        for j, i in enumerate(current):
            mult, end = deal.get(i, (1.0, -1.0))
            price = round(max(0.5, day_price[i] * mult), 2)
            list_price = round(max(float(pop.item_price[i]) * float(pop.item_markup[i]), price), 2)
            deal_left = float(int(end - t)) if i in deal else -1.0
            attrs: dict[str, str | int | float] = {
                "list_price": list_price,
                "discount_pct": round(100 * (1 - price / list_price)),
                "reviews": int(pop.item_reviews[i]),
                "stock_left": int(stock[i]),
                "ship_days": int(pop.item_ship[i]),
                "free_ship": int(pop.item_free[i]),
                "brand": pop.item_brand[i],
                "brand_tier": ("house", "national", "premium")[int(pop.item_tier[i])],
                "bestseller": int(pop.item_best[i]),
                "origin": pop.item_origin[i],
            }
            if not math.isnan(float(pop.item_rating[i])):
                attrs["rating"] = float(pop.item_rating[i])
            if deal_left >= 0:
                attrs["deal_ends_s"] = int(deal_left)
            entry: dict[str, Any] = {"item_id": pop.item_ids[i], "price": price,
                                     "category": CATEGORIES[int(pop.item_cat[i])]}
            title = pop.item_title[i]
            if title is not None:
                entry["title"] = title
            entry["attrs"] = attrs
            items_out.append(entry)
            prices[j] = price
            feats[j] = self._features(i, price, list_price, stock[i], deal_left)
            self._last_display[i] = (price, feats[j])
        spot_id = pop.item_ids[spot] if spot is not None else None
        event = {"type": "showcase", "ts": 0, "room_id": room_id, "items": items_out,
                 "spotlight": spot_id}
        ids = tuple(pop.item_ids[i] for i in current)
        arr = np.array(current, dtype=np.int64)
        return _Snapshot(t=t, items=arr, prices=prices, feats=feats,
                         spot=current.index(spot) if spot is not None else -1,
                         event=event, ids=ids, idset=frozenset(ids))

    def _simulate_room(self, r: int, room_ms: int, visitors: np.ndarray,
                       rows: list[tuple[int, int, int, int, dict[str, Any]]]) -> None:
        pop = self.pop
        room_id = pop.room_ids[r]
        snaps = self._timeline(r, room_id)
        times = [s.t for s in snaps]

        def ms(t: float) -> int:
            return room_ms + round(t * 1000)

        for s in snaps:
            s.event["ts"] = ms(s.t)
            rows.append((s.event["ts"], 0, r, 0, s.event))
        end_ms = ms(self.T)
        rows.append((end_ms, 2, r, 0, {"type": "room_close", "ts": end_ms, "room_id": room_id}))
        # static utilities: (visitors x items) per showcase, without spotlight
        static = [self._utility_matrix(visitors, s.items, s.prices, s.feats, s.t / self.T)
                  if len(visitors) else np.zeros((0, len(s.items))) for s in snaps]
        seq = [1]

        def emit(t_ms: int, e: dict[str, Any]) -> None:
            seq[0] += 1
            rows.append((t_ms, 1, r, seq[0], e))

        rng = np.random.default_rng([self.seed, 13, r, self._vtag])
        for row, u in enumerate(visitors):
            self._simulate_viewer(int(u), row, r, room_id, snaps, times, static, rng, ms, emit)

    def _simulate_viewer(self, u: int, row: int, r: int, room_id: str, snaps: list[_Snapshot],
                         times: list[float], static: list[np.ndarray], rng: np.random.Generator,
                         ms: Any, emit: Any) -> None:
        pop = self.pop
        p = self.params
        T = self.T
        uid = pop.user_ids[u]
        c_u = float(pop.outside[u])
        gamma = float(pop.gamma[u])
        rem = float(pop.budget[u])
        sat = np.zeros(len(CATEGORIES))
        bought: set[int] = set()
        follower = bool(pop.home[u] == r and pop.follows_home[u])

        def base_utility(si: int) -> np.ndarray:
            s = snaps[si]
            v = static[si][row] - p["phi"] * sat[pop.item_cat[s.items]]
            if bought:
                v = v - p["rho"] * np.fromiter((i in bought for i in s.items), bool,
                                               len(s.items))
            v = v - p["budget_penalty"] * (s.prices > rem)
            return v

        def full(si: int, v: np.ndarray) -> np.ndarray:
            sp = snaps[si].spot
            if sp >= 0:
                v = v.copy()
                v[sp] += gamma
            return v

        def expose(si: int, trigger: dict[str, Any]) -> np.ndarray:
            v = base_utility(si)
            self._exposures.append(_Exposure(u, snaps[si], v, trigger))
            return full(si, v)

        def snap_at(t: float) -> int:
            return max(0, bisect_right(times, t) - 1)

        if rng.random() < 0.3:
            t_e = float(rng.uniform(1, 60))
        else:
            t_e = float(rng.uniform(1, max(2.0, T - 60)))
        t_e = min(t_e, T - 5.0)
        median = 240.0
        heap: list[tuple[float, int, str, Any]] = []
        out: list[tuple[float, dict[str, Any]]] = []  # (t, event) of the current session
        cnt = 0
        leave = pending_until = t_e

        def push(t: float, kind: str, payload: Any = None) -> None:
            nonlocal cnt
            cnt += 1
            heappush(heap, (t, cnt, kind, payload))

        def chain(t_c: float, kind: str, payload: Any) -> None:
            """Schedule a step of a checkout; the viewer stays until it is done."""
            nonlocal leave, pending_until
            if t_c >= T - 1.0:
                return
            if t_c >= leave - 1.0:
                leave = min(T - 0.5, t_c + float(rng.uniform(3, 20)))
            pending_until = max(pending_until, t_c)
            push(t_c, kind, payload)

        def ev(t_ev: float, typ: str, **kw: Any) -> None:
            e = {"type": typ, "ts": ms(t_ev), "room_id": room_id, "user_id": uid, **kw}
            out.append((t_ev, e))

        while True:
            dwell = max(20.0, float(np.exp(rng.normal(math.log(median), 0.8))))
            leave = min(t_e + dwell, T - 0.5)
            pending_until = t_e
            heap.clear()
            out.clear()
            s0 = snap_at(t_e)
            for si in range(s0 + 1, len(snaps)):
                push(snaps[si].t, "show", si)
            t = t_e
            lam = float(pop.browse_rate[u]) / 60.0
            while True:
                t += float(rng.exponential(1 / lam))
                if t >= T:
                    break
                push(t, "browse")
            t = t_e
            eta = float(pop.eng_rate[u]) / 60.0
            while True:
                t += float(rng.exponential(1 / eta))
                if t >= T:
                    break
                push(t, "engage")
            enter_ms = ms(t_e)
            enter: dict[str, Any] = {"type": "enter", "ts": enter_ms, "room_id": room_id,
                                     "user_id": uid}
            attrs = self._enter_attrs(u, follower, rng)
            if attrs is not None:
                enter["attrs"] = attrs
            emit(enter_ms, enter)
            expose(s0, enter)

            while heap:
                t, _, kind, payload = heappop(heap)
                if t >= leave and kind not in ("cart", "buy"):
                    continue
                if kind == "show":
                    v = expose(payload, snaps[payload].event)
                    if rng.random() < 0.45:
                        push(t + float(rng.uniform(2, 20)), "browse")
                    if len(v) and float(v.max()) < c_u - 2.5 and rng.random() < 0.25:
                        leave = min(leave, max(t + float(rng.uniform(2, 15)),
                                               pending_until + 2.0))
                elif kind == "browse":
                    si = snap_at(t)
                    s = snaps[si]
                    if not len(s.items):
                        continue
                    v = full(si, base_utility(si))
                    k = len(v)
                    att = np.maximum(0.1, 0.9 * 0.85 ** np.arange(k))
                    if s.spot >= 0:
                        att[s.spot] = 1.0
                    considered = rng.random(k) < att
                    ev_ = np.where(considered, np.exp(v), 0.0)
                    tot = math.exp(c_u) + float(ev_.sum())
                    x = rng.random() * tot
                    cum = np.cumsum(ev_)
                    j = int(np.searchsorted(cum, x, side="right"))
                    if j >= k:
                        continue
                    item = int(s.items[j])
                    vj = float(v[j])
                    ev(t, "item_click", item_id=pop.item_ids[item])
                    if rng.random() < _sigmoid(vj - c_u + p["intent_shift"]):
                        if rng.random() < 0.6:
                            chain(t + float(rng.uniform(3, 30)), "cart",
                                  (item, vj, float(s.prices[j])))
                        else:
                            chain(t + float(rng.uniform(5, 45)), "buy",
                                  (item, vj, float(s.prices[j])))
                elif kind == "cart":
                    item, vj, price = payload
                    ev(t, "add_to_cart", item_id=pop.item_ids[item])
                    if rng.random() < _sigmoid(vj - c_u + p["buy_shift"]):
                        chain(t + float(rng.uniform(5, 60)), "buy", payload)
                elif kind == "buy":
                    item, vj, price = payload
                    s = snaps[snap_at(t)]
                    hit = np.flatnonzero(s.items == item)
                    if len(hit):
                        price = float(s.prices[int(hit[0])])
                    if price < 30:
                        qty = 1 + int(rng.binomial(2, 0.3))
                    else:
                        qty = 2 if rng.random() < 0.05 else 1
                    while qty > 1 and price * qty > rem:
                        qty -= 1
                    if price * qty > rem:
                        continue
                    ev(t, "purchase", item_id=pop.item_ids[item],
                       amount=round(price * qty, 2), qty=qty)
                    rem -= price * qty
                    sat[int(pop.item_cat[item])] += 1.0
                    bought.add(item)
                    if rng.random() < 0.3:
                        push(t + float(rng.uniform(2, 15)), "say", item)
                elif kind == "say":
                    ev(t, "comment", item_id=pop.item_ids[payload])
                elif kind == "engage":
                    follower = self._engage(t, u, follower, snaps, snap_at(t), base_utility,
                                            full, rng, ev)
            # heartbeats, leave, ghost exposures
            hb_prev = enter_ms
            t = t_e
            while True:
                t += 30.0 + float(rng.uniform(-2, 2))
                if t >= leave:
                    break
                if rng.random() < 0.02:
                    continue
                hb_ms = ms(t)
                out.append((t, {"type": "heartbeat", "ts": hb_ms, "room_id": room_id,
                                "user_id": uid, "watch_ms": max(0, hb_ms - hb_prev)}))
                hb_prev = hb_ms
            last_heard = t_e
            for t_ev, e in out:
                if t_ev < leave or e["type"] in ("purchase", "add_to_cart"):
                    emit(e["ts"], e)
                    last_heard = max(last_heard, t_ev)
            if rng.random() < 0.8:
                emit(ms(leave), {"type": "leave", "ts": ms(leave), "room_id": room_id,
                                 "user_id": uid})
            else:
                for si in range(snap_at(leave) + 1, len(snaps)):
                    if snaps[si].t > last_heard + 90.0:
                        break
                    expose(si, snaps[si].event)
            # come back?
            t_back = leave + float(rng.uniform(60, 240))
            if rng.random() < 0.12 and t_back < T - 60.0:
                t_e = t_back
                median = 120.0
                continue
            break

    def _enter_attrs(self, u: int, follower: bool,
                     rng: np.random.Generator) -> dict[str, str | int | float] | None:
        pop = self.pop
        if rng.random() < 0.12:
            return None
        draws = rng.random(5)
        attrs: dict[str, str | int | float] = {}
        if draws[0] < 0.9:
            attrs["spend_tier"] = int(pop.spend_tier[u])
        if draws[1] < 0.6:
            attrs["age_band"] = AGE_BANDS[int(pop.age_band[u])]
        if draws[2] < 0.7:
            attrs["device"] = "ios" if pop.ios[u] else "android"
        if draws[3] < 0.5:
            attrs["region"] = REGIONS[int(pop.region[u])]
        if draws[4] < 0.8:
            attrs["is_follower"] = int(follower)
        label = pop.persona_label[u]
        if label is not None:
            attrs["persona"] = label
        return attrs

    def _engage(self, t: float, u: int, follower: bool, snaps: Sequence[_Snapshot], si: int,
                base_utility: Any, full: Any, rng: np.random.Generator, ev: Any) -> bool:
        pop = self.pop
        s = snaps[si]
        w = np.array([0.5, 0.28, 0.07, 0.0 if follower else 0.05,
                      0.06 * math.exp(0.8 * float(pop.wealth[u]))])
        kind = int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))
        kind = min(kind, 4)
        spot_id = pop.item_ids[int(s.items[s.spot])] if s.spot >= 0 else None

        def liked_item() -> str | None:
            if not len(s.items):
                return None
            v = full(si, base_utility(si))
            pr = np.exp(v - v.max())
            j = int(np.searchsorted(np.cumsum(pr), rng.random() * pr.sum(), side="right"))
            return pop.item_ids[int(s.items[min(j, len(pr) - 1)])]

        if kind == 0:
            item = spot_id if (spot_id is not None and rng.random() < 0.25) else None
            for b in range(1 + int(rng.poisson(2))):
                extra = {"item_id": item} if item is not None else {}
                ev(t + 0.35 * b, "like", **extra)
        elif kind == 1:
            item = None
            if rng.random() < 0.45:
                item = spot_id if (spot_id is not None and rng.random() < 0.5) else liked_item()
            ev(t, "comment", **({"item_id": item} if item is not None else {}))
        elif kind == 2:
            item = liked_item() if rng.random() < 0.5 else None
            ev(t, "share", **({"item_id": item} if item is not None else {}))
        elif kind == 3:
            ev(t, "follow")
            follower = True
        else:
            ev(t, "gift")
        return follower
