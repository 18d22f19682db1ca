"""River's own estimators behind the room's learner Protocols (``--learner river``).

The fast learners re-write River's update rules on numpy rows; these run River itself, so a
River user can check the job against the library, or swap in another ``optim`` optimizer,
at a cost (River's per-example dict machinery; ``README.md`` gives the measured speed).

* ``RiverFunkMF``: ``reco.FunkMF`` keyed by the room's integer rows. River keeps each vector
  as a float64 array in a dict; the ranking needs them as the rows of one matrix, so the
  adapter keeps a synchronised copy: after each River step, the two updated vectors are
  copied into the matrices (two small copies against River's ~15 µs step). New rows draw
  their starting vector from the adapter's generator, in the same order as ``RowFunkMF``
  does, and River gets a copy: River's own initializer never runs, and ``predict_one``
  checks membership first (River's inserts a random vector for an unseen id).
* ``RiverLogisticRegression``: ``linear_model.LogisticRegression`` with any ``optim``
  optimizer (SGD at the room's learning rate by default, which gives the fast learner's
  weights); the ranking reads ``weights()`` into numpy, as it does for the fast learner.
  With ``scale=True`` it is the pipeline ``preprocessing.StandardScaler() |
  LogisticRegression``: a standardised feature is still linear in the raw one, so
  ``weights()`` folds the scaler's current means and deviations into the coefficients and
  intercept, and the ranking stays exact. (A pipeline whose steps are not linear could not be
  scored a room at a time from weights, so none other is offered.)

Both refuse non-finite updates like the fast learners: the inputs are checked before River
sees them, and a step whose result is not finite is undone (the vectors or weights and the
intercept are restored; a stateful optimizer's own moments are not).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from river import compose, linear_model, optim, preprocessing, reco

from models.learners.factorization import reserve_rows, rows_within, take_learner_rows, within
from models.learners.protocols import Updates


def _plain(values: Updates) -> Sequence[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else values


class RiverFunkMF:
    """``reco.FunkMF`` on rows, with the vectors mirrored in ``users``/``items`` matrices.

    >>> model = RiverFunkMF(n_factors=4, seed=1)
    >>> model.init_user(0); model.init_item(0)
    >>> before = model.predict_one(0, 0)
    >>> model.learn_one(0, 0, 1.0)
    >>> model.predict_one(0, 0) > before, bool((model.users[0] == model.river.u_latents[0]).all())
    (True, True)
    """

    def __init__(
        self,
        n_factors: int = 32,
        lr: float = 0.05,
        l2: float = 0.0,
        sigma: float = 0.1,
        seed: int = 0,
        clip_gradient: float = 1e12,
        optimizer: optim.base.Optimizer | None = None,
        max_norm: float = 0.0,
    ) -> None:
        self.n_factors = n_factors
        self.sigma = sigma
        self.max_norm = max_norm  # River's step, then the row kept within it (RowFunkMF's)
        self.rng = np.random.default_rng(seed)
        self.river = reco.FunkMF(
            n_factors=n_factors,
            optimizer=optim.SGD(lr) if optimizer is None else optimizer,
            l2=l2,
            initializer=optim.initializers.Zeros(),  # never used: rows are set before use
            clip_gradient=clip_gradient,
        )
        self.users = np.zeros((0, n_factors), dtype=np.float64)
        self.items = np.zeros((0, n_factors), dtype=np.float64)
        self.user_updates = np.zeros(0, dtype=np.int32)
        self.item_updates = np.zeros(0, dtype=np.int32)
        self.refused = 0

    def init_user(self, row: int) -> None:
        reserve_rows(self, row + 1, 0)
        self.users[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.river.u_latents[row] = self.users[row].copy()
        self.user_updates[row] = 0

    def init_item(self, row: int) -> None:
        reserve_rows(self, 0, row + 1)
        self.items[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.river.i_latents[row] = self.items[row].copy()
        self.item_updates[row] = 0

    def take_user_rows(self, live: np.ndarray, capacity: int) -> None:
        take_learner_rows(self, "user", live, capacity)
        self.rows_replaced()

    def take_item_rows(self, live: np.ndarray, capacity: int) -> None:
        take_learner_rows(self, "item", live, capacity)
        self.rows_replaced()

    def rows_replaced(self) -> None:
        """River keys its vectors by row: rebuild its dicts from the mirror matrices."""
        rows_within(self.users, self.max_norm)
        rows_within(self.items, self.max_norm)
        self.river.u_latents.clear()
        self.river.i_latents.clear()
        for row, vector in enumerate(self.users):
            self.river.u_latents[row] = vector.copy()
        for row, vector in enumerate(self.items):
            self.river.i_latents[row] = vector.copy()

    def _known(self, user: int, item: int) -> None:
        if user not in self.river.u_latents or item not in self.river.i_latents:
            raise KeyError(f"rows ({user}, {item}) were not initialised (init_user/init_item)")

    def predict_one(self, user: int, item: int) -> float:
        self._known(user, item)  # River's predict_one would insert a random vector
        return float(self.river.predict_one(user, item))

    def learn_one(self, user: int, item: int, y: float) -> None:
        self._known(user, item)
        if not math.isfinite(y):
            self.refused += 1
            return
        self.river.learn_one(user, item, y)
        u, i = self.river.u_latents[user], self.river.i_latents[item]
        if not math.isfinite(float(np.dot(u, i))):  # NaN or ±inf anywhere in either
            self.river.u_latents[user] = self.users[user].copy()  # the mirror still holds
            self.river.i_latents[item] = self.items[item].copy()  # the vectors before
            self.refused += 1
            return
        self.users[user] = within(u, self.max_norm)  # River's own arrays, shortened in place
        self.items[item] = within(i, self.max_norm)
        self.user_updates[user] += 1
        self.item_updates[item] += 1

    def learn_many(self, users: Updates, items: Updates, ys: Updates) -> None:
        for user, item, y in zip(_plain(users), _plain(items), _plain(ys), strict=True):
            self.learn_one(int(user), int(item), float(y))


class RiverLogisticRegression:
    """``linear_model.LogisticRegression`` over a fixed feature list, starting from priors.

    >>> model = RiverLogisticRegression(("a", "b"), lr=0.1)
    >>> model.predict_one({"a": 1.0, "b": 0.0})
    0.5
    >>> model.learn_one({"a": 1.0, "b": 0.0}, True)
    >>> model.predict_one({"a": 1.0, "b": 0.0}) > 0.5
    True
    """

    def __init__(
        self,
        names: Sequence[str],
        lr: float = 0.01,
        l2: float = 0.0,
        intercept_lr: float = 0.01,
        clip_gradient: float = 1e12,
        initial: Mapping[str, float] | None = None,
        optimizer: optim.base.Optimizer | None = None,
        scale: bool = False,
    ) -> None:
        self._names = tuple(names)
        self.linear = linear_model.LogisticRegression(
            optimizer=optim.SGD(lr) if optimizer is None else optimizer,
            l2=l2,
            intercept_lr=intercept_lr,
            clip_gradient=clip_gradient,
        )
        self.scaler = preprocessing.StandardScaler() if scale else None
        self.river: Any = (
            self.linear if self.scaler is None else compose.Pipeline(self.scaler, self.linear)
        )
        for name, weight in (initial or {}).items():
            # River has no public way to start from given weights: its weight store is the
            # documented place where learned weights live, so priors go there.
            self.linear._weights[name] = float(weight)
        self.refused = 0

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def _example(self, x: Mapping[str, float]) -> dict[str, float]:
        """Examples must be complete: River regularises only the features an example has."""
        if len(x) != len(self._names) or set(x) != set(self._names):
            raise KeyError(f"an example needs exactly the features {self._names}")
        return {name: float(x[name]) for name in self._names}

    def predict_one(self, x: Mapping[str, float]) -> float:
        return float(self.river.predict_proba_one(self._example(x))[True])

    def learn_one(self, x: Mapping[str, float], y: bool, w: float = 1.0) -> None:
        x = self._example(x)
        if not (math.isfinite(w) and all(map(math.isfinite, x.values()))):
            self.refused += 1
            return
        before, intercept = self.linear._weights.to_dict(), self.linear.intercept
        scaler = copy.deepcopy(self.scaler)  # None without scaling
        self.river.learn_one(x, y, w=w)
        after = self.linear._weights.to_dict()
        total = sum(after.values()) + self.linear.intercept
        if self.scaler is not None:  # the scaler's statistics are model state too
            total += sum(self.scaler.means.values()) + sum(self.scaler.vars.values())
        if not math.isfinite(total):
            for name in after:
                self.linear._weights[name] = before.get(name, 0.0)
            self.linear.intercept = intercept
            if scaler is not None and self.scaler is not None:
                self.scaler.counts, self.scaler.means = scaler.counts, scaler.means
                self.scaler.vars = scaler.vars
            self.refused += 1

    def predict_values(self, values: Sequence[float]) -> float:
        return self.predict_one(dict(zip(self._names, values, strict=True)))

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None:
        self.learn_one(dict(zip(self._names, values, strict=True)), y, w)

    def weights(self) -> tuple[np.ndarray, float]:
        """With scaling, c·(x − m)/s summed over the features is (c/s)·x − Σ c·m/s (a feature
        of zero variance is 0 after scaling, so it gets no weight)."""
        learned = self.linear.weights
        coef = np.array([learned.get(name, 0.0) for name in self._names], dtype=np.float64)
        intercept = float(self.linear.intercept)
        if self.scaler is not None:
            means = np.array([self.scaler.means.get(name, 0.0) for name in self._names])
            var = np.array([self.scaler.vars.get(name, 0.0) for name in self._names])
            std = np.sqrt(var, where=var > 0, out=np.ones_like(var))
            coef = np.where(var > 0, coef / std, 0.0)
            intercept -= float(coef @ means)
        return coef, intercept


class _Scorer(Protocol):
    refused: int

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None: ...


class Pointwise:
    """What River's pointwise peers share: each choice teaches every item on show, the chosen
    one as True and the others as False; ``parts`` is the subclass's own."""

    names: tuple[str, ...]
    model: _Scorer
    learned: int

    @property
    def refused(self) -> int:
        return self.model.refused

    @refused.setter
    def refused(self, value: int) -> None:
        self.model.refused = value

    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        x = np.asarray(x, dtype=np.float64)
        if len(x) < 2:
            return None
        if not np.isfinite(x).all() or not math.isfinite(weight):  # all of it, or none
            self.model.refused += 1
            return None
        attention, propensity = self.parts(x)
        p = attention * propensity
        for j, values in enumerate(x.tolist()):
            self.model.learn_values(values, j == chosen, weight)
        self.learned += 1
        total = p.sum()
        if not (math.isfinite(total) and total > 0):  # every propensity saturated at 0
            return np.full(len(p), 1.0 / len(p))
        return p / total


class PointwiseChoice(Pointwise):
    """River's ``LogisticRegression`` on the choice features, pointwise: the River peer of
    ``ListwiseSoftmax`` (``--learner river``). The score is the classifier's probability
    (attention is uniform: a pointwise model has no notion of the showcase as a choice).

    >>> m = PointwiseChoice(("taste",), ("power",), lr=0.5)
    >>> x = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> for _ in range(20): _ = m.learn_matrix(x, 0)
    >>> attention, propensity = m.parts(x)
    >>> attention.tolist(), bool(propensity[0] > propensity[1])
    ([0.5, 0.5], True)
    """

    model: RiverLogisticRegression

    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        initial: Mapping[str, float] | None = None,
    ) -> None:
        self.taste, self.power = tuple(taste), tuple(power)
        self.names = (*self.taste, *self.power)
        self.model = RiverLogisticRegression(self.names, lr=lr, initial=initial)
        self.learned = 0

    @property
    def weights(self) -> np.ndarray:
        """The coefficients, then the intercept (the snapshot stores them so)."""
        coef, intercept = self.model.weights()
        return np.append(coef, intercept)

    @weights.setter
    def weights(self, values: np.ndarray) -> None:
        for name, weight in zip(self.names, values[:-1].tolist(), strict=True):
            self.model.linear._weights[name] = float(weight)
        self.model.linear.intercept = float(values[-1])

    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        coef, intercept = self.model.weights()
        propensity = 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))
        attention = np.full(propensity.shape, 1.0 / max(propensity.shape[-1], 1))
        return attention, propensity
