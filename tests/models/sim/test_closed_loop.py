"""The closed loop: deterministic, plausible open rates, and fatigue that bites."""

from __future__ import annotations

from models.arms import Arms
from models.params import RoomParams
from models.sim.audience import Audience
from models.sim.closed_loop import run_closed_loop
from models.sim.world import World

PARAMS = RoomParams(dim=8, arms=Arms.parse("attention=0.5,control=0.25,holdout=0.25"))


def test_same_seed_same_stream_pushes_and_reactions() -> None:
    one = run_closed_loop(PARAMS, seed=2, rooms=3, viewers=150, minutes=10)
    two = run_closed_loop(PARAMS, seed=2, rooms=3, viewers=150, minutes=10)
    assert one.events == two.events and one.pushes == two.pushes
    assert one.summary() == two.summary()
    other = run_closed_loop(PARAMS, seed=3, rooms=3, viewers=150, minutes=10)
    assert other.events != one.events


def test_open_rates_are_a_few_per_cent_and_holdout_is_never_pushed() -> None:
    run = run_closed_loop(PARAMS, seed=1, rooms=6, viewers=300, minutes=20)
    summary = run.summary()
    for arm in ("attention", "control"):
        assert 0.005 < summary[arm]["open_rate"] < 0.10, summary[arm]
    assert summary["holdout"]["pushes"] == 0 and summary["holdout"]["opens"] == 0
    assert summary["holdout"]["ghost_pushes"] > 0
    assert "lift_purchases_per_viewer_hour_vs_holdout" in summary["attention"]


def _push(n: int, items: list[str]) -> dict:
    return {"rec_id": f"rec-{n}", "room_id": "r-001", "user_id": "u-00001",
            "items": [{"item_id": i} for i in items]}


def test_fatigue_lowers_open_rates_and_mutes() -> None:
    world = World(seed=1, rooms=1, viewers=5, minutes=5)
    items = [it.item_id for it in world.truth.rooms[0].catalogue[:3]]
    calm_opens = spammed_opens = muted = 0
    for trial in range(300):
        calm = Audience(world.truth, seed=trial)  # one push an hour: never tired
        calm_opens += any(
            calm.receive(_push(n, items), n * 3_600_000).opened for n in range(3)
        )
        spammed = Audience(world.truth, seed=trial)  # a push every 20 s
        reactions = [spammed.receive(_push(n, items), n * 20_000) for n in range(30)]
        spammed_opens += any(r.opened for r in reactions[-3:])
        muted += spammed.viewers["u-00001"].muted
    assert spammed_opens < calm_opens / 2
    assert muted > 100


def test_a_shared_allocation_moves_shares_sooner_than_one_per_room() -> None:
    """The measuring option pools every room's counts in one allocator: with the same
    threshold its shares leave the configured ones after fewer pushes per room."""
    params = RoomParams(arms=Arms.parse("attention=0.5,wide=0.5:temperature=4"),
                        allocation="thompson", allocation_min_pushes=40)

    def moved(shared: bool) -> int:
        run = run_closed_loop(params, seed=3, rooms=6, viewers=300, minutes=10,
                              shared_allocation=shared)
        return sum(abs(float(r["probability"]) - 0.5) > 1e-9 for r in run.assignments)

    per_room, pooled = moved(False), moved(True)
    assert pooled > per_room
