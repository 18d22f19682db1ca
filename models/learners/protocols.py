"""The two learner interfaces a room learns through, in the shape a River user knows.

A room holds one learner of each kind and never asks which implementation it has:

* a **vector learner** (``VectorLearner``): River's ``reco`` shape, ``learn_one(user, item, y)``
  and ``predict_one(user, item)``, on integer rows that the room hands out (its viewer and
  item row indices), plus what ranking a whole room at once needs: the vectors as the rows of
  two matrices, a per-row update count (0 = cold: the ranking gives such a row a zero vector),
  explicit row (re)initialisation when the room hands a row to a new id, and ``learn_many``
  for a run of updates in order;
* a **choice learner** (``ChoiceLearner``): which item on show a viewer picks, learned from
  each choice with the other items on show as the alternatives (``learn_matrix``), and read
  as every item's attention and propensity (``parts``), for one showcase or a whole room's
  viewers at once; its model is one array (``weights``), what a snapshot stores.

Both refuse a non-finite update (a NaN or infinite target, feature, weight or result): the
model is left as it was and ``refused`` counts it, so one bad number cannot turn a room's
model into NaN for good.

Implementations: the fast ones (``models.learners.factorization.RowFunkMF``, River's update
rule on numpy rows, and ``models.learners.listwise.ListwiseSoftmax``) and adapters that run
River's own estimators (``models.learners.river_adapters``, ``models.learners.river_fm``). The
contract they share is ``tests/models/learners/test_contract.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

# A batch's rows or targets: an array, or the plain lists a room collects them in.
Updates = np.ndarray | Sequence[int] | Sequence[float]


@runtime_checkable
class VectorLearner(Protocol):
    """Online matrix factorisation on rows: ``predict_one(u, i) = ⟨users[u], items[i]⟩``.

    Rows exist once ``init_user``/``init_item`` gave them a fresh vector (and a zero count);
    ``learn_one``/``predict_one`` on a row that was never initialised are errors (unlike River,
    ``predict_one`` never creates a row). The matrices may be longer than the rows in use
    (capacity); rows are reused after a room forgets an id, so ``init_*`` also resets.
    """

    n_factors: int
    users: np.ndarray  # (capacity, n_factors) float64, row r = vector of user row r
    items: np.ndarray  # (capacity, n_factors) float64
    user_updates: np.ndarray  # (capacity,) int32: updates learned per user row; 0 = cold
    item_updates: np.ndarray  # (capacity,) int32

    @property
    def refused(self) -> int:
        """Non-finite updates refused (the model was left unchanged)."""

    def init_user(self, row: int) -> None:
        """Give user ``row`` a fresh starting vector and a zero count."""

    def init_item(self, row: int) -> None:
        """Give item ``row`` a fresh starting vector and a zero count."""

    def take_user_rows(self, live: np.ndarray, capacity: int) -> None:
        """The room renumbered its viewers: keep user rows ``live`` as ``0..`` (and any store
        of the learner's own in line); ``features.state.rows.RowColumns`` for one side."""

    def take_item_rows(self, live: np.ndarray, capacity: int) -> None:
        """The same for the items."""

    def rows_replaced(self) -> None:
        """The room replaced ``users``/``items`` (a restore): bring any store of the
        learner's own in line with them."""

    def predict_one(self, user: int, item: int) -> float:
        """⟨user vector, item vector⟩; no side effect."""

    def learn_one(self, user: int, item: int, y: float) -> None:
        """One step towards ``predict_one(user, item) == y``; counts one update per row."""

    def learn_many(self, users: Updates, items: Updates, ys: Updates) -> None:
        """``learn_one`` for each k in order (the result must equal that of the calls)."""


@runtime_checkable
class ChoiceLearner(Protocol):
    """Which item on show a viewer picks: ``P(j) ∝ attention_j × propensity_j``.

    ``x`` is a showcase as an (items × features) array in ``names`` order (any leading
    shape for ``parts``). ``weights`` is the model as one array, what a snapshot stores.
    """

    names: tuple[str, ...]
    refused: int  # non-finite examples or steps refused (the model was left unchanged)
    learned: int  # choices learned from
    weights: np.ndarray

    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The attention and the propensity of every item; no side effect."""

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        """Learn that item ``chosen`` of showcase ``x`` was picked; return the probability
        of each item before learning (test-then-learn), or None when nothing was learned."""
