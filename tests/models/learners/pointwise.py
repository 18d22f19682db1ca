"""The same random choices, fed to a pointwise River peer and to River's own estimator."""

from __future__ import annotations

from typing import Any

import numpy as np


def feed_same_choices(peer: Any, river: Any, names: tuple[str, ...], n: int) -> None:
    """``n`` showcases of 4 items: the peer learns each choice, River each item on show
    (chosen or not), as the peer's docstring says it does."""
    rng = np.random.default_rng(5)
    for _ in range(n):
        x = rng.normal(0, 1, (4, len(names)))
        chosen = int(rng.integers(4))
        peer.learn_matrix(x, chosen)
        for j, values in enumerate(x.tolist()):
            river.learn_one(dict(zip(names, values, strict=True)), j == chosen)
