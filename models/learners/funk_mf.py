"""River's ``reco.FunkMF`` interface (``learn_one``/``predict_one`` on string ids) over the
row learner ``models.learners.factorization.RowFunkMF``: what a user of River would call, and
what the benchmark times against River itself (``facade_learn_eps``). The job's rooms use
``RowFunkMF`` directly, with rows of their own.
"""

from __future__ import annotations

import numpy as np

from features.state.rows import RowIndex
from models.learners.factorization import RowFunkMF


class FunkMF:
    """River-compatible facade (``learn_one``/``predict_one`` on ids) over ``RowFunkMF``.

    Unlike River, ``predict_one`` on an unseen id does not insert it.

    >>> model = FunkMF(n_factors=4, seed=1)
    >>> model.learn_one("u-1", "sku-1", 1.0)
    >>> before = model.predict_one("u-1", "sku-1")
    >>> model.learn_one("u-1", "sku-1", 1.0)
    >>> model.predict_one("u-1", "sku-1") > before
    True
    >>> model.predict_one("u-404", "sku-1")
    0.0
    """

    def __init__(
        self,
        n_factors: int = 32,
        lr: float = 0.05,
        l2: float = 0.0,
        sigma: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.model = RowFunkMF(n_factors, lr, l2, sigma, seed)
        self.user_rows = RowIndex()
        self.item_rows = RowIndex()

    def _row(self, rows: RowIndex, key: str, user: bool) -> int:
        row = rows.get(key)
        if row is None:
            row = rows.add(key)
            (self.model.init_user if user else self.model.init_item)(row)
        return row

    def learn_one(self, user: str, item: str, y: float) -> None:
        self.model.learn_one(
            self._row(self.user_rows, user, True), self._row(self.item_rows, item, False), y
        )

    def learn_many(self, users: list[str], items: list[str], ys: list[float]) -> None:
        """``learn_one`` for each (users[k], items[k], ys[k]) in order, in one
        ``RowFunkMF.learn_many``: new ids get their rows (and draws) in the same order."""
        rows = [
            (self._row(self.user_rows, user, True), self._row(self.item_rows, item, False))
            for user, item in zip(users, items, strict=True)
        ]
        self.model.learn_many(
            np.array([u for u, _ in rows], dtype=np.intp),
            np.array([i for _, i in rows], dtype=np.intp),
            np.asarray(ys, dtype=np.float64),
        )

    def predict_one(self, user: str, item: str) -> float:
        u, i = self.user_rows.get(user), self.item_rows.get(item)
        if u is None or i is None:
            return 0.0
        return self.model.predict_one(u, i)

    def user_vector(self, user: str) -> np.ndarray:
        row = self.user_rows.get(user)
        assert row is not None, user
        return self.model.users[row]

    def item_vector(self, item: str) -> np.ndarray:
        row = self.item_rows.get(item)
        assert row is not None, item
        return self.model.items[row]

