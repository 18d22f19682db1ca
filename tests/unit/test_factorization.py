"""``models.factorization`` must reproduce River's ``reco.FunkMF`` update exactly."""

from __future__ import annotations

import numpy as np
import pytest
from river import optim, reco

from models.factorization import FunkMF, RowFunkMF, room_seed


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


def test_room_seed_is_stable_and_distinct() -> None:
    assert room_seed("r-7") == room_seed("r-7")
    assert room_seed("r-7") != room_seed("r-8")
    assert 0 <= room_seed("r-7") < 2**63
