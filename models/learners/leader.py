"""A room's choice model as the leader of several: whichever would have pushed more of the
room's choices so far.

No one learner suits every world. Steps that keep a room near its starting weights
(``ListwiseSoftmax``) win where those weights are about right; Newton steps
(``NewtonSoftmax``) win where they are far off, and lose a little elsewhere to their
noise (docs/evaluation.md, "Worlds from another simulator"). A room need not guess which
world it is in: every model learns from every choice, each is scored before it learns
(test-then-learn) by whether the chosen item was in its top ``k``, the push's own measure,
and the room ranks with the one with the most such hits, weighted as the choices are. Ties
go to the first (the conservative one), so a room ranks as the first model until another
has shown it does better on this room's choices.

The ranking reads ``weights``: the leader's. The snapshot keeps every model and the hits.

>>> import numpy as np
>>> from models.learners.newton import NewtonSoftmax
>>> start = {"t": -1.0}  # the starting weights are wrong: the chosen item looks the worst
>>> models = (ListwiseSoftmax(("t",), ("p",), initial=start),
...           NewtonSoftmax(("t",), ("p",), initial=start))
>>> room = Leader(models, k=1)
>>> showcase = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
>>> for _ in range(8): _ = room.learn_matrix(showcase, 0)
>>> room.leader, room.hits.tolist(), bool((room.weights == models[1].weights).all())
(1, [0.0, 3.0], True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.learners.listwise import ListwiseSoftmax


class Leader:
    def __init__(self, models: Sequence[ListwiseSoftmax], k: int) -> None:
        if not models or k < 1:
            raise ValueError("a leader needs at least one model and k >= 1")
        names = {m.names for m in models}
        if len(names) != 1:
            raise ValueError(f"the models learn different features: {sorted(names)}")
        self.models = tuple(models)
        self.k = k
        self.hits = np.zeros(len(self.models))
        self.leader = 0
        first = self.models[0]
        self.taste, self.power, self.names = first.taste, first.power, first.names
        self.n_taste = first.n_taste

    # -- what the room ranks with: the leader's ---------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        return self.models[self.leader].weights

    @weights.setter
    def weights(self, values: np.ndarray) -> None:
        self.models[self.leader].weights = values

    @property
    def prior(self) -> np.ndarray:
        return self.models[0].prior

    @property
    def learned(self) -> int:
        return self.models[0].learned

    @learned.setter
    def learned(self, value: int) -> None:
        for model in self.models:
            model.learned = value

    @property
    def refused(self) -> int:
        return self.models[0].refused

    @refused.setter
    def refused(self, value: int) -> None:
        for model in self.models:
            model.refused = value

    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        return self.models[self.leader].parts(x, temperature)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return self.models[self.leader].probabilities(x)

    def start_from(self, weights: Sequence[float], off: frozenset[str] = frozenset()) -> None:
        for model in self.models:
            model.start_from(weights, off)

    # -- learning: every model, each scored before it learns ---------------------------------
    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        """Every model learns the choice; returns the leader's probabilities before it."""
        before = [model.learn_matrix(x, chosen, weight) for model in self.models]
        if before[0] is None:  # too few items, or refused: the same for every model
            return None
        for n, p in enumerate(before):
            if p is not None and int((p > p[chosen]).sum()) < self.k:
                self.hits[n] += weight
        out = before[self.leader]
        self.leader = int(np.argmax(self.hits))  # the first of the best: ties stay early
        return out


def listwise_ranker(model: object) -> ListwiseSoftmax | None:
    """The listwise model a room ranks with (the model, or a leader's current leader), which
    the fast scorer reads the weights of; None for another kind (River's pointwise peers,
    scored through ``parts``)."""
    if isinstance(model, Leader):
        return model.models[model.leader]
    return model if isinstance(model, ListwiseSoftmax) else None
