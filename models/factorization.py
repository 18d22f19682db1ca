"""Online matrix factorisation (River's ``FunkMF`` update) over numpy rows.

River keeps latent vectors in dicts of arrays; a room ranks all its viewers at once, so here
user and item vectors are rows of two matrices. The update is River's, term for term:
``g = clamp(2(⟨u,i⟩ − y))``, ``u −= lr(g·i + l2·u)``, ``i −= lr(g·u_old + l2·i)``, so the
vectors equal River's for the same events (``tests/unit/test_factorization.py``).
New rows are drawn from N(0, σ) by a generator owned by the model: the draw order is the
room's event order, which is the same on every replay.
"""

from __future__ import annotations

import numpy as np

from features.ids import unit_hash
from features.rows import RowIndex, grow


class RowFunkMF:
    """FunkMF on integer rows; ``user_updates``/``item_updates`` mark cold rows."""

    def __init__(
        self,
        n_factors: int = 32,
        lr: float = 0.05,
        l2: float = 0.0,
        sigma: float = 0.1,
        seed: int = 0,
        clip_gradient: float = 1e12,
    ) -> None:
        self.n_factors = n_factors
        self.lr = lr
        self.l2 = l2
        self.sigma = sigma
        self.clip = clip_gradient
        self.rng = np.random.default_rng(seed)
        self.users = np.zeros((0, n_factors), dtype=np.float64)
        self.items = np.zeros((0, n_factors), dtype=np.float64)
        self.user_updates = np.zeros(0, dtype=np.int32)
        self.item_updates = np.zeros(0, dtype=np.int32)

    def reserve(self, user_rows: int, item_rows: int) -> None:
        if user_rows > len(self.users):
            cap = max(8, 2 * len(self.users), user_rows)
            self.users = grow(self.users, cap)
            self.user_updates = grow(self.user_updates, cap)
        if item_rows > len(self.items):
            cap = max(8, 2 * len(self.items), item_rows)
            self.items = grow(self.items, cap)
            self.item_updates = grow(self.item_updates, cap)

    def init_user(self, row: int) -> None:
        self.reserve(row + 1, 0)
        self.users[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.user_updates[row] = 0

    def init_item(self, row: int) -> None:
        self.reserve(0, row + 1)
        self.items[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.item_updates[row] = 0

    def predict(self, user: int, item: int) -> float:
        return float(self.users[user] @ self.items[item])

    def learn(self, user: int, item: int, y: float) -> None:
        """One SGD step on the squared error of ``⟨u, i⟩`` against ``y``."""
        u = self.users[user]
        i = self.items[item]
        g = 2.0 * (float(u @ i) - y)
        g = min(max(g, -self.clip), self.clip)
        if self.l2:
            grad_u = g * i + self.l2 * u
            grad_i = g * u + self.l2 * i
            u -= self.lr * grad_u
            i -= self.lr * grad_i
        else:  # the same step in three array operations (equal to River's to rounding)
            step = self.lr * g
            old_u = step * u
            u -= step * i
            i -= old_u
        self.user_updates[user] += 1
        self.item_updates[item] += 1


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
        self.model.learn(
            self._row(self.user_rows, user, True), self._row(self.item_rows, item, False), y
        )

    def predict_one(self, user: str, item: str) -> float:
        u, i = self.user_rows.get(user), self.item_rows.get(item)
        if u is None or i is None:
            return 0.0
        return self.model.predict(u, i)

    def user_vector(self, user: str) -> np.ndarray:
        row = self.user_rows.get(user)
        assert row is not None, user
        return self.model.users[row]

    def item_vector(self, item: str) -> np.ndarray:
        row = self.item_rows.get(item)
        assert row is not None, item
        return self.model.items[row]


def room_seed(room_id: str) -> int:
    """Per-room generator seed: stable across processes (unlike ``hash``)."""
    return int(unit_hash("room-seed", room_id) * 2**63)

