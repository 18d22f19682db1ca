"""The adaptive allocation on Bernoulli arms with known rates: it learns, it is guarded."""

from __future__ import annotations

import random

import pytest

from models.experiment.allocation import Allocator


def _run(rates: tuple[float, ...], fixed: tuple[bool, ...], seed: int,
         viewers: int = 20_000) -> tuple[Allocator, list[int]]:
    shares = tuple(1.0 / len(rates) for _ in rates)
    alloc = Allocator.create(shares, fixed, min_pushes=200, stop_loss=0.999, seed=f"r-{seed}")
    rnd = random.Random(seed)
    picks = []
    for _ in range(viewers):
        arm, probability = alloc.assign(rnd.random())
        assert 0 < probability <= 1
        picks.append(arm)
        alloc.pushed(arm)
        if rnd.random() < rates[arm]:
            alloc.converted(arm)
    return alloc, picks


def test_traffic_moves_to_the_better_arm_and_the_floor_holds() -> None:
    for seed in range(3):
        _, picks = _run((0.05, 0.06, 0.05), (False, False, True), seed)
        late = picks[-4_000:]
        adaptive = [p for p in late if p != 2]
        assert sum(p == 1 for p in adaptive) / len(adaptive) >= 0.7
        assert abs(late.count(2) / len(late) - 1 / 3) < 0.03  # control keeps its share


def test_nothing_moves_before_min_pushes() -> None:
    _, picks = _run((0.0, 0.5), (False, False), seed=1, viewers=300)
    assert 0.35 < picks[:300].count(0) / 300 < 0.65


def test_aa_test_cuts_no_arm_in_more_than_one_of_twenty_seeds() -> None:
    cuts = sum(
        bool(_run((0.05, 0.05), (False, False), seed, 10_000)[0].cut.any()) for seed in range(20)
    )
    assert cuts <= 1


def test_stop_loss_cuts_a_credibly_worse_arm_once_it_has_enough_pushes() -> None:
    for pushes, cut in ((999, False), (1_000, True)):
        alloc = Allocator.create((0.5, 0.5), (False, False), 200, 0.999, "r")
        alloc.pushed(0, pushes)
        alloc.pushed(1, pushes)
        alloc.converted(0, 100)
        alloc.converted(1, 40)
        alloc.assign(0.5)
        assert bool(alloc.cut[1]) is cut and not alloc.cut[0]
        if cut:
            assert {alloc.assign(n / 100)[0] for n in range(100)} == {0}


def test_same_inputs_same_assignments() -> None:
    assert _run((0.05, 0.06), (False, False), 9, 3_000)[1] == _run(
        (0.05, 0.06), (False, False), 9, 3_000)[1]


@pytest.mark.parametrize(("policy", "half_life_ms"),
                         [("thompson", 0), ("thompson", 30_000), ("bayes-ucb", 30_000)])
def test_a_room_restored_mid_stream_allocates_as_an_uninterrupted_one(
    policy: str, half_life_ms: int,
) -> None:
    from dataclasses import replace

    from features.contract.messages import PushBatch, push_dicts
    from models.arms import Arms
    from models.experiment.allocation import Assignments
    from models.params import RoomParams
    from models.room import Room
    from tests.models.experiment.test_serving import EVENTS

    params = replace(RoomParams(dim=8), arms=Arms.parse("a=0.45,b=0.45,control=0.1"),
                     allocation=policy, allocation_min_pushes=5,
                     allocation_half_life_ms=half_life_ms)

    def outputs(items: list) -> list:
        return [push_dicts(x, 0) if isinstance(x, PushBatch) else x.records()
                for x in items if isinstance(x, PushBatch | Assignments)]

    for room_id, events in EVENTS.items():
        half = len(events) // 2
        whole = Room(room_id, params)
        expected = outputs(whole.accept(events) + whole.flush())
        first = Room(room_id, params)
        got = outputs(first.accept(events[:half]))
        assert first.allocator is not None and first.allocator.version > 0
        second = Room.restore(first.snapshot(), params)
        got += outputs(second.accept(events[half:]) + second.flush())
        assert got == expected
        assert whole.allocator is not None and second.allocator is not None
        assert (whole.allocator.probabilities == second.allocator.probabilities).all()
        assert (whole.allocator.pushes == second.allocator.pushes).all()


def test_bayes_ucb_ranks_arms_as_river_does_fed_the_same_rewards_one_by_one() -> None:
    """The room sets River's posteriors from its counts; River's own policy, updated push by
    push, gives the same index, so the leader is River's."""
    from river import bandit

    rnd = random.Random(7)
    river = bandit.BayesUCB()
    alloc = Allocator.create((0.5, 0.5), (False, False), 10, 1.0, "r", "bayes-ucb")
    for _ in range(3_000):
        arm = rnd.randrange(2)
        bought = rnd.random() < (0.04, 0.05)[arm]
        river.update(arm, bought)
        alloc.pushed(arm)
        if bought:
            alloc.converted(arm)
    alloc.assign(0.5)  # recompute
    index = [river.compute_index(arm) for arm in (0, 1)]
    leader = int(index[1] > index[0])
    assert alloc.probabilities[leader] == 1.0 - 0.2 and alloc.probabilities[1 - leader] == 0.2


def test_bayes_ucb_keeps_every_live_arm_assignable_and_gives_a_cut_arm_nothing() -> None:
    alloc = Allocator.create((0.4, 0.4, 0.2), (False, False, True), 200, 0.999, "r",
                             "bayes-ucb")
    for arm, (pushes, wins) in enumerate(((2_000, 200), (2_000, 60), (500, 20))):
        alloc.pushed(arm, pushes)
        alloc.converted(arm, wins)
    alloc.assign(0.5)
    assert alloc.cut[1] and not alloc.cut[0]  # 10 % against 3 % on 2,000 pushes
    assert list(alloc.probabilities) == [0.8, 0.0, 0.2]  # alone: the whole adaptive mass
    alloc = Allocator.create((0.5, 0.5), (False, False), 200, 1.0, "r", "bayes-ucb")
    alloc.pushed(0, 400)
    alloc.pushed(1, 400)
    alloc.converted(1, 30)
    alloc.assign(0.5)
    assert list(alloc.probabilities) == [0.2, 0.8]


def test_counts_halve_every_half_life_of_event_time_and_never_without_one() -> None:
    aged = Allocator.create((0.5, 0.5), (False, False), 10, 1.0, "r", half_life_ms=60_000)
    kept = Allocator.create((0.5, 0.5), (False, False), 10, 1.0, "r")
    for alloc in (aged, kept):
        alloc.pushed(0, 400, now=1_000_000)
        alloc.converted(0, 40, now=1_000_000)
        alloc.pushed(1, 0, now=1_000_000 + 120_000)  # two half-lives later
        alloc.pushed(1, 0, now=1_000_000 + 60_000)  # an older time does not age them back
    assert list(aged.pushes) == [100.0, 0.0] and list(aged.wins) == [10.0, 0.0]
    assert list(kept.pushes) == [400.0, 0.0] and list(kept.wins) == [40.0, 0.0]
