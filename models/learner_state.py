"""The choice learner's part of a room's snapshot (``models.room_state``): its weights, the
prior it started from, its evidence, and the features they belong to, by name.

A release that adds or reorders features must still go on from what a room learned under the
release before: weights and evidence are stored with their feature names and mapped by name
on restore (``_by_feature``); a feature the snapshot never had starts where a new room starts.
The Newton learner's evidence is stored in the shape the releases since 2026-12-03 wrote, so
either side of an upgrade reads the other's snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from models.choice_features import FEATURES, PRIORS
from models.learners.judged import JudgedNewton
from models.learners.listwise import ListwiseSoftmax
from models.learners.newton import NewtonSoftmax

if TYPE_CHECKING:
    from models.room import Room

# The choice model's features in the order of the snapshots that did not name them.
FEATURES_UNTIL_2026_12_05: tuple[str, ...] = (
    "category_affinity", "segment_affinity", "clicked", "carted", "bought", "engaged_item",
    "engaged_category", "vectors", "segment_item", "bias", "spotlight", "item_appeal",
    "category_appeal", "momentum", "fresh", "log_price", "over_budget", "under_budget",
)  # fmt: skip
# The priors of the releases before the pooled ones (models.choice_features.PRIORS): a snapshot
# that does not store its room's prior was written by one of them, and its room started there.
PRIORS_UNTIL_2026_12_04: dict[str, float] = {
    "category_affinity": 1.0, "clicked": 1.0, "carted": 1.0, "spotlight": 0.5,
    "item_appeal": 1.0, "category_appeal": 1.0, "momentum": 0.2, "over_budget": -1.0,
}  # fmt: skip


def dump_learner(room: Room) -> dict[str, Any]:
    """The ``"model"`` part of ``room``'s snapshot."""
    return {"weights": room.model.weights, "learned": room.model.learned,
            "refused": room.model.refused, "features": list(FEATURES), **_prior(room),
            **_experts(room)}


def load_learner(room: Room, stored_model: dict[str, Any]) -> None:
    """Put the stored ``"model"`` part back into the fresh ``room``."""
    stored_model = _by_feature(stored_model, room)
    weights = np.asarray(stored_model["weights"], dtype=np.float64)
    models = _listwise(room)
    if weights.shape == room.model.weights.shape:  # else features changed: the priors
        room.model.weights = weights
        for model in models:  # every learner, as if it had learned them (older snapshots)
            model.weights = weights.copy()
    prior = stored_model.get("prior")
    if prior is None:  # written before warm starts: the room started from the priors
        # of then; a feature added since starts from this release's
        prior = [PRIORS_UNTIL_2026_12_04.get(name, 0.0)
                 if name in FEATURES_UNTIL_2026_12_05 else PRIORS.get(name, 0.0)
                 for name in FEATURES]
    if models:
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape == models[0].prior.shape:
            for model in models:
                model.prior = prior.copy()
    _load_experts(room, stored_model)
    room.model.learned = int(stored_model["learned"])
    room.model.refused = int(stored_model["refused"])


def _by_feature(stored: dict[str, Any], room: Room) -> dict[str, Any]:
    """The stored learner's arrays in this release's feature order: a feature the snapshot
    does not name starts where a new room without a weights file does (its weight at this
    release's prior, its evidence at the prior's precision), the others keep what the room
    learned. Snapshots written before the names were stored (until 2026-12-05) are in
    ``FEATURES_UNTIL_2026_12_05`` order; arrays of any other length are left as they are
    (and then start afresh, as before)."""
    names = stored.get("features")
    n = len(np.asarray(stored["weights"]))
    if names is None and n == len(FEATURES_UNTIL_2026_12_05):
        names = FEATURES_UNTIL_2026_12_05
    if names is None or len(names) != n or tuple(names) == FEATURES:
        return stored
    start = np.array([PRIORS.get(name, 0.0) for name in FEATURES])
    at = [list(names).index(name) if name in names else -1 for name in FEATURES]
    known = np.array([j >= 0 for j in at])
    take = np.array([max(j, 0) for j in at])

    def vector(values: Any, fill: np.ndarray) -> np.ndarray:
        return np.where(known, np.asarray(values, dtype=np.float64)[..., take], fill)

    out = dict(stored)
    out["weights"] = vector(stored["weights"], start)
    if stored.get("prior") is not None:
        out["prior"] = vector(stored["prior"], start)
    if "experts" in stored and isinstance(room.model, NewtonSoftmax):
        out["experts"] = vector(stored["experts"], start)
        fresh = np.asarray(room.model.prior_precision)
        cells = np.asarray(stored["precisions"], dtype=np.float64)[..., take[:, None], take]
        both = known[:, None] & known
        out["precisions"] = np.where(both, cells, np.diag(fresh))
    return out


def _prior(room: Room) -> dict[str, np.ndarray]:
    """The point the listwise model is pulled toward (its start: the priors or a fitted
    file): a restored room keeps the one it started from whatever file the restart names,
    so a replay is the run it replays."""
    models = _listwise(room)
    return {"prior": models[0].prior} if models else {}


def _listwise(room: Room) -> tuple[ListwiseSoftmax, ...]:
    model = room.model
    return (model,) if isinstance(model, ListwiseSoftmax) else ()


def _experts(room: Room) -> dict[str, Any]:
    """The Newton learner's evidence (its precision matrix), in the shape the leader of
    2026-12-03 wrote for its learners, so either release reads the other's snapshot: the
    judged pair stores both of its learners only once they differ, the ranked one last (which
    a one-learner release goes on from), and their score."""
    model = room.model
    if not isinstance(model, NewtonSoftmax):
        return {}
    if isinstance(model, JudgedNewton) and model.split and not room.closed:
        # both learners and the score (a closed room learns no more: it keeps the ranked one)
        experts, precisions, score, split, purchases = model.evidence()
        return {"experts": experts, "precisions": precisions, "judged": score,
                "split_decisions": split, "purchase_judged": purchases}
    n = len(model.names)
    return {"experts": model.weights[None, :].copy(),
            "precisions": model.precision.reshape(1, n, n).copy()}


def _load_experts(room: Room, stored: dict[str, Any]) -> None:
    """The stored evidence of a Newton learner: this release's, or the Newton learner of a
    leader (2026-12-03 to 12-04: its SGD and Newton learners, the room ranking with the one
    that had put more choices in the top k), which goes on from the Newton learner's weights
    and evidence. Absent or of other shapes (features changed): the evidence starts afresh."""
    model = room.model
    if not isinstance(model, NewtonSoftmax) or "experts" not in stored:
        return
    experts = np.asarray(stored["experts"], dtype=np.float64)
    precisions = np.asarray(stored["precisions"], dtype=np.float64)
    if (isinstance(model, JudgedNewton) and "judged" in stored
            and model.resume(experts, precisions, int(stored["judged"]),
                             stored.get("split_decisions"), stored.get("purchase_judged"))):
        return
    n = len(model.names)
    if experts.ndim != 2 or experts.shape[1] != n or precisions.shape[1:] != (n, n) or not len(
            precisions):
        return
    model.weights = experts[-1].copy()  # the Newton learner was the leader's last
    model.precision = precisions[-1].copy()
