"""Each regime changes the mechanism it names, and the default stays today's world."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import orjson
import pytest

from models.sim.regimes import REGIMES, regime
from models.sim.world import World, iter_world

# sha256 of ``iter_world(3, 4, 60, 10)`` as JSONL, written before regimes existed: the default
# regime must keep every seed's world byte for byte (earlier results stay reproducible).
# Re-pinned when rec_id became length-prefixed: the push_open events carry rec_ids.
DEFAULT_WORLD_SHA256 = (
    "69e2947939738abbb7ff8e7da7f985503a6d8ff43dae6931b7fda6b3a27432ff"
)


def _world(name: str, seed: int = 5) -> tuple[World, list[dict[str, Any]]]:
    world = World(seed, 6, 400, 20, regime=regime(name))
    return world, list(world.events())


def test_the_default_regime_is_the_world_as_it_was() -> None:
    data = b"".join(orjson.dumps(e) + b"\n" for e in iter_world(3, 4, 60, 10))
    assert hashlib.sha256(data).hexdigest() == DEFAULT_WORLD_SHA256


@pytest.mark.parametrize("name", list(REGIMES))
def test_every_regime_is_deterministic_and_writes_every_event_type(name: str) -> None:
    _, first = _world(name)
    _, again = _world(name)
    assert first == again
    assert {"enter", "showcase", "item_click", "add_to_cart", "purchase", "like"} <= {
        e["type"] for e in first
    }


def _spread_within_category(world: World) -> float:
    items = list(world.truth.items.values())
    by_cat: dict[str, list[np.ndarray]] = {}
    for item in items:
        by_cat.setdefault(item.category, []).append(item.vec)
    return float(np.mean([np.stack(v).std(axis=0).sum() for v in by_cat.values() if len(v) > 1]))


def test_item_taste_spreads_items_of_a_category_and_category_taste_gathers_them() -> None:
    default = _spread_within_category(_world("default")[0])
    assert _spread_within_category(_world("item-taste")[0]) > 1.2 * default
    assert _spread_within_category(_world("category-taste")[0]) < 0.8 * default


def _tier_budget_correlation(world: World) -> float:
    tiers = [float(v.attrs["spend_tier"]) for v in world.truth.viewers]
    budgets = [math.log(v.budget) for v in world.truth.viewers]
    return float(np.corrcoef(tiers, budgets)[0, 1])


def test_hidden_budget_makes_the_tier_a_weak_lens() -> None:
    assert _tier_budget_correlation(_world("default")[0]) > 0.6
    assert _tier_budget_correlation(_world("hidden-budget")[0]) < 0.3


def _liked_affinity(name: str) -> float:
    world, events = _world(name)
    values = [
        world.affinity(e["user_id"], e["item_id"])
        for e in events
        if e["type"] in ("like", "comment") and "item_id" in e
    ]
    return float(np.mean(values))


def test_taste_engagement_likes_what_the_viewer_likes() -> None:
    assert _liked_affinity("taste-engagement") > _liked_affinity("default") + 0.05


def _clicked_affinity(name: str) -> float:
    world, events = _world(name)
    return float(
        np.mean(
            [
                world.affinity(e["user_id"], e["item_id"])
                for e in events
                if e["type"] == "item_click"
            ]
        )
    )


def test_drifting_taste_clicks_follow_the_stable_taste_less() -> None:
    assert _clicked_affinity("drifting-taste") < _clicked_affinity("default") - 0.03


def test_an_unknown_regime_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="regimes are: default, item-taste"):
        regime("mystery")
