"""Online matrix factorisation (River's ``FunkMF`` update) over numpy rows.

River keeps latent vectors in dicts of arrays; a room ranks all its viewers at once, so here
user and item vectors are rows of two matrices. The update is River's, term for term:
``g = clamp(2(⟨u,i⟩ − y))``, ``u −= lr(g·i + l2·u)``, ``i −= lr(g·u_old + l2·i)``, so the
vectors equal River's for the same events (``tests/models/learners/test_factorization.py``).
New rows are drawn from N(0, σ) by a generator owned by the model: the draw order is the
room's event order, which is the same on every replay. ``learn_many`` applies a run of
updates at once, in waves of updates that share no row, with the same result as ``learn_one``
one update at a time. ``RowFunkMF`` is the fast ``VectorLearner`` (``models.learners.protocols``);
``models.learners.river_adapters.RiverFunkMF`` runs River's own ``reco.FunkMF`` instead.

A non-finite update (a NaN or infinite target, or a step whose result would not be finite) is
refused: the rows are left as they were and ``refused`` counts it. River itself would write
NaN into both vectors, and every later prediction of the room would be NaN.

``max_norm`` (0: none, River's) keeps every row within that length after its step. Plain SGD
on ⟨u, i⟩ overshoots its target once lr·(|u|² + |i|²) passes 1, and then each step throws the
product further: a few accounts acting in waves on made-up items grew a room's vectors from 4
to 1e115 in minutes, every value finite, and every push of the room became noise
(docs/evaluation.md, "Vectors that grow without bound"). ``stable_norm(lr)`` is the length at
which no step can overshoot; the room uses it. Within it, the step is River's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from features.state.rows import grow, no_rows, take_rows
from models.learners.protocols import Updates


class _Rows(Protocol):
    users: np.ndarray
    items: np.ndarray
    user_updates: np.ndarray
    item_updates: np.ndarray


def reserve_rows(learner: _Rows, user_rows: int, item_rows: int) -> None:
    """Grow a vector learner's row matrices and counts by doubling (new rows zero), from one
    row: a room's first viewer costs one vector, not eight."""
    if user_rows > len(learner.users):
        cap = max(2 * len(learner.users), user_rows)
        learner.users = grow(learner.users, cap)
        learner.user_updates = grow(learner.user_updates, cap)
    if item_rows > len(learner.items):
        cap = max(2 * len(learner.items), item_rows)
        learner.items = grow(learner.items, cap)
        learner.item_updates = grow(learner.item_updates, cap)


def take_learner_rows(learner: _Rows, side: str, live: np.ndarray, capacity: int) -> None:
    """A room renumbered its viewers (``side`` "user") or items ("item"): the vectors and
    counts of that side follow the rows kept."""
    vectors, counts = ("users", "user_updates") if side == "user" else ("items", "item_updates")
    setattr(learner, vectors, take_rows(getattr(learner, vectors), live, capacity))
    setattr(learner, counts, take_rows(getattr(learner, counts), live, capacity))


def stable_norm(lr: float) -> float:
    """The row length within which one SGD step of rate ``lr`` cannot overshoot its target:
    the product's error is multiplied by about 1 − 2lr(|u|² + |i|²), which stays within ±1
    while both rows are at most 1/√(2lr) long.

    >>> round(stable_norm(0.05), 3)
    3.162
    """
    return 1.0 / math.sqrt(2.0 * lr) if lr > 0 else 0.0


def within(vector: np.ndarray, max_norm: float) -> np.ndarray:
    """``vector`` shortened to ``max_norm`` if it is longer (in place), else as it is."""
    if max_norm:
        square = float(vector.dot(vector))
        if square > max_norm * max_norm:
            vector *= max_norm / math.sqrt(square)
    return vector


def rows_within(rows: np.ndarray, max_norm: float) -> None:
    """``within`` for every row of ``rows``, in place."""
    if max_norm and len(rows):
        square = np.vecdot(rows, rows)
        over = square > max_norm * max_norm
        if over.any():
            rows[over] *= (max_norm / np.sqrt(square[over]))[:, None]


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
        max_norm: float = 0.0,
    ) -> None:
        self.n_factors = n_factors
        self.lr = lr
        self.l2 = l2
        self.sigma = sigma
        self.clip = clip_gradient
        self.max_norm = max_norm
        self.rng = np.random.default_rng(seed)
        self.users = no_rows(np.float64, n_factors)
        self.items = no_rows(np.float64, n_factors)
        self.user_updates = no_rows(np.int32)
        self.item_updates = no_rows(np.int32)
        self.refused = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Snapshots written before ``refused`` or ``max_norm`` existed restore with a zero
        count and no bound."""
        state.setdefault("refused", 0)
        state.setdefault("max_norm", 0.0)
        self.__dict__.update(state)

    def reserve(self, user_rows: int, item_rows: int) -> None:
        reserve_rows(self, user_rows, item_rows)

    def init_user(self, row: int) -> None:
        self.reserve(row + 1, 0)
        self.users[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.user_updates[row] = 0

    def init_item(self, row: int) -> None:
        self.reserve(0, row + 1)
        self.items[row] = self.rng.normal(0.0, self.sigma, self.n_factors)
        self.item_updates[row] = 0

    def take_user_rows(self, live: np.ndarray, capacity: int) -> None:
        take_learner_rows(self, "user", live, capacity)

    def take_item_rows(self, live: np.ndarray, capacity: int) -> None:
        take_learner_rows(self, "item", live, capacity)

    def rows_replaced(self) -> None:
        """The matrices are this learner's only store; rows restored from a release without
        the bound are brought within it."""
        rows_within(self.users, self.max_norm)
        rows_within(self.items, self.max_norm)

    def predict_one(self, user: int, item: int) -> float:
        return float(self.users[user] @ self.items[item])

    def learn_one(self, user: int, item: int, y: float) -> None:
        """One SGD step on the squared error of ``⟨u, i⟩`` against ``y``.

        The new vectors are computed beside the old ones and written back only if their
        product is finite (a NaN or ±inf anywhere in either vector makes it so): one more
        dot product than River's step, and a refused update leaves the rows untouched.
        """
        if not math.isfinite(y):
            self.refused += 1
            return
        u = self.users[user]
        i = self.items[item]
        g = 2.0 * (float(np.dot(u, i)) - y)
        if g > self.clip:  # River's clamp; comparisons, not min/max calls (hot path)
            g = self.clip
        elif g < -self.clip:
            g = -self.clip
        if self.l2:
            new_u = u - self.lr * (g * i + self.l2 * u)
            new_i = i - self.lr * (g * u + self.l2 * i)
        else:  # the same step in four array operations (equal to River's to rounding)
            step = self.lr * g
            new_u = u - i * step
            new_i = i - u * step
        if not math.isfinite(new_u.dot(new_i)):
            self.refused += 1
            return
        if self.max_norm:
            within(new_u, self.max_norm)
            within(new_i, self.max_norm)
        np.copyto(u, new_u)
        np.copyto(i, new_i)
        self.user_updates[user] += 1
        self.item_updates[item] += 1

    # The names the job used before the Protocols (the benchmark's and tests' spelling).
    learn = learn_one
    predict = predict_one

    def learn_many(self, users: Updates, items: Updates, ys: Updates) -> None:
        """``learn_one(users[k], items[k], ys[k])`` for k = 0, 1, … in order, in waves.

        Update k goes to wave 1 + max(wave of the last earlier update of its user row, wave of
        the last earlier update of its item row): no two updates of a wave share a row, so a
        wave is ``learn``'s arithmetic on all its rows at once, and the waves run in order.
        Each element goes through the same floating-point operations as in ``learn``; only
        the dot products come from ``np.vecdot`` instead of ``@`` (equal to rounding, bit for
        bit on the bench's machine), so the vectors and counts equal those of the ``learn``
        calls (``tests/models/learners/test_factorization.py``). Rows must exist, as for ``learn``.
        Batches too small or too sequential to pay for the setup loop ``learn``.

        >>> a, b = RowFunkMF(n_factors=4, seed=1), RowFunkMF(n_factors=4, seed=1)
        >>> for model in (a, b):
        ...     for row in range(50):
        ...         model.init_user(row)
        ...     for row in range(20):
        ...         model.init_item(row)
        >>> rng = np.random.default_rng(0)
        >>> users, items, ys = rng.integers(0, 50, 300), rng.integers(0, 20, 300), rng.random(300)
        >>> a.learn_many(users, items, ys)
        >>> for u, i, y in zip(users.tolist(), items.tolist(), ys.tolist()):
        ...     b.learn(u, i, y)
        >>> np.testing.assert_allclose(a.users, b.users, rtol=1e-12, atol=1e-15)
        >>> np.testing.assert_allclose(a.items, b.items, rtol=1e-12, atol=1e-15)
        >>> int(a.user_updates.sum()), bool(np.array_equal(a.item_updates, b.item_updates))
        (300, True)
        """
        n = len(ys)
        if not len(users) == len(items) == n:
            raise ValueError(f"lengths differ: {len(users)} users, {len(items)} items, {n} ys")
        if n <= FIXED_COST + WAVE_COST:  # even one wave would not pay for the setup
            self._learn_loop(users, items, ys)  # (no arrays made: most batches end here)
            return
        users = np.asarray(users, dtype=np.intp).reshape(-1)
        items = np.asarray(items, dtype=np.intp).reshape(-1)
        ys = np.asarray(ys, dtype=np.float64).reshape(-1)
        if not np.isfinite(ys).all():  # rare: the loop refuses and counts them one by one
            self._learn_loop(users, items, ys)
            return
        # There are at least as many waves as updates of the busiest row: a room's run of
        # heartbeats all train the item on stage, so this often settles it without the waves.
        busiest = max(int(np.bincount(users).max()), int(np.bincount(items).max()))
        if n <= FIXED_COST + WAVE_COST * busiest:
            self._learn_loop(users, items, ys)
            return
        # Work on a compact copy: the batch's user rows, then its item rows, in one matrix.
        user_rows, user_k = _compact(users, len(self.users))
        item_rows, item_k = _compact(items, len(self.items))
        wave = _waves(user_k.tolist(), item_k.tolist(), len(user_rows), len(item_rows))
        sizes = np.bincount(wave)[1:]
        if n <= FIXED_COST + WAVE_COST * len(sizes):  # too few updates per wave to pay
            self._learn_loop(users, items, ys)
            return
        # Wave w is the slice [2·start, 2·end) of ``rows``: its user rows in batch order, then
        # its item rows in reverse order, so that ``x[::-1]`` lines every row up with its
        # partner; ``targets`` holds each row's y at the same place.
        order = np.argsort(wave, kind="stable")
        ends = np.cumsum(sizes)
        starts = ends - sizes
        in_wave = np.arange(n) - np.repeat(starts, sizes)
        user_at = np.repeat(2 * starts, sizes) + in_wave
        item_at = np.repeat(2 * ends - 1, sizes) - in_wave
        rows = np.empty(2 * n, dtype=np.intp)
        rows[user_at] = user_k[order]
        rows[item_at] = item_k[order] + len(user_rows)
        targets = np.empty(2 * n, dtype=np.float64)
        targets[user_at] = targets[item_at] = ys[order]
        bounds = list(zip((2 * starts).tolist(), (2 * ends).tolist(), strict=True))
        work = np.concatenate((self.users[user_rows], self.items[item_rows]))
        with np.errstate(all="ignore"):  # an overflow here means a clamp was due: redone
            residuals = self._apply_waves(work, rows, targets, bounds, clip=False)
        if not np.abs(residuals).max() <= 0.5 * self.clip:  # a clamp was due (or NaN): redo
            work = np.concatenate((self.users[user_rows], self.items[item_rows]))
            self._apply_waves(work, rows, targets, bounds, clip=True)
        if not np.isfinite(work).all():  # some step overflowed: redo step by step, refusing it
            self._learn_loop(users, items, ys)
            return
        self.users[user_rows] = work[: len(user_rows)]
        self.items[item_rows] = work[len(user_rows) :]
        self.user_updates[user_rows] += np.bincount(user_k).astype(np.int32)
        self.item_updates[item_rows] += np.bincount(item_k).astype(np.int32)

    def _apply_waves(
        self,
        work: np.ndarray,
        rows: np.ndarray,
        targets: np.ndarray,
        bounds: list[tuple[int, int]],
        clip: bool,
    ) -> np.ndarray:
        """Apply the waves (``rows[a:b]`` for each (a, b) of ``bounds``) to ``work`` in place.

        Returns every row's residual ⟨u, i⟩ − y before its step, unclamped: without ``clip``
        the step skips the clamp, which is exact iff no |residual| exceeds clip / 2.
        """
        vecdot, subtract, multiply = np.vecdot, np.subtract, np.multiply
        lr, l2 = np.array(self.lr), np.array(self.l2)  # 0-d arrays: the cheapest operands
        two, two_lr = np.array(2.0), np.array(2.0 * self.lr)
        high = np.array(0.5 * self.clip)
        low = -high
        residuals = np.empty_like(targets)
        take = work.take
        for a, b in bounds:
            idx = rows[a:b]
            x = take(idx, axis=0)
            partner = x[::-1]
            # ⟨u, i⟩ − y, twice per update (at its user row and at its item row)
            r = subtract(vecdot(x, partner), targets[a:b], out=residuals[a:b])
            if clip:  # clamp(2r, ±c) == 2·clamp(r, ±c/2) exactly: ×2 is exact
                r = np.minimum(np.maximum(r, low), high)
            if self.l2:  # learn's l2 form: x −= lr(g·partner + l2·x), g = 2r
                grad = partner * multiply(r, two)[:, None]
                grad += multiply(x, l2)
                multiply(grad, lr, out=grad)
            else:  # u −= step·i, i −= step·u_old, step = lr·2r == 2lr·r exactly
                grad = partner * multiply(r, two_lr)[:, None]
            subtract(x, grad, out=x)
            rows_within(x, self.max_norm)
            work[idx] = x
        return residuals

    def _learn_loop(self, users: Updates, items: Updates, ys: Updates) -> None:
        learn = self.learn_one
        for u, i, y in zip(_plain(users), _plain(items), _plain(ys), strict=True):
            learn(u, i, y)


# learn_many's cost in ``learn`` calls (measured, d = 32): a batch of n updates in W waves is
# vectorised iff n > FIXED_COST + WAVE_COST·W, else it loops ``learn``. So batches of up to 21
# updates always loop, and larger ones once their waves average ≲ 2 updates (≈ 1.6 when long).
FIXED_COST = 20.0
WAVE_COST = 1.6


def _plain(values: Updates) -> Sequence[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else values


def update_waves(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The wave (1, 2, …) ``learn_many`` gives each update of a batch.

    >>> update_waves(np.array([0, 1, 0, 2, 1]), np.array([0, 0, 1, 2, 1])).tolist()
    [1, 2, 2, 1, 3]
    """
    user_rows, user_k = np.unique(np.asarray(users), return_inverse=True)
    item_rows, item_k = np.unique(np.asarray(items), return_inverse=True)
    return _waves(user_k.ravel().tolist(), item_k.ravel().tolist(), len(user_rows), len(item_rows))


def _compact(rows: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows (ascending) and each entry's index among them."""
    if capacity > 4 * len(rows):
        distinct, index = np.unique(rows, return_inverse=True)
        return distinct, index.reshape(-1)
    used = np.zeros(capacity, dtype=bool)
    used[rows] = True
    return np.flatnonzero(used), (np.cumsum(used) - 1)[rows]


def _waves(users: list[int], items: list[int], n_users: int, n_items: int) -> np.ndarray:
    """Wave (1, 2, …) of each update: 1 + the later of the waves of its user row's and its
    item row's previous updates (rows compact: 0 ≤ row < n_users, n_items)."""
    user_wave = [0] * n_users
    item_wave = [0] * n_items
    out: list[int] = []
    append = out.append
    for u, i in zip(users, items, strict=True):
        w = user_wave[u]
        v = item_wave[i]
        if v > w:
            w = v
        w += 1
        user_wave[u] = item_wave[i] = w
        append(w)
    return np.array(out, dtype=np.intp)
