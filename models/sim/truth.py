"""Hidden truth of the simulated live-commerce world: catalogues, rooms and viewers' tastes.

The simulator in :mod:`models.sim.world` draws behaviour from these latent quantities; tests and
offline experiments read them back to build "oracle" rankers. Keeping the truth separate from
the behaviour code means a change to how viewers act never silently changes who they are, and a
test can assert that personalisation *can* beat popularity in this world before blaming the job.

Tastes live in a small latent space. Viewers belong to a handful of taste segments and every room
draws a mixed audience, so the room-level popularity of an item is a blurred average of several
segments' preferences: good, but beatable by anyone who knows the individual viewer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.sim.regimes import REGIMES, Regime

DIM = 8
SEGMENTS = 6
# Tastes are drawn around segment centres; a small spread keeps segments recognisable.
TASTE_SPREAD = 0.35
# How much an item's style follows its category, and the spread of the appeal all viewers
# share, are the regime's (``models.sim.regimes``).

# category -> (median price, nouns used for titles)
CATEGORIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "beauty": (25.0, ("Serum", "Lipstick", "Cleanser", "Eye Palette", "Face Mask")),
    "fashion": (45.0, ("Dress", "Hoodie", "Sneakers", "Scarf", "Denim Jacket")),
    "electronics": (120.0, ("Earbuds", "Power Bank", "Smart Watch", "Speaker", "Camera")),
    "home": (40.0, ("Blanket", "Mug Set", "Lamp", "Cushion", "Storage Box")),
    "food": (12.0, ("Tea Sampler", "Chocolate Box", "Hot Sauce", "Coffee Beans", "Snack Pack")),
    "toys": (20.0, ("Puzzle", "Plush Bear", "Building Set", "Card Game", "RC Car")),
    "sports": (55.0, ("Yoga Mat", "Dumbbells", "Running Belt", "Water Bottle", "Jump Rope")),
    "jewelry": (90.0, ("Necklace", "Ring", "Bracelet", "Earrings", "Anklet")),
}
ADJECTIVES = ("Classic", "Glow", "Urban", "Cozy", "Pro", "Mini", "Deluxe", "Everyday", "Retro")
BRANDS = ("Aurora", "Kite", "Nordlys", "Pebble", "Saffron", "Tandem", "Vela", "Zest")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
DEVICES = ("ios", "android", "web")
BUDGET_MEDIAN = 60.0
BUDGET_SIGMA = 0.8
# z-score cut points of a standard normal giving five equally likely spend tiers
TIER_CUTS = (-0.8416, -0.2533, 0.2533, 0.8416)


@dataclass(frozen=True, slots=True)
class Item:
    """One catalogue entry; ``vec`` is the hidden style the viewers' tastes respond to.

    ``appeal`` is what everybody likes about it (photos, deal, brand): the part of demand that
    room popularity can learn, unlike taste.
    """

    item_id: str
    category: str
    price: float
    title: str
    brand: str
    vec: np.ndarray
    appeal: float

    def as_showcase_entry(self) -> dict[str, object]:
        """A fresh contract ``items`` entry (fresh so that consumers may mutate it safely)."""
        return {
            "item_id": self.item_id,
            "price": self.price,
            "category": self.category,
            "title": self.title,
            "attrs": {"brand": self.brand},
        }


@dataclass(frozen=True, slots=True)
class Viewer:
    """A member of the audience pool; ``attrs`` is all the platform (and the job) gets to see."""

    user_id: str
    segment: int
    taste: np.ndarray
    budget: float
    activity: float
    attrs: dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Room:
    """A streaming room: its catalogue (host's stock), reach, and when the stream runs."""

    room_id: str
    index: int
    categories: tuple[str, ...]
    catalogue: tuple[Item, ...]
    vecs: np.ndarray  # catalogue item vectors stacked, shape (len(catalogue), DIM)
    popularity: float
    opens_at: int
    closes_at: int | None  # None: still live when the simulated window ends


@dataclass(frozen=True, slots=True)
class WorldTruth:
    """Everything the simulator knows and the job must infer."""

    rooms: tuple[Room, ...]
    viewers: tuple[Viewer, ...]
    items: dict[str, Item]
    segment_centres: np.ndarray
    start_ms: int
    end_ms: int
    regime: Regime = REGIMES["default"]

    def viewer(self, user_id: str) -> Viewer:
        """Look a viewer up by ``user_id`` (ids are ``u-`` plus the 1-based pool position)."""
        return self.viewers[int(user_id.removeprefix("u-")) - 1]

    def affinity(self, user_id: str, item_id: str) -> float:
        """Cosine of taste and item style: the main driver of clicks, carts and purchases."""
        return float(self.viewer(user_id).taste @ self.items[item_id].vec)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(norm, 1e-12))


def spend_tier(budget: float, noise: float) -> int:
    """Map a hidden budget to the platform's 1..5 tier through a noisy lens.

    The job only sees the tier, so it must stay informative but imperfect.

    >>> spend_tier(BUDGET_MEDIAN, 0.0)
    3
    >>> spend_tier(BUDGET_MEDIAN * 20, 0.0), spend_tier(BUDGET_MEDIAN / 20, 0.0)
    (5, 1)
    """
    z = math.log(budget / BUDGET_MEDIAN) / BUDGET_SIGMA + noise
    return 1 + sum(z > cut for cut in TIER_CUTS)


def _make_viewers(
    rng: np.random.Generator, n: int, centres: np.ndarray, regime: Regime
) -> tuple[Viewer, ...]:
    segments = rng.integers(0, SEGMENTS, size=n)
    tastes = _unit(centres[segments] + TASTE_SPREAD * rng.standard_normal((n, DIM)))
    budgets = BUDGET_MEDIAN * np.exp(BUDGET_SIGMA * rng.standard_normal(n))
    activity = np.exp(0.5 * rng.standard_normal(n) - 0.125)  # mean 1, heavy-ish tail
    tier_noise = regime.tier_noise * rng.standard_normal(n)
    # age band leans on the segment so that attrs carry a little taste signal too
    age_shift = rng.integers(-1, 2, size=n)
    devices = rng.integers(0, len(DEVICES), size=n)
    is_new = rng.random(n) < 0.15
    viewers = []
    for i in range(n):
        seg = int(segments[i])
        age = min(max(seg % len(AGE_BANDS) + int(age_shift[i]), 0), len(AGE_BANDS) - 1)
        attrs: dict[str, str | int] = {
            "spend_tier": spend_tier(float(budgets[i]), float(tier_noise[i])),
            "age_band": AGE_BANDS[age],
            "device": DEVICES[int(devices[i])],
            "new_user": int(is_new[i]),
        }
        viewers.append(
            Viewer(
                user_id=f"u-{i + 1:05d}",
                segment=seg,
                taste=tastes[i],
                budget=round(float(budgets[i]), 2),
                activity=float(activity[i]),
                attrs=attrs,
            )
        )
    return tuple(viewers)


def _make_catalogue(
    rng: np.random.Generator,
    room_index: int,
    cats: tuple[str, ...],
    centres: dict[str, np.ndarray],
    regime: Regime,
) -> tuple[Item, ...]:
    size = int(rng.integers(60, 141))
    # the first category dominates the room's stock, the others fill in
    weights = np.array([3.0] + [1.0] * (len(cats) - 1))
    drawn = rng.choice(len(cats), size=size, p=weights / weights.sum())
    items = []
    for n in range(size):
        cat = cats[int(drawn[n])]
        median, nouns = CATEGORIES[cat]
        style = rng.standard_normal(DIM)
        vec = _unit(regime.category_weight * centres[cat] + 0.8 * _unit(style))
        price = max(0.5, round(median * math.exp(0.6 * float(rng.standard_normal())), 2))
        title = f"{ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]} {nouns[int(rng.integers(5))]}"
        items.append(
            Item(
                item_id=f"sku-{room_index:03d}-{n + 1:04d}",
                category=cat,
                price=price,
                title=title,
                brand=BRANDS[int(rng.integers(len(BRANDS)))],
                vec=vec,
                appeal=regime.appeal_spread * float(rng.standard_normal()),
            )
        )
    return tuple(items)


def build_truth(
    seed: int,
    rooms: int,
    viewers: int,
    minutes: float,
    start_ms: int,
    regime: Regime = REGIMES["default"],
) -> WorldTruth:
    """Draw the latent world; the same seed always yields the same world.

    >>> t = build_truth(seed=3, rooms=2, viewers=5, minutes=10, start_ms=0)
    >>> [r.room_id for r in t.rooms], len(t.viewers), t.viewers[0].user_id
    (['r-001', 'r-002'], 5, 'u-00001')
    >>> -1.0 <= t.affinity("u-00001", t.rooms[0].catalogue[0].item_id) <= 1.0
    True
    """
    if rooms < 1 or viewers < 1 or minutes <= 0:
        raise ValueError("need at least one room, one viewer and a positive duration")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng([seed, 0])
    window = int(minutes * 60_000)
    end_ms = start_ms + window
    centres = _unit(rng.standard_normal((SEGMENTS, DIM)))
    names = list(CATEGORIES)
    cat_centres = dict(zip(names, _unit(rng.standard_normal((len(names), DIM))), strict=True))
    room_list = []
    ranks = rng.permutation(rooms) + 1
    for r in range(rooms):
        n_cats = int(rng.integers(1, 4))
        cats = tuple(str(c) for c in rng.choice(names, size=n_cats, replace=False))
        catalogue = _make_catalogue(rng, r + 1, cats, cat_centres, regime)
        # a few rooms go live later; most end with a room_close at the end of the window,
        # some end early, and some are still live when the window ends
        opens = start_ms if rng.random() < 0.6 else start_ms + int(rng.uniform(0, 0.15) * window)
        fate = rng.random()
        if fate < 0.75:
            closes: int | None = end_ms - int(rng.integers(0, min(30_000, window // 10) + 1))
        elif fate < 0.9:
            closes = opens + int(rng.uniform(0.5, 0.9) * (end_ms - opens))
        else:
            closes = None
        if closes is not None:
            closes = max(closes, opens + 1)
        room_list.append(
            Room(
                room_id=f"r-{r + 1:03d}",
                index=r,
                categories=cats,
                catalogue=catalogue,
                vecs=np.stack([it.vec for it in catalogue]),
                popularity=float(ranks[r]) ** -0.8,  # Zipf-like reach
                opens_at=opens,
                closes_at=closes,
            )
        )
    items = {it.item_id: it for room in room_list for it in room.catalogue}
    return WorldTruth(
        rooms=tuple(room_list),
        viewers=_make_viewers(rng, viewers, centres, regime),
        items=items,
        segment_centres=centres,
        start_ms=start_ms,
        end_ms=end_ms,
        regime=regime,
    )
