"""Closed-loop coverage: intervals scored against the rate pooled over every run."""

from __future__ import annotations

from models.arms import Arms
from models.offline.coverage import coverage, readout_of
from models.params import RoomParams
from models.sim.closed_loop import run_closed_loop
from tests.models.experiment.test_honest_statistics import _rooms_differ


def test_intervals_are_scored_against_the_pooled_rate_with_and_without_clusters() -> None:
    read = [_rooms_differ(seed) for seed in range(20)]
    others = [_rooms_differ(seed) for seed in range(100, 110)]
    result = coverage(read, others)
    assert result.runs == 20 and [a.arm for a in result.arms] == ["a", "b"]
    for arm in result.arms:
        rows = [r.arms[arm.arm] for r in read + others]
        assert arm.truth == round(sum(a.converted for a in rows) / sum(a.pushes for a in rows), 6)
        assert arm.covered == sum(r.arms[arm.arm].low <= arm.truth <= r.arms[arm.arm].high
                                  for r in read)
        # rooms differ: independent pushes are overconfident, the readout's clusters are not
        assert arm.covered_independent < arm.covered and arm.mean_design_effect > 1.5
    assert "winners declared: 0/20" in result.format_table()


def test_a_closed_loop_run_is_read_with_its_ghosts_and_assignments() -> None:
    params = RoomParams(arms=Arms.parse("attention=0.5,holdout=0.5"), allocation="thompson",
                        allocation_min_pushes=5)
    run = run_closed_loop(params, 3, 2, 60, 4)
    readout = readout_of(run)
    assert readout.arms["holdout"].ghost and readout.arms["holdout"].pushes == len(run.ghosts)
    assert readout.arms["attention"].pushes == len(run.pushes)
    assert sum(w.viewers for w in readout.weighted.values()) == len(
        {(a["room_id"], a["user_id"]) for a in run.assignments})
