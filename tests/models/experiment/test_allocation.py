"""The adaptive allocation on Bernoulli arms with known rates: it learns, it is guarded."""

from __future__ import annotations

import random

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


def test_a_room_restored_mid_stream_allocates_as_an_uninterrupted_one() -> None:
    from dataclasses import replace

    from features.contract.messages import PushBatch, push_dicts
    from models.arms import Arms
    from models.experiment.allocation import Assignments
    from models.params import RoomParams
    from models.room import Room
    from tests.models.experiment.test_serving import EVENTS

    params = replace(RoomParams(dim=8), arms=Arms.parse("a=0.45,b=0.45,control=0.1"),
                     allocation="thompson", allocation_min_pushes=5)

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
