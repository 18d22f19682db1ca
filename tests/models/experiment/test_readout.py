"""The experiment readout: attribution of actions to pushes and ghost pushes, posteriors."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.experiment.readout import read_experiment


def _push(rec: str, user: str, ts: int, items: list[str], arm: str) -> dict:
    return {"rec_id": rec, "room_id": "r", "user_id": user, "ts": ts, "trigger_id": f"t{ts}",
            "arm": arm, "items": [{"item_id": i} for i in items]}


def _ev(n: int, etype: str, user: str, ts: int, item: str, **more: object) -> dict:
    return {"event_id": f"e{n}", "type": etype, "room_id": "r", "user_id": user, "ts": ts,
            "item_id": item, **more}


def test_actions_convert_the_latest_push_within_the_window_only() -> None:
    pushes = [_push("p1", "u1", 1_000, ["a", "b"], "attention"),
              _push("p2", "u1", 50_000, ["c"], "attention"),
              _push("p3", "u2", 1_000, ["a"], "control")]
    ghosts = [_push("g1", "u3", 1_000, ["a"], "holdout")]
    events = [
        _ev(1, "push_open", "u1", 2_000, "a", rec_id="p1"),
        _ev(2, "purchase", "u1", 3_000, "a", amount=10.0),  # converts p1
        _ev(2, "purchase", "u1", 3_000, "a", amount=10.0),  # a redelivery: once
        _ev(3, "purchase", "u1", 60_000, "a", amount=10.0),  # latest push is p2: no
        _ev(4, "item_click", "u2", 2_000, "a"),
        _ev(5, "purchase", "u2", 900_000, "a", amount=5.0),  # beyond the window
        _ev(6, "purchase", "u3", 5_000, "a", amount=7.0),  # a ghost conversion
        _ev(7, "purchase", "u1", 500, "a", amount=1.0),  # before any push
    ]
    r = read_experiment(events, pushes, ghosts, window_ms=300_000).arms
    assert (r["attention"].pushes, r["attention"].opens, r["attention"].purchases) == (2, 1, 1)
    assert (r["attention"].converted, r["attention"].revenue) == (1, 10.0)
    assert (r["control"].clicks, r["control"].purchases) == (1, 0)
    assert r["holdout"].ghost and (r["holdout"].converted, r["holdout"].revenue) == (1, 7.0)
    assert sum(a.p_best for a in r.values()) == pytest.approx(1.0)


def test_posterior_interval_and_loss_follow_the_counts() -> None:
    pushes = [_push(f"a{n}", f"u{n}", 1_000, ["x"], "good") for n in range(400)]
    pushes += [_push(f"b{n}", f"v{n}", 1_000, ["x"], "bad") for n in range(400)]
    events = [_ev(n, "purchase", f"u{n}", 2_000, "x", amount=1.0) for n in range(80)]
    events += [_ev(1000 + n, "purchase", f"v{n}", 2_000, "x", amount=1.0) for n in range(20)]
    r = read_experiment(events, pushes).arms
    good, bad = r["good"], r["bad"]
    assert good.low < 0.2 < good.high and bad.low < 0.05 < bad.high
    assert good.p_best > 0.99 and good.expected_loss < 1e-4
    assert bad.expected_loss == pytest.approx(81 / 402 - 21 / 402, abs=0.01)
    assert np.isclose(good.conversion, 81 / 402)


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 5))
def test_the_readout_ignores_order_and_repeats(rng: random.Random, repeats: int) -> None:
    """Kafka delivers at least once, partitions interleaved: the same records, shuffled and
    some twice, give the same readout as the files."""
    pushes = [_push(f"p{n}", f"u{n % 7}", 1_000 * n, ["a", "b"][: 1 + n % 2],
                    ["attention", "control", "capped"][n % 3]) for n in range(30)]
    ghosts = [_push(f"g{n}", f"h{n}", 1_000 * n, ["a"], "holdout") for n in range(8)]
    events = [_ev(n, "purchase", f"u{n % 7}", 1_000 * n + 500, "a", amount=0.1 * n + 0.01)
              for n in range(30)]
    events += [_ev(100 + n, "push_open", f"u{n % 7}", 1_000 * n + 200, "a", rec_id=f"p{n}")
               for n in range(0, 30, 3)]
    events += [_ev(200 + n, "purchase", f"h{n}", 1_000 * n + 100, "a", amount=3.3)
               for n in range(8)]

    def mixed(records: list[dict]) -> list[dict]:
        out = records + rng.sample(records, min(repeats, len(records)))
        rng.shuffle(out)
        return out

    for n, record in enumerate(pushes + events):  # two rooms: the design effect's clusters
        record["room_id"] = "r" if n % 3 else "s"
    first = read_experiment(events, pushes, ghosts)
    again = read_experiment(mixed(events), mixed(pushes), mixed(ghosts))
    assert again.to_dict() == first.to_dict()
    assert again.pushed == first.pushed
    assert list(first.arms) == sorted(first.arms)


def test_an_account_reusing_others_event_ids_erases_none_of_their_purchases() -> None:
    """The job de-duplicates ids per room and sender (features/state/dedup.py): a heartbeat
    that takes a buyer's purchase id first is another sender's event, not a redelivery."""
    pushes = [_push(f"p{n}", f"u{n}", 1_000, ["a"], "control") for n in range(3)]
    events = [_ev(n, "purchase", f"u{n}", 2_000, "a", amount=4.0) for n in range(3)]
    thief = [_ev(n, "heartbeat", "u-thief", 1_999, "a") for n in range(3)]
    elsewhere = [{**_ev(n, "purchase", f"u{n}", 2_000, "a", amount=4.0), "room_id": "s"}
                 for n in range(3)]  # the same ids in another room: that room's events
    r = read_experiment(thief + events + elsewhere + events, pushes).arms
    assert (r["control"].purchases, r["control"].converted, r["control"].revenue) == (3, 3, 12.0)


def test_an_arm_with_pushes_and_ghost_pushes_is_two_rows() -> None:
    """A resume that made ``x`` a holdout: its exposed and would-be exposed viewers apart."""
    pushes = [_push(f"p{n}", f"u{n}", 1_000, ["a"], "x") for n in range(4)]
    ghosts = [_push(f"g{n}", f"v{n}", 1_000, ["a"], "x") for n in range(6)]
    ghosts += [_push("h0", "w0", 1_000, ["a"], "holdout")]
    events = [_ev(n, "purchase", f"v{n}", 2_000, "a", amount=2.0) for n in range(3)]
    readout = read_experiment(events, pushes, ghosts)
    r = readout.arms
    assert list(r) == ["holdout", "x", "x (ghost)"]
    assert (r["x"].ghost, r["x"].pushes, r["x"].purchases) == (False, 4, 0)
    assert (r["x (ghost)"].ghost, r["x (ghost)"].pushes, r["x (ghost)"].revenue) == (True, 6, 6.0)
    assert set(readout.pushed) == set(r)
    table = readout.format_table()
    assert "\nx (ghost) " in table and "\nholdout (ghost) " in table and "\nx    " in table


def test_a_push_is_opened_once_and_only_by_its_viewer() -> None:
    pushes = [_push("p1", "u1", 1_000, ["a"], "x"), _push("p2", "u2", 1_000, ["a"], "x")]
    events = [_ev(n, "push_open", "u-other", 1_500 + n, "a", rec_id="p1") for n in range(300)]
    events += [_ev(400 + n, "push_open", "u1", 1_500 + n, "a", rec_id="p1") for n in range(3)]
    events += [{**_ev(500, "push_open", "u2", 1_500, "a", rec_id="p2"), "room_id": "s"}]
    assert read_experiment(events, pushes).arms["x"].opens == 1


def test_wide_numbers_keep_their_columns_apart() -> None:
    """Revenue reaches 1e12 per purchase (the contract's bound); arm names run long."""
    pushes = [_push(f"p{n}", f"u{n}", 1_000, ["a"], "a-rather-long-arm-name") for n in range(3)]
    events = [_ev(n, "purchase", f"u{n}", 2_000, "a", amount=1e12) for n in range(3)]
    table = read_experiment(events, pushes).format_table().splitlines()
    header, row = table[1].split(), table[2].split()
    assert header[:6] == ["arm", "pushes", "opens", "clicks", "buys", "revenue"]
    assert row[:6] == ["a-rather-long-arm-name", "3", "0", "0", "3", "3,000,000,000,000.00"]


def test_free_or_repeated_orders_of_a_few_accounts_do_not_pick_the_winner() -> None:
    """Two equal arms; 3 accounts of ``b`` post 40 orders after each of their 10 pushes, of
    amount 0 (``free``) or 0.01 (``paid``). Orders of amount 0 convert nothing; paid ones
    convert each push once and each viewer once in the weighted table."""
    arms = "ab"
    pushes = [{**_push(f"p{n}-{k}", f"u{n}", 60_000 * k, ["x"], arms[n % 2]),
               "room_id": f"r{n % 7}"} for n in range(400) for k in range(10)]
    assigned = [{"kind": "assignment", "room_id": f"r{n % 7}", "user_id": f"u{n}",
                 "trigger_id": "t0", "ts": 0, "arm": arms[n % 2], "probability": 0.5}
                for n in range(400)]
    honest = [{**_ev(n * 10 + k, "purchase", f"u{n}", 60_000 * k + 1, "x", amount=9.0),
               "room_id": f"r{n % 7}"} for n in range(0, 400, 7) for k in range(2)]

    def orders(amount: float) -> list[dict]:
        return [{**_ev(100_000 + n * 1_000 + k * 40 + c, "purchase", f"u{n}",
                       60_000 * k + 2 + c, "x", amount=amount), "room_id": f"r{n % 7}"}
                for n in (1, 3, 5) for k in range(10) for c in range(40)]

    free = read_experiment(honest + orders(0.0), pushes, assigned)
    fair = read_experiment(honest, pushes, assigned)
    assert free.arms["b"].purchases == fair.arms["b"].purchases + 1_200
    assert free.arms["b"].converted == fair.arms["b"].converted
    assert free.weighted["b"].weighted == fair.weighted["b"].weighted
    paid = read_experiment(honest + orders(0.01), pushes, assigned)
    assert paid.arms["b"].converted <= fair.arms["b"].converted + 30  # a push converts once
    assert paid.weighted["b"].plain == pytest.approx(fair.weighted["b"].plain + 3 / 200)
    assert paid.weighted_winner is None  # 3 viewers of 200, however many orders
