"""``PropensityModel.logits`` (whole room at once) against River's per-pair prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.contract.events import ShowcaseItem
from features.state.catalog import ITEM_FEATURES, ItemTable
from features.state.viewers import CATEGORY_BUCKETS, VIEWER_FEATURES, ViewerTable
from features.state.windows import CARTS, CHANNELS, CLICKS
from models.propensity import FEATURES, PAIR_FEATURES, PRIORS, PropensityModel, pair_features
from models.ranking import from_logits, rank

NV, NI, NP = len(VIEWER_FEATURES), len(ITEM_FEATURES), len(PAIR_FEATURES)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def random_room(rng: np.random.Generator, v: int, n: int):
    viewer_x = rng.uniform(0, 2, (v, NV)).astype(np.float32)
    item_x = rng.uniform(0, 3, (n, NI)).astype(np.float32)
    log_budget = rng.uniform(0, 5, v).astype(np.float32)
    known = (rng.random(v) < 0.6).astype(np.float32)
    share = rng.dirichlet(np.ones(CATEGORY_BUCKETS), v).astype(np.float32)
    category = rng.integers(0, CATEGORY_BUCKETS, n)
    pairs = pair_features(viewer_x, log_budget, known, share, item_x, category)
    return viewer_x, item_x, pairs


def trained_model(seed: int, n_examples: int = 400) -> PropensityModel:
    rng = np.random.default_rng(seed)
    model = PropensityModel(lr=0.05)
    viewer_x, item_x, pairs = random_room(rng, 30, 12)
    for _ in range(n_examples):
        v, i = int(rng.integers(0, 30)), int(rng.integers(0, 12))
        x = model.example(viewer_x[v], item_x[i], pairs[:, v, i])
        label = bool(rng.random() < 0.2 + 0.2 * item_x[i, 1])
        model.learn_one(x, label)
    return model


def test_pair_features_shape_and_values() -> None:
    viewer_x = np.zeros((2, NV), dtype=np.float32)
    viewer_x[:, VIEWER_FEATURES.index("tier")] = [0.2, 0.8]
    item_x = np.zeros((3, NI), dtype=np.float32)
    item_x[:, ITEM_FEATURES.index("log_price")] = [1.0, 2.0, 4.0]
    log_budget = np.array([2.0, 3.0], dtype=np.float32)
    known = np.array([1.0, 0.0], dtype=np.float32)
    share = np.zeros((2, CATEGORY_BUCKETS), dtype=np.float32)
    share[0, 5] = 0.75
    category = np.array([5, 0, 5])
    pairs = pair_features(viewer_x, log_budget, known, share, item_x, category)
    assert pairs.shape == (NP, 2, 3) and pairs.dtype == np.float32
    gap, distance, tier_price, affinity = pairs
    np.testing.assert_allclose(gap, [[-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(distance, [[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(tier_price, [[0.2, 0.4, 0.8], [0.8, 1.6, 3.2]], rtol=1e-6)
    np.testing.assert_allclose(affinity, [[0.75, 0.0, 0.75], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_logits_equal_river_per_pair(seed: int) -> None:
    model = trained_model(seed)
    assert model.model.weights != {n: PRIORS.get(n, 0.0) for n in FEATURES}  # it learned
    rng = np.random.default_rng(100 + seed)
    viewer_x, item_x, pairs = random_room(rng, 17, 9)
    logits = model.logits(viewer_x, item_x, pairs)
    assert logits.shape == (17, 9)
    spread = []
    for v in range(17):
        for i in range(9):
            x = model.example(viewer_x[v], item_x[i], pairs[:, v, i])
            assert list(x) == list(FEATURES)
            expected = logit(model.predict_one(x))
            assert float(logits[v, i]) == pytest.approx(expected, abs=1e-4), (v, i)
            spread.append(expected)
    assert max(spread) - min(spread) > 0.5  # the pairs really differ


def test_cold_model_logits_equal_river_too() -> None:
    model = PropensityModel()
    rng = np.random.default_rng(5)
    viewer_x, item_x, pairs = random_room(rng, 4, 6)
    logits = model.logits(viewer_x, item_x, pairs)
    for v in range(4):
        for i in range(6):
            x = model.example(viewer_x[v], item_x[i], pairs[:, v, i])
            assert float(logits[v, i]) == pytest.approx(logit(model.predict_one(x)), abs=1e-4)


def _cold_room(spotlight: str | None, window_rows: dict[str, dict[int, float]] | None = None):
    items = ItemTable()
    showcase_items = (
        ShowcaseItem("sku-a", 25.0, "beauty"),
        ShowcaseItem("sku-b", 120.0, "home"),
        ShowcaseItem("sku-c", 60.0, "fashion"),
        ShowcaseItem("sku-d", 9.5, "beauty"),
    )
    showcase = items.show("e-1", 1_000, showcase_items, spotlight)
    window = np.zeros((items.rows.capacity, len(CHANNELS)), dtype=np.float32)
    for item_id, counts in (window_rows or {}).items():
        for channel, value in counts.items():
            window[items.row_of(item_id), channel] = value
    viewers = ViewerTable(90_000, 600_000)
    for n in range(5):
        viewers.enter(f"u-{n}", 1_000, {"spend_tier": n} if n % 2 else {})
    rows = viewers.present_rows(1_000)
    item_x = items.features(showcase, window)
    viewer_x = viewers.features(rows)
    log_budget, known = viewers.log_budget(rows)
    pairs = pair_features(
        viewer_x,
        log_budget,
        known,
        viewers.category_share(rows),
        item_x,
        items.category[showcase.rows],
    )
    return showcase, viewer_x, item_x, pairs


def test_priors_rank_the_spotlight_first_in_a_cold_room() -> None:
    showcase, viewer_x, item_x, pairs = _cold_room("sku-c")
    model = PropensityModel()
    logits = model.logits(viewer_x, item_x, pairs)
    spot = showcase.item_ids.index("sku-c")
    assert (logits.argmax(axis=1) == spot).all()
    others = np.delete(logits, spot, axis=1)
    assert (logits[:, spot][:, None] > others + 0.5).all()
    # ranked with cold (zero) queries: uniform attention, so propensity decides
    queries = np.zeros((len(viewer_x), 4), dtype=np.float32)
    keys = np.zeros((len(showcase), 4), dtype=np.float32)
    ranked = rank(queries, keys, from_logits(lambda s, e: logits[s:e].copy()), 3)
    assert (ranked.top[:, 0] == spot).all()


def test_priors_put_room_momentum_ahead_of_quiet_items() -> None:
    showcase, viewer_x, item_x, pairs = _cold_room("sku-a", {"sku-d": {CLICKS: 3.0, CARTS: 1.0}})
    logits = PropensityModel().logits(viewer_x, item_x, pairs)
    order = np.argsort(-logits, axis=1, kind="stable")
    ids = showcase.item_ids
    assert all(ids[row[0]] == "sku-a" for row in order)  # spotlight first
    assert all(ids[row[1]] == "sku-d" for row in order)  # then the item with momentum


def test_learning_from_labels_moves_the_probability() -> None:
    model = PropensityModel(lr=0.1)
    rng = np.random.default_rng(4)
    viewer_x, item_x, pairs = random_room(rng, 2, 2)
    x = model.example(viewer_x[0], item_x[0], pairs[:, 0, 0])
    before = model.predict_one(x)
    for _ in range(20):
        model.learn_one(x, False)
    assert model.predict_one(x) < before - 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("buyers", [0.0, 0.1, 0.6, 1.0])  # the sparse and the dense |gap| path
@pytest.mark.parametrize("together", [False, True])  # buyers scattered, or side by side
def test_fast_logits_equal_the_feature_stack_logits(
    seed: int, buyers: float, together: bool
) -> None:
    """The production path (pairwise terms folded algebraically) against the readable one,
    viewers down and transposed."""
    rng = np.random.default_rng(seed)
    model = trained_model(seed)
    viewer_x = rng.uniform(0, 2, (40, NV)).astype(np.float32)
    item_x = rng.uniform(0, 3, (15, NI)).astype(np.float32)
    log_budget = rng.uniform(0, 5, 40).astype(np.float32)
    known = (rng.random(40) < buyers).astype(np.float32)
    if together:
        known = np.sort(known)
    share = rng.dirichlet(np.ones(CATEGORY_BUCKETS), 40).astype(np.float32)
    category = rng.integers(0, CATEGORY_BUCKETS, 15)
    pairs = pair_features(viewer_x, log_budget, known, share, item_x, category)
    expected = model.logits(viewer_x, item_x, pairs)
    fast = model.logits_fast(viewer_x, log_budget, known, share, item_x, category)
    assert fast.shape == expected.shape == (40, 15)
    np.testing.assert_allclose(fast, expected, rtol=1e-5, atol=1e-4)
    transposed = model.logits_fast(viewer_x, log_budget, known, share, item_x, category,
                                   transposed=True)
    np.testing.assert_allclose(transposed, expected.T, rtol=1e-5, atol=1e-4)
