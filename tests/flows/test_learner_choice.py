"""``--learner river`` runs River's own estimators inside the job: ``reco.FunkMF`` (the same
vectors as the fast learner) and ``LogisticRegression`` as a pointwise choice model, the peer
the lab scores the listwise model against (``river-fm``: its ``FMClassifier``);
``tests/models/learners/test_contract.py`` holds the learner-level contract."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch
from features.state.codec import decode, encode
from flows.settings import Settings
from models.learners.choice import LEARNERS
from models.learners.newton import NewtonSoftmax
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


@pytest.mark.parametrize(("before", "after"), [(1.0, 0.0), (0.0, 1.0)])
def test_a_restart_may_turn_the_newton_learner_on_or_off(before: float, after: float) -> None:
    """The restored room keeps the weights it ranked with, whichever model it is built as."""
    lines = world_lines(seed=2, rooms=1, viewers=120, minutes=8)
    events = [decode_event(line, Origin("t", 0, n)) for n, line in enumerate(lines)]
    stream = [e for e in events if isinstance(e, Event)]
    half = len(stream) // 2
    room = Room(stream[0].room_id, dataclasses.replace(PARAMS, choice_prior_scale=before))
    room.accept(stream[:half])
    ranked_with = room.model.weights.copy()
    assert room.model.learned > 20 and (ranked_with != room.model.prior).any()
    restored = Room.restore(room.snapshot(),
                            dataclasses.replace(PARAMS, choice_prior_scale=after))
    assert (restored.model.weights == ranked_with).all()
    assert restored.model.learned == room.model.learned
    assert any(isinstance(o, PushBatch) for o in restored.accept(stream[half:]))


def test_a_restored_newton_learner_keeps_its_evidence_and_pushes_what_it_would_have() -> None:
    lines = world_lines(seed=2, rooms=1, viewers=120, minutes=8)
    events = [decode_event(line, Origin("t", 0, n)) for n, line in enumerate(lines)]
    stream = [e for e in events if isinstance(e, Event)]
    half = len(stream) // 2
    kept = Room(stream[0].room_id, PARAMS)
    kept.accept(stream[:half])
    restored = Room.restore(kept.snapshot(), PARAMS)
    assert isinstance(kept.model, NewtonSoftmax) and isinstance(restored.model, NewtonSoftmax)
    assert (kept.model.weights == restored.model.weights).all()
    assert (kept.model.prior == restored.model.prior).all()
    assert (kept.model.precision != np.diag(kept.model.prior_precision)).any()  # it learned
    assert (restored.model.precision == kept.model.precision).all()
    pushes = [
        [(o.top.tolist(), o.score.tolist()) for o in room.accept(stream[half:])
         if isinstance(o, PushBatch)]
        for room in (kept, restored)
    ]
    assert pushes[0] and pushes[0] == pushes[1]


def test_a_leaders_snapshot_goes_on_from_its_newton_learner() -> None:
    """Rooms of 2026-12-03/04 stored an SGD and a Newton learner and the hits that chose
    between them; restored now, the room's one learner is that Newton learner."""
    lines = world_lines(seed=2, rooms=1, viewers=120, minutes=8)
    events = [decode_event(line, Origin("t", 0, n)) for n, line in enumerate(lines)]
    stream = [e for e in events if isinstance(e, Event)]
    room = Room(stream[0].room_id, PARAMS)
    room.accept(stream[: len(stream) // 2])
    tree = decode(room.snapshot())
    model = room.model
    assert isinstance(model, NewtonSoftmax)
    n = len(model.names)
    sgd_weights = model.prior + 0.25  # what the leader's first learner had drifted to
    tree["model"].update(experts=np.array([sgd_weights, model.weights]),
                         precisions=model.precision.reshape(1, n, n),
                         hits=np.array([3.0, 5.0]), leader=1, weights=model.weights)
    restored = Room.restore(encode(tree), PARAMS)
    assert isinstance(restored.model, NewtonSoftmax)
    assert (restored.model.weights == model.weights).all()
    assert (restored.model.precision == model.precision).all()


@pytest.mark.parametrize("peer", ["river", "river-fm"])
def test_river_peers_on_hostile_prices_push_numbers_without_warnings(peer: str) -> None:
    # found by a red team: prices at the contract's 1e12 bound and attrs at 1e30 made River's
    # FM diverge (most propensities NaN, written as 0.0) and numpy warn on the job's stderr
    hostile = []
    for line in world_lines(seed=3, rooms=1, viewers=40, minutes=4):
        event = json.loads(line)
        for n, item in enumerate(event.get("items", [])):
            item["price"] = 1e12 if n % 2 == 0 else item["price"]
            item.setdefault("attrs", {})["x"] = 1e30 if n % 3 == 0 else -1e30
        hostile.append(json.dumps(event).encode())
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        pushes, letters = run_lines(hostile, Settings.load({"learner": peer}, env={}))
    assert [str(w.message) for w in heard] == []
    assert pushes and not letters
    propensities = [i["propensity"] for p in pushes for i in p["items"]]
    assert len(set(propensities)) > 10  # numbers, not NaN written as 0.0 everywhere
