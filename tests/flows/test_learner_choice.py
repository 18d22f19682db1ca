"""``--learner river`` runs River's own estimators inside the job: ``reco.FunkMF`` (the same
vectors as the fast learner) and ``LogisticRegression`` as a pointwise choice model, the peer
the lab scores the listwise model against (``river-fm``: its ``FMClassifier``);
``tests/models/learners/test_contract.py`` holds the learner-level contract."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch
from flows.settings import Settings
from models.learners.choice import LEARNERS
from models.room import Room
from tests.flows.helpers import run_lines, stable, world_lines
from tests.models.golden_room import GOLDEN, PARAMS, ROOM


@pytest.mark.parametrize("peer", ["river", "river-fm"])
def test_river_learners_push_every_viewer_the_fast_ones_push(peer: str) -> None:
    lines = world_lines(seed=3, rooms=4, viewers=150, minutes=8)
    fast, fast_letters = run_lines(lines, Settings.load({"learner": "fast"}, env={}))
    river, river_letters = run_lines(lines, Settings.load({"learner": peer}, env={}))
    assert len(fast) > 500 and fast_letters == river_letters

    def who(pushes: list[dict]) -> list[tuple[str, str]]:
        return sorted((p["trigger_id"], p["user_id"]) for p in pushes)

    assert who(fast) == who(river)
    # River's pointwise models attend uniformly and learned propensities off its priors.
    assert all(len({i["attention"] for i in p["items"]}) == 1 for p in river)
    assert len({i["propensity"] for p in river for i in p["items"]}) > 100
    assert stable(fast) != stable(river)


def test_unknown_learner_is_refused_with_the_flag_name() -> None:
    refused = "--learner must be one of fast, river, river-fm, not 'torch'"
    with pytest.raises(ValueError, match=refused):
        Settings.load({"learner": "torch"}, env={})


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_room_restored_mid_stream_pushes_what_it_would_have(learner: str) -> None:
    """The snapshot holds the River adapters' numpy mirrors; River's own stores are rebuilt."""
    params = dataclasses.replace(PARAMS, learner=learner)
    events = [decode_event(json.dumps(m).encode(), Origin("t", 0, n)) for n, m in enumerate(GOLDEN)]
    stream = [e for e in events if isinstance(e, Event)]
    half = len(stream) // 2
    kept, restored = Room(ROOM, params), Room(ROOM, params)
    kept.accept(stream[:half])
    restored.accept(stream[:half])
    restored = Room.restore(restored.snapshot(), params)
    pushes = [
        [(o.top.tolist(), o.score.tolist()) for o in room.accept(stream[half:])
         if isinstance(o, PushBatch)]
        for room in (kept, restored)
    ]
    assert pushes[0] and pushes[0] == pushes[1]


@pytest.mark.parametrize(("before", "after"), [(3.0, 0.0), (0.0, 3.0)])
def test_a_restart_may_turn_the_newton_learner_on_or_off(before: float, after: float) -> None:
    """The restored room keeps the weights it ranked with, whichever model it is built as."""
    lines = world_lines(seed=2, rooms=1, viewers=120, minutes=8)
    events = [decode_event(line, Origin("t", 0, n)) for n, line in enumerate(lines)]
    stream = [e for e in events if isinstance(e, Event)]
    half = len(stream) // 2
    room = Room(stream[0].room_id, dataclasses.replace(PARAMS, choice_prior_precision=before))
    room.accept(stream[:half])
    ranked_with = room.model.weights.copy()
    assert room.model.learned > 20 and (ranked_with != room.model.prior).any()
    restored = Room.restore(room.snapshot(),
                            dataclasses.replace(PARAMS, choice_prior_precision=after))
    assert (restored.model.weights == ranked_with).all()
    assert restored.model.learned == room.model.learned
    if after > 0:  # a snapshot without the two learners: both start from the room's weights
        for model in restored.model.models:  # type: ignore[attr-defined]
            assert (model.weights == ranked_with).all()
    assert any(isinstance(o, PushBatch) for o in restored.accept(stream[half:]))


def test_a_restored_leader_keeps_both_learners_and_pushes_what_it_would_have() -> None:
    lines = world_lines(seed=2, rooms=1, viewers=120, minutes=8)
    events = [decode_event(line, Origin("t", 0, n)) for n, line in enumerate(lines)]
    stream = [e for e in events if isinstance(e, Event)]
    half = len(stream) // 2
    kept = Room(stream[0].room_id, PARAMS)
    kept.accept(stream[:half])
    restored = Room.restore(kept.snapshot(), PARAMS)
    for a, b in zip(kept.model.models, restored.model.models, strict=True):  # type: ignore[attr-defined]
        assert (a.weights == b.weights).all() and (a.prior == b.prior).all()
    newton = kept.model.models[1]  # type: ignore[attr-defined]
    assert (newton.precision != 3.0 * np.eye(len(newton.names))).any()
    assert (restored.model.models[1].precision == newton.precision).all()  # type: ignore[attr-defined]
    assert (restored.model.hits == kept.model.hits).all() and kept.model.hits.sum() > 0  # type: ignore[attr-defined]
    pushes = [
        [(o.top.tolist(), o.score.tolist()) for o in room.accept(stream[half:])
         if isinstance(o, PushBatch)]
        for room in (kept, restored)
    ]
    assert pushes[0] and pushes[0] == pushes[1]
