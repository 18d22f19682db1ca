"""Purchases per assigned viewer weighted by the assignment probability."""

from __future__ import annotations

import random

import pytest

from models.experiment.readout import Readout, read_experiment
from models.experiment.weighted import weighted_purchases


def _assigned(user: str, arm: str, p: float, ts: int = 0, room: str = "r") -> dict:
    return {"kind": "assignment", "room_id": room, "user_id": user, "trigger_id": f"t{ts}",
            "ts": ts, "arm": arm, "probability": p}


def _drifting_show(seed: int) -> tuple[list[dict], dict[tuple[str, str], int]]:
    """Two arms with the same effect; early viewers buy at 0.3, late ones at 0.05, and the
    allocation gave arm "a" 20 % of the early viewers and 80 % of the late ones."""
    rnd = random.Random(seed)
    rows, bought = [], {}
    for n in range(4_000):
        late = n >= 2_000
        p_a = 0.8 if late else 0.2
        arm = "a" if rnd.random() < p_a else "b"
        rows.append(_assigned(f"u{n}", arm, p_a if arm == "a" else 1 - p_a, ts=n))
        bought[("r", f"u{n}")] = int(rnd.random() < (0.05 if late else 0.3))
    return rows, bought


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighting_removes_the_bias_of_an_allocation_that_moved_while_the_audience_changed(
    seed: int,
) -> None:
    rows, bought = _drifting_show(seed)
    est = weighted_purchases(rows, bought, seed=seed)
    truth = 0.175  # both arms, over the whole audience
    assert est["b"].plain - est["a"].plain > 0.1  # plain means: "b" looks far better
    for arm in "ab":
        assert est[arm].low <= truth <= est[arm].high
        assert abs(est[arm].weighted - truth) < 0.03
    assert est["a"].viewers + est["b"].viewers == 4_000


def test_under_a_fixed_split_the_weighted_mean_is_the_plain_one() -> None:
    rows = [_assigned(f"u{n}", "a" if n % 3 else "b", 2 / 3 if n % 3 else 1 / 3)
            for n in range(300)]
    bought = {("r", f"u{n}"): n % 5 == 0 for n in range(300)}
    for est in weighted_purchases(rows, bought).values():
        assert est.weighted == pytest.approx(est.plain, abs=1e-6)


def test_a_viewer_counts_once_with_the_first_assignment_whatever_the_order() -> None:
    rows = [_assigned("u1", "b", 0.5, ts=9), _assigned("u1", "a", 0.25, ts=1),
            _assigned("u2", "b", 0.5, ts=3, room="s"), _assigned("u1", "a", 0.25, ts=1)]
    est = weighted_purchases(rows, {("r", "u1"): 2})
    assert (est["a"].viewers, est["a"].plain, est["b"].viewers) == (1, 2.0, 1)
    assert weighted_purchases(rows[::-1], {("r", "u1"): 2}) == est


def test_the_readout_weights_the_purchases_it_attributed() -> None:
    pushes = [{"rec_id": f"p{n}", "room_id": "r", "user_id": f"u{n}", "trigger_id": "t",
               "ts": 1_000, "arm": "a" if n < 2 else "b", "items": [{"item_id": "i"}]}
              for n in range(4)]
    log = [_assigned("u0", "a", 0.5), _assigned("u1", "a", 0.25), _assigned("u2", "b", 0.5),
           _assigned("u3", "b", 0.75)]
    events = [{"event_id": "e1", "type": "purchase", "room_id": "r", "user_id": "u1",
               "ts": 2_000, "item_id": "i", "amount": 5.0},
              {"event_id": "e2", "type": "purchase", "room_id": "r", "user_id": "u9",
               "ts": 2_000, "item_id": "i", "amount": 5.0}]  # not a pushed viewer
    readout = read_experiment(events, pushes, log)
    assert readout.weighted["a"].plain == 0.5
    assert readout.weighted["a"].weighted == pytest.approx(4 / 6, abs=1e-6)
    assert readout.weighted["b"].weighted == 0.0
    assert "weighted by 1 / assignment probability" in readout.format_table()
    assert set(readout.to_dict()["weighted"]) == {"a", "b"}
    assert "weighted" not in read_experiment(events, pushes).to_dict()  # no assignments


def test_p_best_follows_the_weighted_means() -> None:
    rows = [_assigned(f"u{n}", "ab"[n % 2], 0.5) for n in range(2_000)]
    bought = {("r", f"u{n}"): int(n % 2 == 0 and n % 10 != 0) for n in range(2_000)}  # a buys
    est = weighted_purchases(rows, bought)
    assert est["a"].p_best == 1.0 and est["b"].p_best == 0.0
    same = weighted_purchases(rows, {("r", f"u{n}"): int(n % 4 < 2) for n in range(2_000)})
    assert 0.05 < same["a"].p_best < 0.95 and same["a"].p_best + same["b"].p_best == 1.0


def test_under_an_adaptive_allocation_the_report_names_the_weighted_winner() -> None:
    pushes = [{"rec_id": f"p{n}", "room_id": "r", "user_id": f"u{n}", "trigger_id": "t",
               "ts": 1_000, "arm": "ab"[n % 2], "items": [{"item_id": "i"}]}
              for n in range(2_000)]
    log = [_assigned(f"u{n}", "ab"[n % 2], 0.5) for n in range(2_000)]
    events = [{"event_id": f"e{n}", "type": "purchase", "room_id": "r", "user_id": f"u{n}",
               "ts": 2_000, "item_id": "i", "amount": 1.0} for n in range(0, 2_000, 4)]  # a buys
    readout = read_experiment(events, pushes, log)
    assert readout.weighted_winner == "a" and readout.to_dict()["weighted_winner"] == "a"
    table = readout.format_table()
    assert "winner: a (per push: biased under this adaptive allocation" in table
    assert table.endswith("winner by weighted converted viewers: a")
    assert "weighted_winner" not in read_experiment(events, pushes).to_dict()


def test_arms_that_all_drew_the_same_share_p_best() -> None:
    """Nobody bought: no arm is best, least of all the first by name."""
    rows = [_assigned(f"u{n}", "ab"[n % 2], 0.5) for n in range(200)]
    est = weighted_purchases(rows, {})
    assert est["a"].p_best == est["b"].p_best == 0.5


def test_an_arm_of_one_viewer_or_one_arm_alone_declares_nothing() -> None:
    """One viewer's bootstrap has no spread (P(best) 0 or 1); one arm is best by itself."""
    def readout(arms: str, n: int, buyers: set[int]) -> Readout:
        pushes = [{"rec_id": f"p{k}", "room_id": "r", "user_id": f"u{k}", "trigger_id": "t",
                   "ts": 1_000, "arm": arms[k % len(arms)], "items": [{"item_id": "i"}]}
                  for k in range(n)]
        log = [_assigned(f"u{k}", arms[k % len(arms)], 0.5) for k in range(n)]
        events = [{"event_id": f"e{k}", "type": "purchase", "room_id": "r", "user_id": f"u{k}",
                   "ts": 2_000, "item_id": "i", "amount": 1.0} for k in sorted(buyers)]
        return read_experiment(events, pushes, log)

    lone = readout("abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 530, {0, 53})
    assert lone.weighted["a"].viewers == 10 and lone.weighted["a"].p_best == 1.0
    assert lone.weighted_winner is None and lone.winner is None
    assert "none declared (arm a has 10 viewers, fewer than 30)" in lone.format_table()
    alone = readout("a", 400, set(range(0, 400, 5)))
    assert alone.arms["a"].p_best == 1.0 and alone.winner is None
    assert alone.weighted_winner is None
    assert "winner: none declared (one arm only)" in alone.format_table()
