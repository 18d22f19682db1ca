"""The evaluator's peers: rankers built from the events alone, causally.

Each sees only what happened before the push's trigger (the replay's order), so it is scored
on the same (action, push) pairs as the job: a room-popularity ranker, the showcase and
spotlight orders, a seeded random order, and a per-viewer category-count heuristic.
"""

from __future__ import annotations

import random
from collections import Counter, deque

from features.contract.ids import unit_hash
from models.offline.replay import Snapshot


class Popularity:
    """Clicks + carts + purchases per item over a trailing window of one room."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.recent: deque[tuple[int, str]] = deque()
        self.counts: Counter[str] = Counter()

    def add(self, ts: int, item_id: str) -> None:
        self.recent.append((ts, item_id))
        self.counts[item_id] += 1

    def rank(self, snap: Snapshot, ts: int) -> tuple[str, ...]:
        while self.recent and self.recent[0][0] < ts - self.window_ms:
            _, item = self.recent.popleft()
            self.counts[item] -= 1
        order = {item: n for n, item in enumerate(snap.item_ids)}
        return tuple(sorted(snap.item_ids, key=lambda i: (-self.counts[i], order[i])))


def room_baselines(snap: Snapshot, popularity: Popularity, ts: int) -> dict[str, tuple[str, ...]]:
    spot = snap.spotlight
    first = (spot, *(i for i in snap.item_ids if i != spot)) if spot in snap.item_set else None
    return {
        "showcase_order": snap.item_ids,
        "spotlight_first": first or snap.item_ids,
        "popularity": popularity.rank(snap, ts),
    }


def category_count_order(
    popular: tuple[str, ...], categories: dict[str, str], seen: Counter[str] | None
) -> tuple[str, ...]:
    """The per-viewer heuristic peer: items of the categories the viewer acted on most in
    this room come first, then the room's popularity order.

    >>> category_count_order(("a", "b", "c"), {"a": "x", "b": "y", "c": "y"}, Counter(y=2))
    ('b', 'c', 'a')
    """
    if not seen:
        return popular
    return tuple(
        sorted(popular, key=lambda item: -seen.get(categories.get(item, ""), 0))  # stable
    )


def random_order(
    seed: int, trigger_id: str, user_id: str, items: tuple[str, ...]
) -> tuple[str, ...]:
    """Seeded shuffle that depends only on (seed, trigger, viewer): replay-order independent.

    >>> random_order(0, "t", "u", ("a", "b", "c")) == random_order(0, "t", "u", ("a", "b", "c"))
    True
    """
    order = list(items)
    random.Random(int(unit_hash(str(seed), trigger_id, user_id) * 2**53)).shuffle(order)
    return tuple(order)
