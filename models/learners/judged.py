"""The room's choice model, judged by the viewers who were there before: fresh accounts can
teach it, but cannot make the room rank with what they taught.

One viewer, one vote bounds what a single account can do (``features.state.votes``); it
cannot tell twenty fresh accounts from twenty fans, and a few dozen fresh accounts per
showcase outnumber a room's own choices several times over. Taught by them (every cart of an
item other than the one just clicked, every choice of a cold item) the learner ranks worse
for everyone (docs/evaluation.md, "Fresh accounts that teach the room's learner"). Nothing
in one choice says who is honest, and bounding how much fresh accounts may teach costs the
rooms whose audience is mostly new (a third to over half of the choices in the worlds
measured).

So the room learns twice, with the same Newton steps: once from every choice (as before),
once from its *established* viewers' choices only (a viewer who chose something before the
showcase on show began). Each established viewer's choice is scored before it is learned by
whether it was in each learner's top ``top`` (the push's own measure: the room passes its
``--top-k``). The room ranks with the learner taught by everyone unless the regulars' has
more such hits *beyond chance*: of the choices where exactly one of the two hit, it must win
by more than ``Z`` standard deviations of a fair coin's count (a one-sided sign test; a fresh
learner with less data wins half of such coin flips in a clean room, and ranking with it then
would only lose what the newcomers taught). Where the room's newcomers choose like its
regulars, the learner taught by everyone knows more and ranks; where fresh accounts teach it
something the regulars do not do, it misses the regulars' choices one after another.

Standing earned by choosing is cheap: accounts that click once during the showcase before
("sleepers") are established, teach the regulars' learner and judge it, and that learner,
lacking the honest newcomers' choices, is then the more poisoned one. So the switch also
needs the established viewers' *purchases* to lean the regulars' way (``purchase_score``,
the same count over their purchases alone): a purchase is the one action that costs its
maker money, so accounts that only click and cart cannot vote in that half of the judge,
and fresh accounts cannot at all (a fresh account that buys does not stop the switch its
friends earned). The price is a slower switch against fresh accounts in rooms that rarely
sell, and attackers who pay for a purchase per account per showcase get the old judge back
(docs/evaluation.md, "Sleepers, and purchases that must agree"). What the room ranks with
is ``weights`` / ``precision`` (the leader's), which is what the pushes read and a snapshot
stores.

For a snapshot, ``evidence`` gives both learners (the one ranked with last, so that a
release that knows one learner goes on from it), the score, the number of split decisions
and the purchase score, and ``resume`` takes them back. Weights set from outside without
``resume`` (a snapshot that kept only the ranked learner) start both learners from those
weights, judged afresh (``_resumed``).

>>> m = JudgedNewton(("taste",), ("power",), initial={"taste": 0.0}, prior_precision=3.0)
>>> showcase = np.zeros((8, 2)); showcase[0, 0], showcase[7, 0] = 1.0, -1.0
>>> def showcase_with_five_fresh_accounts_and_a_regular() -> None:
...     for _ in range(5): _ = m.learn_choice(showcase, 7, 1.0, established=False)
...     _ = m.learn_choice(showcase, 0, 1.0, established=True)
>>> for _ in range(4): showcase_with_five_fresh_accounts_and_a_regular()
>>> m.leader is m.regulars, m.score, m.split_decisions  # 4 of 4 could be a coin's
(False, -4, 4)
>>> showcase_with_five_fresh_accounts_and_a_regular()
>>> m.leader is m.regulars, m.score, m.split_decisions  # 5 of 5 is not, but nobody bought
(False, -5, 5)
>>> _ = m.learn_choice(showcase, 0, 1.0, established=False, purchase=True)
>>> m.leader is m.regulars, m.purchase_score  # a fresh account's purchase does not judge
(False, 0)
>>> _ = m.learn_choice(showcase, 0, 1.0, established=True, purchase=True)
>>> m.leader is m.regulars, m.purchase_score  # a regular's the regulars' learner foresaw
(True, -1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np

from models.learners.newton import PRIOR_PRECISION, NewtonSoftmax

TOP: Final = 3  # a choice "hits" when in a learner's top 3: the default push's width
Z: Final = 2.0  # the regulars' learner ranks when it leads by > 2 sd of a fair coin's count


def hit(p: np.ndarray, chosen: int, top: int = TOP) -> bool:
    """Whether the chosen item is among the ``top`` most probable (ties in its favour)."""
    return int((p > p[chosen]).sum()) < top


class JudgedNewton(NewtonSoftmax):
    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        initial: Mapping[str, float] | None = None,
        clip: float = 5.0,
        prior_precision: float | Mapping[str, float] = PRIOR_PRECISION,
        top: int = TOP,
    ) -> None:
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        self.top = top

        def learner() -> NewtonSoftmax:
            return NewtonSoftmax(taste, power, lr=lr, initial=initial, clip=clip,
                                 prior_precision=prior_precision)

        self.everyone, self.regulars = learner(), learner()
        super().__init__(taste, power, lr=lr, initial=initial, clip=clip,
                         prior_precision=prior_precision)
        self.score = 0  # established viewers' choices: everyone's hits minus the regulars'
        self.split_decisions = 0  # of those, the ones where exactly one of the two hit
        self.purchase_score = 0  # the same, over the established viewers' purchases only
        self._established = True
        self._purchase = False
        self._rank_with(self.everyone)

    @property
    def leader(self) -> NewtonSoftmax:
        return self.regulars if self._regulars_lead(self.purchase_score) else self.everyone

    def _regulars_lead(self, purchase_score: int) -> bool:
        beyond_chance = self.score < 0 and self.score ** 2 > Z ** 2 * self.split_decisions
        return beyond_chance and purchase_score < 0

    def start_from(self, weights: Sequence[float], off: frozenset[str] = frozenset()) -> None:
        super().start_from(weights, off)
        for model in (self.everyone, self.regulars):
            model.start_from(weights, off)
        self.score = self.split_decisions = self.purchase_score = 0
        self._rank_with(self.everyone)

    def next_choice_by(self, established: bool, purchase: bool = False) -> None:
        """Whether the viewer whose choice ``learn_matrix`` learns next is established, and
        whether the choice is a purchase. The room says so just before, so that
        ``learn_matrix`` stays the one step every learner takes (and the offline replays
        record); a choice nobody said this of counts as an established viewer's click, as the
        Newton learner alone would learn it."""
        self._established, self._purchase = established, purchase

    def learn_choice(self, x: np.ndarray, chosen: int, weight: float, established: bool,
                     purchase: bool = False) -> np.ndarray | None:
        self.next_choice_by(established, purchase)
        return self.learn_matrix(x, chosen, weight)

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        """Score, then learn, one choice; returns the probabilities the room ranked with
        before it (test-then-learn), or None when nothing was learned."""
        established, self._established = self._established, True
        purchase, self._purchase = self._purchase, False
        self._resumed()
        x = np.asarray(x, dtype=np.float64)
        ranked_by_regulars = self.leader is self.regulars
        p_all = self.everyone.learn_matrix(x, chosen, weight)
        self.refused = self.everyone.refused
        if p_all is None:  # refused (not finite): neither learner takes it
            return None
        p_regular = self.regulars.learn_matrix(x, chosen, weight) if established else None
        if p_regular is not None:
            difference = (int(hit(p_all, chosen, self.top))
                          - int(hit(p_regular, chosen, self.top)))
            self.score += difference
            self.split_decisions += abs(difference)
            if purchase:  # it cost its maker money
                self.purchase_score += difference
        if ranked_by_regulars and p_regular is None:
            p_regular = self.regulars.probabilities(x)
        self.learned += 1
        self._rank_with(self.leader)
        return p_regular if ranked_by_regulars else p_all

    @property
    def split(self) -> bool:
        """Whether the two learners differ, so that a snapshot needs both: until an
        established viewer's choice scores them apart and a fresh one teaches only one, the
        ranked weights alone say everything (and keep an untaught room's snapshot small)."""
        self._resumed()
        return bool(self.score or self.split_decisions) or not (
            np.array_equal(self.everyone.weights, self.regulars.weights)
            and np.array_equal(self.everyone.precision, self.regulars.precision))

    def evidence(self) -> tuple[np.ndarray, np.ndarray, int, int, int]:
        """Both learners' weights (2 × features, the ranked one last, so that a release that
        knows one learner goes on from it), their precisions (2 × features × features), the
        score, the split decisions and the purchase score, which say which is which: what a
        snapshot needs to go on exactly."""
        self._resumed()
        models = self._order(self.leader)
        return (np.stack([m.weights for m in models]), np.stack([m.precision for m in models]),
                self.score, self.split_decisions, self.purchase_score)

    def resume(self, weights: np.ndarray, precisions: np.ndarray, score: int,
               split_decisions: int | None = None, purchase_score: int | None = None) -> bool:
        """Go on from ``evidence``; False (and nothing changed) if its shapes are not this
        learner's (features changed). Without ``split_decisions`` (a snapshot written before
        they were counted) they are the least the score needs: its size. Without
        ``purchase_score`` (written before purchases judged) the learners are read in the
        order that release stored them, where the score alone chose the ranked one, and the
        purchases start from nothing: the room ranks with everyone's learner until they
        lean the regulars' way."""
        n = len(self.names)
        if weights.shape != (2, n) or precisions.shape != (2, n, n):
            return False
        self.score = int(score)
        self.split_decisions = (abs(self.score) if split_decisions is None
                                else int(split_decisions))
        self.purchase_score = 0 if purchase_score is None else int(purchase_score)
        stored_leader = self._regulars_lead(-1 if purchase_score is None else self.purchase_score)
        order = self._order(self.regulars if stored_leader else self.everyone)
        for model, w, a in zip(order, weights, precisions, strict=True):
            model.weights, model.precision = w.astype(np.float64), a.astype(np.float64)
        self._rank_with(self.leader)
        return True

    def _order(self, leader: NewtonSoftmax) -> tuple[NewtonSoftmax, NewtonSoftmax]:
        """The learners as ``evidence`` stores them: the one ranked with last."""
        return (self.regulars if leader is self.everyone else self.everyone), leader

    def _rank_with(self, model: NewtonSoftmax) -> None:
        self.weights, self.precision = model.weights, model.precision
        self._ranked = (self.weights, self.precision)

    def _resumed(self) -> None:
        """Weights set from outside (a restored snapshot): both learners go on from them."""
        if self.weights is self._ranked[0] and self.precision is self._ranked[1]:
            return
        for model in (self.everyone, self.regulars):
            model.weights, model.precision = self.weights.copy(), self.precision.copy()
        self.score = self.split_decisions = self.purchase_score = 0
        self._rank_with(self.everyone)
