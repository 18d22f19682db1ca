"""e^(−z) as a product of small exponentials (``models.odds``) against ``exp`` of the logit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.odds import MAX_SLOPES, factored_inverse_odds
from models.ranking import from_logits
from tests.models.test_propensity import CATEGORY_BUCKETS, NI, NV, trained_model

f32 = np.float32


def direct(per_viewer, per_item, slope, log_price, category_weight, item_category, coef,
           log_budget) -> np.ndarray:
    """The readable twin: the logit summed term by term in float64, then exp(−z)."""
    z = (
        per_viewer[:, None].astype(np.float64)
        + per_item[None, :]
        + slope[:, None] * log_price[None, :]
        + coef[:, None] * np.abs(log_budget[:, None] - log_price[None, :])
    )
    if category_weight is not None:
        z += category_weight[:, item_category]
    return np.exp(-z)


@st.composite
def terms(draw: st.DrawFn, max_slopes: int = 12) -> tuple:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    v, n = draw(st.integers(1, 60)), draw(st.integers(1, 30))
    scale = draw(st.sampled_from([0.1, 1.0, 1.5]))  # exponents within the bound
    n_slopes = draw(st.integers(1, max_slopes))
    slope = rng.choice(rng.normal(0, scale, n_slopes), v).astype(f32)
    buyers = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    coef = (rng.random(v) < buyers) * f32(draw(st.sampled_from([-0.3, 0.0, 0.4])))
    with_category = draw(st.booleans())
    return (
        rng.normal(0, scale, v).astype(f32),
        rng.normal(0, scale, n).astype(f32),
        slope,
        rng.uniform(0, 6, n).astype(f32),
        rng.uniform(-scale, scale, (v, CATEGORY_BUCKETS)).astype(f32) if with_category else None,
        rng.integers(0, CATEGORY_BUCKETS, n),
        coef.astype(f32),
        rng.uniform(0, 6, v).astype(f32),
    )


@settings(max_examples=200, deadline=None)
@given(terms())
def test_factored_product_equals_exp_of_the_logit(args: tuple) -> None:
    fast = factored_inverse_odds(*args)
    assert fast is not None  # few slopes, small exponents: the product form applies
    assert fast.dtype == np.float32 and fast.shape == (len(args[0]), len(args[1]))
    np.testing.assert_allclose(fast, direct(*args), rtol=2e-5)


def test_too_many_slopes_or_too_large_exponents_decline() -> None:
    rng = np.random.default_rng(1)
    v, n = 200, 7
    base = (
        rng.normal(size=v).astype(f32), rng.normal(size=n).astype(f32),
        rng.normal(size=v).astype(f32),  # 200 distinct slopes
        rng.uniform(0, 5, n).astype(f32), None, np.zeros(n, np.intp),
        np.zeros(v, f32), np.zeros(v, f32),
    )
    assert len(np.unique(base[2])) > MAX_SLOPES
    assert factored_inverse_odds(*base) is None
    few = (base[0], base[1], np.zeros(v, f32), *base[3:])
    assert factored_inverse_odds(*few) is not None
    huge = (base[0] * 100, *few[1:])  # e^(−P) could overflow float32
    assert factored_inverse_odds(*huge) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tiers", [3, 500])  # the factored path, and the exp fallback
@pytest.mark.parametrize("product", [True, False])  # whatever this machine would choose
def test_inverse_odds_fast_is_exp_of_minus_logits_fast(
    seed: int, tiers: int, product: bool
) -> None:
    rng = np.random.default_rng(seed)
    model = trained_model(seed)
    viewer_x = rng.uniform(0, 2, (300, NV)).astype(f32)
    viewer_x[:, 0] = rng.integers(0, tiers, 300) / 5.0  # the tier column sets the slopes
    item_x = rng.uniform(0, 3, (15, NI)).astype(f32)
    log_budget = rng.uniform(0, 5, 300).astype(f32)
    known = (rng.random(300) < 0.2).astype(f32)
    share = rng.dirichlet(np.ones(CATEGORY_BUCKETS), 300).astype(f32)
    category = rng.integers(0, CATEGORY_BUCKETS, 15)
    args = (viewer_x, log_budget, known, share, item_x, category)
    expected = np.exp(-model.logits_fast(*args).astype(np.float64))
    np.testing.assert_allclose(model.inverse_odds_fast(*args, product=product), expected,
                               rtol=2e-5)
    transposed = model.inverse_odds_fast(*args, product=product, transposed=True)
    assert transposed.flags.c_contiguous
    np.testing.assert_allclose(transposed, expected.T, rtol=2e-5)


def test_from_logits_gives_the_inverse_odds_of_the_logits() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 2, (50, 12)).astype(f32)
    kept = logits.copy()
    odds = from_logits(lambda s, e: logits[s:e])(10, 30)
    assert odds.dtype == np.float32 and odds.flags.c_contiguous
    # transposed: items down, viewers across, as rank reads them
    np.testing.assert_allclose(odds, np.exp(-kept[10:30].astype(np.float64)).T, rtol=1e-6)
    np.testing.assert_array_equal(logits, kept)  # the caller's logits are left alone
