"""The learner Protocols' contract, passed by the fast learners and the River adapters alike.

Vectors: the same update sequence gives the same predictions (to rounding) whichever
implementation runs it; ``predict_one`` has no side effect; rows start cold. Choice learners
(listwise and River's pointwise peer): a non-finite update leaves the model exactly as it was
and is counted. River's own estimator checks on the estimators the
adapters run are in ``test_river_checks.py``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import optim

from models.learners.choice import LEARNERS, choice_learner, vector_learner
from models.learners.factorization import RowFunkMF
from models.learners.listwise import ListwiseSoftmax
from models.learners.protocols import ChoiceLearner, VectorLearner
from models.learners.river_adapters import PointwiseChoice, RiverFunkMF, RiverLogisticRegression
from tests.models.learners.pointwise import feed_same_choices

PROPERTY = settings(max_examples=60, deadline=None, database=None)
D, USERS, ITEMS = 4, 5, 4
NAMES = tuple(f"f{n}" for n in range(6))
PRIORS = {"f0": 0.5, "f3": -0.25}
BAD = (math.nan, math.inf, -math.inf)

# One update: (user row, item row, target); a target drawn from BAD is an injected fault.
updates = st.lists(
    st.tuples(
        st.integers(0, USERS - 1),
        st.integers(0, ITEMS - 1),
        st.one_of(st.floats(-2.0, 2.0), st.sampled_from(BAD)),
    ),
    max_size=80,
)
# One example: feature values (some possibly non-finite), label, weight (possibly non-finite).
examples = st.lists(
    st.tuples(
        st.lists(
            st.one_of(st.floats(-3.0, 3.0), st.sampled_from(BAD)),
            min_size=len(NAMES),
            max_size=len(NAMES),
        ),
        st.booleans(),
        st.one_of(st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from(BAD)),
    ),
    max_size=60,
)


def vectors(kind: str, seed: int = 3, lr: float = 0.05, l2: float = 0.0) -> VectorLearner:
    model = vector_learner(kind, D, lr, l2, sigma=0.3, seed=seed)
    for row in range(USERS):
        model.init_user(row)
    for row in range(ITEMS):
        model.init_item(row)
    return model


def all_predictions(model: VectorLearner) -> np.ndarray:
    return np.array([[model.predict_one(u, i) for i in range(ITEMS)] for u in range(USERS)])


def test_every_implementation_satisfies_its_protocol() -> None:
    for kind in LEARNERS:
        assert isinstance(vector_learner(kind, D, 0.05), VectorLearner)
        assert isinstance(choice_learner(kind, NAMES[:2], NAMES[2:], 0.05), ChoiceLearner)
    assert isinstance(vector_learner("fast", D, 0.05), RowFunkMF)
    assert isinstance(vector_learner("river", D, 0.05), RiverFunkMF)
    assert isinstance(choice_learner("fast", NAMES[:2], NAMES[2:], 0.05), ListwiseSoftmax)
    assert isinstance(choice_learner("river", NAMES[:2], NAMES[2:], 0.05), PointwiseChoice)
    with pytest.raises(ValueError, match="learner must be one of fast, river"):
        vector_learner("torch", D, 0.05)


# -- vector learners ---------------------------------------------------------------------


@pytest.mark.parametrize("l2", [0.0, 0.01])
@PROPERTY
@given(stream=updates, batched=st.booleans())
def test_same_updates_same_predictions_fast_and_river(
    stream: list[tuple[int, int, float]], batched: bool, l2: float
) -> None:
    """Same seed, same updates (some non-finite): same vectors, counts and refusals."""
    fast, river = vectors("fast", l2=l2), vectors("river", l2=l2)
    np.testing.assert_array_equal(all_predictions(fast), all_predictions(river))
    if batched:  # learn_many on one side, learn_one on the other
        fast.learn_many([u for u, _, _ in stream], [i for _, i, _ in stream],
                        [y for _, _, y in stream])
    else:
        for u, i, y in stream:
            fast.learn_one(u, i, y)
    for u, i, y in stream:
        river.learn_one(u, i, y)
    np.testing.assert_allclose(all_predictions(fast), all_predictions(river), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_array_equal(fast.user_updates[:USERS], river.user_updates[:USERS])
    np.testing.assert_array_equal(fast.item_updates[:ITEMS], river.item_updates[:ITEMS])
    assert fast.refused == river.refused == sum(not math.isfinite(y) for _, _, y in stream)


@pytest.mark.parametrize("kind", LEARNERS)
@PROPERTY
@given(stream=updates)
def test_non_finite_updates_leave_the_model_as_if_never_seen(
    kind: str, stream: list[tuple[int, int, float]]
) -> None:
    """Injected NaN/±inf targets: the model equals one that never saw them, and is finite."""
    faulty, clean = vectors(kind), vectors(kind)
    for u, i, y in stream:
        faulty.learn_one(u, i, y)
        if math.isfinite(y):
            clean.learn_one(u, i, y)
    np.testing.assert_array_equal(faulty.users, clean.users)
    np.testing.assert_array_equal(faulty.items, clean.items)
    np.testing.assert_array_equal(faulty.user_updates, clean.user_updates)
    assert faulty.refused == sum(not math.isfinite(y) for _, _, y in stream)
    assert clean.refused == 0
    assert np.isfinite(all_predictions(faulty)).all()


@pytest.mark.parametrize("kind", LEARNERS)
def test_a_step_that_would_overflow_is_refused(kind: str) -> None:
    """A finite target whose step overflows (a huge learning rate) leaves the rows as they
    were, through ``learn_one`` and through ``learn_many``'s batched path."""
    model = vectors(kind, lr=1e200)
    before = (model.users.copy(), model.items.copy())
    model.learn_one(0, 0, 1e200)
    assert model.refused == 1
    np.testing.assert_array_equal(model.users, before[0])
    np.testing.assert_array_equal(model.items, before[1])
    rows = np.arange(40) % USERS
    model.learn_many(rows, rows % ITEMS, np.full(40, 1e200))  # large enough for the waves
    assert model.refused == 41
    np.testing.assert_array_equal(model.users, before[0])
    assert not model.user_updates.any()


def test_batched_path_refuses_non_finite_targets_one_by_one() -> None:
    """``learn_many``'s vectorised waves hand a batch holding NaN to the checked loop."""
    faulty, clean = vectors("fast"), vectors("fast")
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, USERS, 300), rng.integers(0, ITEMS, 300)
    ys = rng.random(300)
    ys[[7, 150]] = [math.nan, math.inf]
    faulty.learn_many(users, items, ys)
    keep = np.isfinite(ys)
    clean.learn_many(users[keep], items[keep], ys[keep])
    np.testing.assert_allclose(faulty.users, clean.users, rtol=1e-12, atol=1e-15)
    assert faulty.refused == 2 and int(faulty.user_updates.sum()) == 298


@pytest.mark.parametrize("kind", LEARNERS)
def test_predict_one_is_pure_and_rows_start_cold(kind: str) -> None:
    model = vectors(kind)
    assert not model.user_updates.any() and not model.item_updates.any()
    state = copy.deepcopy(model)
    value = model.predict_one(1, 2)
    assert value == pytest.approx(float(model.users[1] @ model.items[2]), abs=1e-12)
    np.testing.assert_array_equal(model.users, state.users)
    assert model.rng.bit_generator.state == state.rng.bit_generator.state  # type: ignore[attr-defined]
    model.learn_one(1, 2, 1.0)
    assert model.user_updates[1] == 1 and model.item_updates[2] == 1
    assert model.predict_one(1, 2) != value
    model.init_user(1)  # a reused row starts cold again, with a fresh vector
    assert model.user_updates[1] == 0
    assert model.predict_one(1, 2) == pytest.approx(
        float(model.users[1] @ model.items[2]), abs=1e-12
    )


@pytest.mark.parametrize("kind", LEARNERS)
def test_renumbered_rows_keep_their_vectors_and_go_on_learning(kind: str) -> None:
    """A room's compaction keeps rows ``live`` as ``0..``: predictions follow the rows, and
    the learner (River's own store included) goes on learning on the new numbers."""
    model, twin = vectors(kind), vectors(kind)
    for m in (model, twin):
        m.learn_one(2, 1, 0.9)
        m.learn_one(4, 3, 0.4)
    before = all_predictions(model)
    live_users, live_items = np.array([2, 4]), np.array([1, 3])
    model.take_user_rows(live_users, 8)
    model.take_item_rows(live_items, 8)
    assert model.users.shape[0] == model.items.shape[0] == 8
    np.testing.assert_array_equal(all_predictions(model)[:2, :2],
                                  before[np.ix_(live_users, live_items)])
    assert list(model.user_updates[:3]) == [1, 1, 0]
    model.learn_one(0, 0, 0.5)  # user row 2 and item row 1 of before, renumbered
    twin.learn_one(2, 1, 0.5)
    assert model.predict_one(0, 0) == pytest.approx(twin.predict_one(2, 1), abs=1e-12)


def test_river_adapter_never_lets_river_insert_a_row() -> None:
    """River's ``predict_one`` inserts a random vector for an unseen id: the adapter refuses
    the call instead, and its River store holds exactly the initialised rows."""
    model = vectors("river")
    assert isinstance(model, RiverFunkMF)
    with pytest.raises(KeyError, match="not initialised"):
        model.predict_one(USERS, 0)
    with pytest.raises(KeyError, match="not initialised"):
        model.learn_one(0, ITEMS, 1.0)
    assert sorted(model.river.u_latents) == list(range(USERS))
    assert sorted(model.river.i_latents) == list(range(ITEMS))


# -- propensity learners -----------------------------------------------------------------

Example = tuple[list[float], bool, float]


def _finite(example: Example) -> bool:
    values, _, w = example
    return all(map(math.isfinite, values)) and math.isfinite(w)


def _learners() -> list[Callable[[], RiverLogisticRegression]]:
    return [lambda: RiverLogisticRegression(NAMES, 0.05, 1e-3, initial=PRIORS)]


@pytest.mark.parametrize("make", _learners(), ids=["river"])
@PROPERTY
@given(stream=examples)
def test_non_finite_examples_leave_the_weights_as_if_never_seen(
    make: Callable[[], RiverLogisticRegression], stream: list[Example]
) -> None:
    faulty, clean = make(), make()
    for example in stream:
        values, y, w = example
        faulty.learn_values(values, y, w)
        if _finite(example):
            clean.learn_values(values, y, w)
    (coef, bias), (clean_coef, clean_bias) = faulty.weights(), clean.weights()
    np.testing.assert_array_equal(coef, clean_coef)
    assert bias == clean_bias and math.isfinite(bias) and np.isfinite(coef).all()
    assert faulty.refused == sum(not _finite(e) for e in stream)


@pytest.mark.parametrize("make", _learners(), ids=["river"])
def test_a_weight_that_would_overflow_is_refused(
    make: Callable[[], RiverLogisticRegression],
) -> None:
    """Finite but huge inputs whose step overflows: lr · clamp(g·w) · x is past float range."""
    model = make()
    before = model.weights()
    model.learn_values([1e308, 0.0, 0.0, 0.0, 0.0, 0.0], False, 1e12)
    model.learn_values([1e300] * len(NAMES), False, 1e15)
    assert model.refused == 2
    np.testing.assert_array_equal(model.weights()[0], before[0])
    assert model.weights()[1] == before[1]


@pytest.mark.parametrize("make", _learners(), ids=["river"])
def test_propensity_semantics(make: Callable[[], RiverLogisticRegression]) -> None:
    """``predict_one`` on a dict equals ``predict_values`` on the values and the sigmoid of
    the linear weights; it changes nothing; learning a positive raises the prediction."""
    model = make()
    assert model.names == NAMES
    values = [0.3, -1.0, 2.0, 0.0, 1.5, -0.2]
    x = dict(zip(NAMES, values, strict=True))
    p = model.predict_one(x)
    assert p == model.predict_values(values)
    coef, bias = model.weights()
    assert p == pytest.approx(1 / (1 + math.exp(-(float(np.dot(coef, values)) + bias))))
    assert model.weights()[0].tolist() == coef.tolist()
    assert coef.tolist() == [PRIORS.get(name, 0.0) for name in NAMES]
    model.learn_one(x, True, 2.0)
    assert model.predict_one(x) > p
    with pytest.raises(KeyError, match="exactly the features"):
        model.learn_one({"f0": 1.0}, True)


# -- choice learners ----------------------------------------------------------------------

showcases = st.lists(
    st.tuples(
        st.lists(st.lists(st.one_of(st.floats(-3.0, 3.0), st.sampled_from(BAD)),
                          min_size=len(NAMES), max_size=len(NAMES)), min_size=2, max_size=6),
        st.integers(0, 5),
    ),
    max_size=30,
)


@pytest.mark.parametrize(("kind", "precision"), [(kind, 0.0) for kind in LEARNERS]
                         + [("fast", 3.0)], ids=[*LEARNERS, "fast-newton"])
@PROPERTY
@given(stream=showcases)
def test_choice_learners_refuse_non_finite_showcases(
    kind: str, precision: float, stream: list[tuple[list[list[float]], int]]
) -> None:
    """Every kind: a showcase with a non-finite feature changes nothing; the rest learn."""
    faulty = choice_learner(kind, NAMES[:2], NAMES[2:], 0.05, PRIORS, precision)
    clean = choice_learner(kind, NAMES[:2], NAMES[2:], 0.05, PRIORS, precision)
    for rows, chosen in stream:
        x = np.array(rows)
        chosen %= len(rows)
        faulty.learn_matrix(x, chosen)
        if np.isfinite(x).all():
            clean.learn_matrix(x, chosen)
    np.testing.assert_array_equal(faulty.weights, clean.weights)
    assert np.isfinite(faulty.weights).all()
    attention, propensity = faulty.parts(np.zeros((3, len(NAMES))))
    assert attention.sum() == pytest.approx(1.0) and ((propensity > 0) & (propensity < 1)).all()


def test_pointwise_choice_is_rivers_logistic_regression() -> None:
    """The River peer gives the weights River's own ``LogisticRegression`` reaches on the same
    pointwise examples (each item on show: chosen or not)."""
    from river import linear_model

    peer = PointwiseChoice(NAMES[:2], NAMES[2:], lr=0.05)
    river = linear_model.LogisticRegression(optimizer=optim.SGD(0.05), l2=0.0,
                                            intercept_lr=0.01)
    feed_same_choices(peer, river, NAMES, 100)
    expected = [river.weights.get(name, 0.0) for name in NAMES] + [river.intercept]
    np.testing.assert_allclose(peer.weights, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "optimizer",
    [optim.Adam(0.01), optim.AdaGrad(0.05), optim.RMSProp(0.01)],
    ids=lambda o: type(o).__name__,
)
def test_river_adapters_run_any_optim_optimizer(optimizer: optim.base.Optimizer) -> None:
    """With a stateful optimizer the mirror still equals River's vectors, ``weights()``
    still gives ``predict_values``, and non-finite input is refused before River sees it."""
    mf = RiverFunkMF(D, seed=1, optimizer=optimizer.clone())
    lr = RiverLogisticRegression(NAMES, optimizer=optimizer.clone(), initial=PRIORS)
    for row in range(3):
        mf.init_user(row)
        mf.init_item(row)
    rng = np.random.default_rng(2)
    for k in range(300):
        mf.learn_one(k % 3, (k // 3) % 3, float(rng.random()))
        lr.learn_values(rng.normal(0, 1, len(NAMES)).tolist(), bool(k % 2))
    for row in range(3):
        np.testing.assert_array_equal(mf.users[row], mf.river.u_latents[row])
        np.testing.assert_array_equal(mf.items[row], mf.river.i_latents[row])
    values = rng.normal(0, 1, len(NAMES)).tolist()
    coef, bias = lr.weights()
    assert lr.predict_values(values) == pytest.approx(
        1 / (1 + math.exp(-(float(np.dot(coef, values)) + bias)))
    )
    before = (mf.users.copy(), coef.copy())
    mf.learn_one(0, 0, math.nan)
    lr.learn_values([math.inf, *values[1:]], True)
    np.testing.assert_array_equal(mf.users, before[0])
    np.testing.assert_array_equal(lr.weights()[0], before[1])
    assert mf.refused == lr.refused == 1


def test_scaled_pipeline_folds_into_linear_weights() -> None:
    """``StandardScaler() | LogisticRegression``: ``weights()`` (the scaler folded in) gives
    what the pipeline predicts, so a room can be ranked from them; refusals undo the scaler."""
    model = RiverLogisticRegression(NAMES, lr=0.05, initial=PRIORS, scale=True)
    assert type(model.river).__name__ == "Pipeline"
    rng = np.random.default_rng(5)
    shift = rng.normal(0, 5, len(NAMES))
    for k in range(300):
        values = (rng.normal(0, 2, len(NAMES)) + shift).tolist()
        values[2] = 1.0  # a constant feature: zero variance, no weight
        if k % 50 == 0:
            coef, bias = model.weights()
            assert model.predict_values(values) == pytest.approx(
                1 / (1 + math.exp(-(float(np.dot(coef, values)) + bias))), rel=1e-9
            )
        model.learn_values(values, bool(rng.random() < 0.3))
    assert model.weights()[0][2] == 0.0
    state = (model.weights(), dict(model.scaler.means))  # type: ignore[union-attr]
    model.learn_values([1e300] * len(NAMES), False, 1e15)  # finite input, overflowing step
    assert model.refused == 1
    np.testing.assert_array_equal(model.weights()[0], state[0][0])
    assert dict(model.scaler.means) == state[1]  # type: ignore[union-attr]
