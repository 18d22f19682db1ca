"""``models.learners.factorization`` must reproduce River's ``reco.FunkMF`` update exactly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import optim, reco

from models.learners import factorization
from models.learners.factorization import RowFunkMF
from models.learners.funk_mf import FunkMF

PROPERTY = settings(max_examples=150, deadline=None, database=None)


def random_events(seed: int, n: int = 2_000) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n)
    items = rng.integers(0, 25, n)
    targets = rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], n) + rng.normal(0, 0.05, n)
    return [(f"u-{u}", f"sku-{i}", float(y)) for u, i, y in zip(users, items, targets, strict=True)]


class _Unused(optim.initializers.Initializer):
    """River must never draw a vector itself: every id is set from ours before first use."""

    def __call__(self, shape=1):  # type: ignore[override]
        raise AssertionError("River initialised a latent vector that should have been copied")


def river_model(d: int, lr: float, l2: float, initializer, clip: float = 1e12) -> reco.FunkMF:
    return reco.FunkMF(
        n_factors=d,
        optimizer=optim.SGD(lr),
        l2=l2,
        initializer=initializer,
        clip_gradient=clip,
    )


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("d", [1, 8])
def test_same_vectors_as_river_funk_mf(d: int, l2: float) -> None:
    events = random_events(seed=d * 100 + int(l2 * 1000))
    ours = FunkMF(n_factors=d, lr=0.05, l2=l2, sigma=0.1, seed=5)
    river = river_model(d, 0.05, l2, _Unused())
    for user, item, y in events:
        # Create ids in our model first (its own draws), then give River the same start.
        for store, rows, vector, key in (
            (river.u_latents, ours.user_rows, ours.user_vector, user),
            (river.i_latents, ours.item_rows, ours.item_vector, item),
        ):
            if key not in store:
                ours._row(rows, key, store is river.u_latents)
                store[key] = vector(key).copy()
        ours.learn_one(user, item, y)
        river.learn_one(user, item, y)
    assert set(river.u_latents) == {u for u, _, _ in events}
    assert set(river.i_latents) == {i for _, i, _ in events}
    for user, vec in river.u_latents.items():
        np.testing.assert_allclose(ours.user_vector(user), vec, rtol=0, atol=1e-9)
    for item, vec in river.i_latents.items():
        np.testing.assert_allclose(ours.item_vector(item), vec, rtol=0, atol=1e-9)
    for user, item, _ in events[-50:]:
        assert ours.predict_one(user, item) == pytest.approx(
            river.predict_one(user, item), abs=1e-9
        )
    # learning actually moved the vectors (the comparison above is not vacuous)
    assert not np.allclose(ours.user_vector(events[0][0]), 0.0)
    moved = [ours.model.user_updates[ours.user_rows.get(u)] for u, _, _ in events]
    assert min(moved) > 0


def test_initial_draws_follow_event_order_like_a_shared_generator() -> None:
    """New rows come from the model's generator in first-use order (user, then item): a
    River model whose initializer draws from the same generator ends identical."""
    d, sigma, seed = 6, 0.1, 123
    ours = FunkMF(n_factors=d, lr=0.05, l2=0.0, sigma=sigma, seed=seed)
    rng = np.random.default_rng(seed)
    river = river_model(d, 0.05, 0.0, lambda shape: rng.normal(0.0, sigma, shape))
    events = random_events(seed=9, n=600)
    for user, item, y in events:
        ours.learn_one(user, item, y)
        river.learn_one(user, item, y)
    for user, vec in river.u_latents.items():
        np.testing.assert_allclose(ours.user_vector(user), vec, rtol=0, atol=1e-9)
    for item, vec in river.i_latents.items():
        np.testing.assert_allclose(ours.item_vector(item), vec, rtol=0, atol=1e-9)


def test_gradient_clipping_matches_river() -> None:
    d, clip = 4, 0.3
    ours = RowFunkMF(n_factors=d, lr=0.1, l2=0.01, sigma=0.5, seed=2, clip_gradient=clip)
    ours.reserve(3, 3)
    river = river_model(d, 0.1, 0.01, _Unused(), clip=clip)
    for r in range(3):
        ours.init_user(r)
        ours.init_item(r)
        river.u_latents[r] = ours.users[r].copy()
        river.i_latents[r] = ours.items[r].copy()
    rng = np.random.default_rng(0)
    for _ in range(300):
        u, i = (int(x) for x in rng.integers(0, 3, 2))
        y = float(rng.normal(0, 5))  # large errors: the clamp is active
        ours.learn(u, i, y)
        river.learn_one(u, i, y)
    for r in range(3):
        np.testing.assert_allclose(ours.users[r], river.u_latents[r], rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.items[r], river.i_latents[r], rtol=0, atol=1e-9)


def test_predict_one_of_unseen_ids_does_not_insert() -> None:
    model = FunkMF(n_factors=4, seed=1)
    model.learn_one("u-1", "sku-1", 1.0)
    draws_before = model.model.rng.bit_generator.state
    assert model.predict_one("u-404", "sku-1") == 0.0
    assert model.predict_one("u-1", "sku-404") == 0.0
    assert model.predict_one("u-404", "sku-404") == 0.0
    assert len(model.user_rows) == 1 and len(model.item_rows) == 1
    assert "u-404" not in model.user_rows and "sku-404" not in model.item_rows
    assert model.model.rng.bit_generator.state == draws_before  # no vector drawn either
    assert model.predict_one("u-1", "sku-1") == pytest.approx(
        float(model.user_vector("u-1") @ model.item_vector("sku-1"))
    )


def test_learning_moves_prediction_towards_target() -> None:
    model = FunkMF(n_factors=8, lr=0.05, seed=3)
    model.learn_one("u", "i", 1.0)
    errors = []
    for _ in range(200):
        errors.append(abs(1.0 - model.predict_one("u", "i")))
        model.learn_one("u", "i", 1.0)
    assert errors[-1] < 0.05 < errors[0]


def test_same_seed_same_vectors_and_growth_keeps_rows() -> None:
    a, b = RowFunkMF(n_factors=3, seed=7), RowFunkMF(n_factors=3, seed=7)
    for r in range(20):  # crosses several capacity doublings
        a.init_user(r)
        b.init_user(r)
        a.init_item(r)
        b.init_item(r)
    assert np.array_equal(a.users[:20], b.users[:20])
    first = a.users[0].copy()
    a.reserve(500, 500)
    assert np.array_equal(a.users[0], first)
    assert len(a.users) >= 500 and len(a.user_updates) >= 500
    a.learn(0, 1, 1.0)
    assert a.user_updates[0] == 1 and a.item_updates[1] == 1 and a.user_updates[1] == 0
    a.init_user(0)  # a reused row starts cold again
    assert a.user_updates[0] == 0


# -- learn_many: waves of updates that share no row ------------------------------------------


@contextmanager
def always_in_waves() -> Iterator[None]:
    """learn_many without its cost cutoff: every non-empty batch goes through the waves."""
    with (
        mock.patch.object(factorization, "FIXED_COST", 0.0),
        mock.patch.object(factorization, "WAVE_COST", 0.0),
    ):
        yield


def _fail(*args: object) -> None:
    raise AssertionError("learn_many looped learn instead of running the waves")


def twin_models(
    n_users: int, n_items: int, l2: float, clip: float, seed: int, spare: int = 0,
    max_norm: float = 0.0,
) -> tuple[RowFunkMF, RowFunkMF]:
    """Two models with the same rows; ``spare`` extra capacity beyond them."""
    models = []
    for _ in range(2):
        mf = RowFunkMF(n_factors=5, lr=0.05, l2=l2, sigma=0.5, seed=seed, clip_gradient=clip,
                       max_norm=max_norm)
        mf.reserve(n_users + spare, n_items + spare)
        for r in range(n_users):
            mf.init_user(r)
        for r in range(n_items):
            mf.init_item(r)
        models.append(mf)
    return models[0], models[1]


def assert_same_model(a: RowFunkMF, b: RowFunkMF) -> None:
    assert a.users.shape == b.users.shape and a.items.shape == b.items.shape
    np.testing.assert_allclose(a.users, b.users, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.items, b.items, rtol=1e-12, atol=1e-12)
    assert np.array_equal(a.user_updates, b.user_updates)
    assert np.array_equal(a.item_updates, b.item_updates)


@PROPERTY
@given(
    n_users=st.integers(1, 5),
    n_items=st.integers(1, 5),
    n=st.one_of(st.integers(0, 1), st.integers(0, 150)),
    l2=st.sampled_from([0.0, 0.02]),
    clip=st.sampled_from([0.05, 1.0, 1e12]),
    scale=st.sampled_from([1.0, 3.0]),
    spare=st.sampled_from([0, 1_000]),
    seed=st.integers(0, 2**32 - 1),
    waves=st.booleans(),
    max_norm=st.sampled_from([0.0, 0.8, 3.0]),
)
def test_learn_many_equals_learn_in_order(
    n_users: int,
    n_items: int,
    n: int,
    l2: float,
    clip: float,
    scale: float,
    spare: int,
    seed: int,
    waves: bool,
    max_norm: float,
) -> None:
    """Few rows (many repeated users, items and pairs), with and without l2, a clamp that
    engages (small clip, large targets) or not, a bound on the rows' length that binds (0.8:
    the rows start near it) or not, empty and single-update batches; with the waves forced,
    or with the cost cutoff that may loop ``learn`` instead."""
    a, b = twin_models(n_users, n_items, l2, clip, seed % 1_000, spare, max_norm)
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    ys = rng.normal(0.0, scale, n)
    if waves:
        a.learn = _fail  # type: ignore[method-assign]
        with always_in_waves():
            a.learn_many(users, items, ys)
    else:
        a.learn_many(users, items, ys)
    for u, i, y in zip(users.tolist(), items.tolist(), ys.tolist(), strict=True):
        b.learn(u, i, y)
    assert_same_model(a, b)
    assert a.user_updates.sum() == n
    assert np.isfinite(b.users).all() and np.isfinite(b.items).all()  # not NaN == NaN


def test_rows_stay_within_the_stable_norm_where_river_s_step_diverges() -> None:
    """Targets far beyond what rows within the bound can reach, over and over (what accounts
    buying made-up items in waves did to a room): unbounded, the product overshoots more at
    every step and the rows grow without end; bounded, no row passes the bound, one step or
    a batch at a time, and the rows stay finite and the products usable."""
    bound = factorization.stable_norm(0.05)
    rng = np.random.default_rng(7)
    users, items = rng.integers(0, 3, 400), rng.integers(0, 3, 400)
    ys = np.full(400, 40.0)
    free, kept = twin_models(3, 3, 0.0, 50.0, seed=8)
    batch, _ = twin_models(3, 3, 0.0, 50.0, seed=8, max_norm=bound)
    kept.max_norm = bound
    for u, i, y in zip(users.tolist(), items.tolist(), ys.tolist(), strict=True):
        free.learn(u, i, y)
        kept.learn(u, i, y)
    with always_in_waves():
        batch.learn_many(users, items, ys)
    assert np.linalg.norm(free.items[:3], axis=1).max() > 1e6 * bound or free.refused > 0
    for model in (kept, batch):
        norms = np.linalg.norm(np.vstack([model.users[:3], model.items[:3]]), axis=1)
        assert norms.max() <= bound * (1 + 1e-12)
        assert norms.max() >= 0.99 * bound  # it binds: the targets pull the rows to it
        assert model.refused == 0


def test_rows_restored_beyond_the_bound_are_brought_within_it() -> None:
    mf, _ = twin_models(2, 2, 0.0, 50.0, seed=9, max_norm=1.0)
    mf.users[0], mf.items[1] = 1e80, 0.1
    mf.rows_replaced()
    assert np.linalg.norm(mf.users[0]) == pytest.approx(1.0)
    assert mf.items[1].tolist() == [0.1] * 5  # shorter rows are left as they are


def test_learn_many_is_not_vacuous() -> None:
    """The batch moves the vectors, and in an order-dependent way: the same updates in
    reverse give other vectors (so the comparisons above can fail)."""
    a, b = twin_models(3, 2, 0.0, 1e12, seed=4)
    start = a.users.copy()
    rng = np.random.default_rng(1)
    users, items, ys = rng.integers(0, 3, 60), rng.integers(0, 2, 60), rng.normal(1, 1, 60)
    with always_in_waves():
        a.learn_many(users, items, ys)
        b.learn_many(users[::-1], items[::-1], ys[::-1])
    assert np.abs(a.users - start).max() > 0.1
    assert np.abs(a.users - b.users).max() > 1e-3


def test_learn_many_redoes_the_batch_with_the_clamp_only_when_one_is_due() -> None:
    sweeps: list[bool] = []
    real = RowFunkMF._apply_waves

    def spy(self: RowFunkMF, *args: object, clip: bool) -> np.ndarray:
        sweeps.append(clip)
        return real(self, *args, clip=clip)  # type: ignore[arg-type]

    rng = np.random.default_rng(2)
    users, items = rng.integers(0, 4, 80), rng.integers(0, 4, 80)
    with always_in_waves(), mock.patch.object(RowFunkMF, "_apply_waves", spy):
        for clip, scale, expected in ((1e12, 1.0, [False]), (0.5, 10.0, [False, True])):
            a, b = twin_models(4, 4, 0.01, clip, seed=3)
            sweeps.clear()
            ys = rng.normal(0.0, scale, 80)
            a.learn_many(users, items, ys)
            for u, i, y in zip(users.tolist(), items.tolist(), ys.tolist(), strict=True):
                b.learn(u, i, y)
            assert sweeps == expected
            assert_same_model(a, b)


def test_learn_many_cost_cutoff_loops_learn_for_small_or_sequential_batches() -> None:
    a, _ = twin_models(40, 40, 0.0, 1e12, seed=5)
    calls: list[int] = []
    real = a.learn_one
    a.learn_one = lambda u, i, y: calls.append(u) or real(u, i, y)  # type: ignore[method-assign]
    distinct = np.arange(40)
    a.learn_many(distinct[:21], distinct[:21], np.ones(21))  # one wave, but too small to pay
    assert len(calls) == 21
    a.learn_many(np.zeros(200, int), np.zeros(200, int), np.ones(200))  # 200 waves of one
    assert len(calls) == 221
    a.learn_many(distinct, distinct[::-1], np.ones(40))  # one wave of 40: the waves
    assert len(calls) == 221


def test_learn_many_rejects_mismatched_lengths() -> None:
    a, _ = twin_models(2, 2, 0.0, 1e12, seed=6)
    with pytest.raises(ValueError, match="lengths differ"):
        a.learn_many(np.array([0, 1]), np.array([0]), np.array([1.0, 1.0]))


@pytest.mark.parametrize(("l2", "clip"), [(0.0, 1e12), (0.01, 1e12), (0.01, 2.0)])
def test_learn_many_same_vectors_as_river_funk_mf(l2: float, clip: float) -> None:
    """A few hundred updates in one ``learn_many`` (through the facade) against River's
    ``learn_one`` one at a time, from the same vectors."""
    d = 8
    events = random_events(seed=11, n=400)
    ours = FunkMF(n_factors=d, lr=0.05, l2=l2, sigma=0.1, seed=5)
    ours.model.clip = clip
    river = river_model(d, 0.05, l2, _Unused(), clip=clip)
    for user, item, _ in events:  # every id: our draw first, then River gets a copy
        for store, rows, vector, key, is_user in (
            (river.u_latents, ours.user_rows, ours.user_vector, user, True),
            (river.i_latents, ours.item_rows, ours.item_vector, item, False),
        ):
            if key not in store:
                ours._row(rows, key, is_user)
                store[key] = vector(key).copy()
    ours.model.learn = _fail  # type: ignore[method-assign]  # the waves, not a loop of learn
    ours.learn_many([u for u, _, _ in events], [i for _, i, _ in events],
                    [y for _, _, y in events])
    for user, item, y in events:
        river.learn_one(user, item, y)
    for user, vec in river.u_latents.items():
        np.testing.assert_allclose(ours.user_vector(user), vec, rtol=1e-12, atol=1e-12)
    for item, vec in river.i_latents.items():
        np.testing.assert_allclose(ours.item_vector(item), vec, rtol=1e-12, atol=1e-12)
    moved = [ours.model.item_updates[ours.item_rows.get(i)] for _, i, _ in events]
    assert min(moved) > 0 and sum(ours.model.user_updates) == len(events)


def test_facade_learn_many_draws_new_ids_like_learn_one() -> None:
    events = random_events(seed=12, n=300)
    a, b = FunkMF(n_factors=6, seed=9), FunkMF(n_factors=6, seed=9)
    a.learn_many([u for u, _, _ in events], [i for _, i, _ in events],
                 [y for _, _, y in events])
    for user, item, y in events:
        b.learn_one(user, item, y)
    assert a.user_rows.items() == b.user_rows.items()
    assert a.item_rows.items() == b.item_rows.items()
    for user, _, _ in events:
        np.testing.assert_allclose(a.user_vector(user), b.user_vector(user), rtol=1e-12,
                                   atol=1e-12)
    for _, item, _ in events:
        np.testing.assert_allclose(a.item_vector(item), b.item_vector(item), rtol=1e-12,
                                   atol=1e-12)
    assert a.model.rng.bit_generator.state == b.model.rng.bit_generator.state
