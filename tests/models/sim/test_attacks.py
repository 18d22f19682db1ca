"""Manipulation (``models.sim.attacks``): one account repeating a choice moves what the other
viewers are shown no more than one honest vote does."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from models.params import RoomParams
from models.room import Room
from models.sim.attack_outcome import outcome, replay_pushes
from models.sim.attacks import ATTACKER, HOLDERS, Target, inject
from models.sim.world import World


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_click_farm_counts_as_one_vote(seed: int) -> None:
    events = list(World(seed, 3, 150, 8).events())
    params = RoomParams()
    shares = {}
    for attack in ("one-vote", "click-farm"):
        attacked, targets = inject(events, attack)
        shares[attack] = outcome(attacked, replay_pushes(attacked, params), targets)
    farm, vote = shares["click-farm"], shares["one-vote"]
    assert farm.pushes > 100
    # Before the defence (main at a6b28ff) the farm reached 0.93-0.96 of these pushes and a
    # single vote 0.62-0.65; with it both reach 0.36-0.47.
    assert farm.target_share <= vote.target_share + 0.05
    assert farm.target_share < 0.6
    # Others' HR@3 under the farm against one vote, on these ~365 actions (one action is
    # 0.003, one standard error about 0.01): −0.008 to +0.008 with the SGD learner alone,
    # −0.011 to +0.006 with the leader of two (seeds 1-8), −0.018 to +0.013 from the pooled
    # priors (seeds 1-8, mean −0.003), −0.019 to +0.007 with the item's place in the host's
    # list (seeds 1-8, mean −0.001); on the lab's worlds −0.004 and −0.001
    # (docs/evaluation.md).
    assert farm.others_hr >= vote.others_hr - 0.025


def test_attackers_are_added_and_left_out_of_the_outcome() -> None:
    events = list(World(4, 1, 40, 4).events())
    attacked, targets = inject(events, "sybil", period_ms=5_000)
    added = [e for e in attacked if e.get("user_id", "").startswith(ATTACKER)]
    assert targets and len(attacked) == len(events) + len(added)
    assert len({e["user_id"] for e in added}) == 20 * len(targets)
    assert [e["ts"] for e in attacked] == sorted(e["ts"] for e in attacked)
    pushes = replay_pushes(attacked, RoomParams())
    assert any(user.startswith(ATTACKER) for _, user, _, _ in pushes)
    mine = outcome(attacked, pushes, targets)
    others = [p for p in pushes if not p[1].startswith(ATTACKER)]
    assert mine == outcome(attacked, others, targets)


def test_an_unknown_attack_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown attack 'flood'; attacks: one-vote"):
        inject([], "flood")


@pytest.mark.parametrize("attack", ["id-squat", "clock-jump", "clock-hold"])
def test_forged_ids_and_clocks_leave_the_others_pushes_as_they_were(attack: str) -> None:
    """Before the fix (main at bef2c16) an id squat dead-lettered every showcase change and a
    clock jumper had every other viewer forgotten: the others' HR@3 fell to about a quarter
    (lab worlds: 0.36 → 0.08 and 0.22, docs/evaluation.md). A crowd holding the room's time
    back (``test_a_clock_hold_holds_the_room_s_time_back``) never could."""
    events = list(World(1, 3, 150, 8).events())
    params = RoomParams()
    _, targets = inject(events, "one-vote")  # the same spans and target items
    before = outcome(events, replay_pushes(events, params), targets)
    attacked, targets = inject(events, attack)
    after = outcome(events, replay_pushes(attacked, params), targets)
    assert after.pushes == before.pushes > 100
    assert after.others_hr >= before.others_hr - 0.01
    assert after.target_share <= before.target_share + 0.02


def test_a_clock_jump_arrives_ahead_of_its_ts() -> None:
    events = list(World(4, 1, 40, 4).events())
    attacked, targets = inject(events, "clock-jump")
    jumps = [n for n, e in enumerate(attacked) if e.get("user_id", "").startswith(ATTACKER)]
    assert targets and jumps
    newest_honest = max(e["ts"] for e in attacked[: jumps[0]])
    assert attacked[jumps[0]]["ts"] >= newest_honest + 599_000 - 10_000


def _lag_behind_the_audience(stream: list[dict[str, Any]]) -> list[int]:
    """After each honest event, how far the room's time is behind the newest honest ``ts``."""
    rooms: dict[str, Room] = {}
    newest: dict[str, int] = {}
    lags = []
    for n, e in enumerate(stream):
        event = decode_event(orjson.dumps(e), Origin("attack", 0, n))
        assert isinstance(event, Event)
        room = rooms.setdefault(event.room_id, Room(event.room_id, RoomParams()))
        room.accept([event])
        if not e.get("user_id", "").startswith(ATTACKER) and e["type"] != "room_close":
            newest[e["room_id"]] = max(newest.get(e["room_id"], 0), e["ts"])
            lags.append(newest[e["room_id"]] - room.clock)
    return sorted(lags)


def test_a_clock_hold_holds_the_room_s_time_back() -> None:
    """The shape does what it says, so the lab's number for it measures the hold: heartbeats
    from ``HOLDERS`` accounts stamped with their showcase's time arrive through it, and the
    room's time falls behind its audience's (held 45 s after each showcase). Each shape's damage
    is measured by the lab (docs/evaluation.md)."""
    events = list(World(1, 2, 80, 6).events())
    attacked, targets = inject(events, "clock-hold")
    holds = [e for e in attacked if e.get("user_id", "").startswith(ATTACKER)]
    shows = {e["ts"] for e in events if e["type"] == "showcase"}
    assert targets and holds and {e["ts"] for e in holds} <= shows
    for room in {e["room_id"] for e in events}:
        assert len({e["user_id"] for e in holds if e["room_id"] == room}) == HOLDERS
    assert {e["type"] for e in holds} == {"heartbeat"}
    newest, late = 0, []  # how long after its ts each heartbeat arrives
    for e in attacked:
        newest = max(newest, e["ts"])
        if e.get("user_id", "").startswith(ATTACKER):
            late.append(newest - e["ts"])
    assert min(late) >= 0 and max(late) > 30_000
    clean, held = _lag_behind_the_audience(events), _lag_behind_the_audience(attacked)
    tail = len(clean) * 9 // 10
    # the slowest tenth: about 10 s further back here (1 or 3 accounts: not at all)
    assert held[tail] > clean[tail] + 5_000


def _accounts_by_target(attacked: list[dict[str, Any]], targets: list[Target],
                        ) -> dict[Target, dict[str, list[dict[str, Any]]]]:
    """Each target's accounts and their events (every account must fall in one target)."""
    out: dict[Target, dict[str, list[dict[str, Any]]]] = {t: {} for t in targets}
    for e in attacked:
        if not e.get("user_id", "").startswith(ATTACKER):
            continue
        span = [t for t in targets if t.room_id == e["room_id"] and t.start <= e["ts"] < t.end]
        assert len(span) == 1, e
        out[span[0]].setdefault(e["user_id"], []).append(e)
    users = [u for accounts in out.values() for u in accounts]
    assert len(users) == len(set(users))  # fresh accounts: none acts in two showcases
    return out


@pytest.mark.parametrize("attack", ["poison", "demote"])
def test_aimed_attacks_send_fresh_accounts_at_what_the_room_pushed(attack: str) -> None:
    events = list(World(2, 2, 80, 6).events())
    clean = replay_pushes(events, RoomParams())
    attacked, targets = inject(events, attack, accounts=7, pushes=clean)
    assert (attacked, targets) == inject(events, attack, accounts=7, pushes=clean)
    assert len(attacked) > len(events) and len(targets) > 5
    shows = {(e["room_id"], e["ts"] + 300): e for e in events if e["type"] == "showcase"}
    for target, accounts in _accounts_by_target(attacked, targets).items():
        show = shows[(target.room_id, target.start)]
        on_show = [it["item_id"] for it in show["items"]]
        pushed = Counter(item for room, user, ts, items in clean
                         if room == target.room_id and target.start <= ts < target.end
                         for item in items)
        assert 1 <= len(accounts) <= 7
        for mine in accounts.values():
            kinds = [e["type"] for e in mine]
            chosen = [e["item_id"] for e in mine if "item_id" in e]
            assert kinds[0] == "enter" and len(set(chosen)) == len(chosen)
            assert set(chosen) <= set(on_show)
            if attack == "poison":  # a click, a cart of another item, a click of a third
                assert kinds[1:] == ["item_click", "add_to_cart", "item_click"]
                cold = sorted((i for i in on_show if i != show["spotlight"]),
                              key=lambda i: pushed[i])
                assert set(chosen) <= set(cold[:max(3, len(cold) // 2)])
            else:  # every item on show but the most pushed one, which is the target
                assert pushed[target.item_id] == max(pushed.values())
                assert set(kinds[1:]) == {"item_click"} and len(chosen) <= len(on_show) - 1
                assert target.item_id not in chosen
        if attack == "demote":
            assert any(len(m) == len(on_show) for m in accounts.values())  # enter + N-1


def test_aimed_attacks_need_the_clean_pushes() -> None:
    with pytest.raises(ValueError, match="poison aims at what the room pushes: pass the clean"):
        inject([], "poison")


def test_accounts_teaching_the_learner_cost_the_others_less_than_one_learner_lets_them() -> None:
    """Accounts every showcase teach the room's learner: fresh ones (``poison``, ``demote``)
    and ones that chose a showcase before (``sleeper``). The room ranks with what its
    established viewers' choices say, while their purchases agree (``models.learners.judged``).
    On these worlds (3 rooms, 15 min, seeds 1-3) the others' HR@3 fell, mean over the seeds
    under poison / demote / sleeper: one learner 0.087 / 0.130 / 0.088 (worst 0.130); judged
    by the established viewers alone 0.064 / 0.046 / 0.126 (worst 0.126: sleepers judge too);
    with the established viewers' purchases agreeing 0.068 / 0.088 / 0.095 (worst 0.095).
    What is left comes mostly through the shared statistics, which count each fresh account's
    vote like a fan's, and from the choices the room waits for before it switches."""
    params = RoomParams()
    losses: dict[str, list[float]] = {"poison": [], "demote": [], "sleeper": []}
    for seed in (1, 2, 3):
        events = list(World(seed, 3, 150, 15).events())
        clean = replay_pushes(events, params)
        for attack, lost in losses.items():
            attacked, targets = inject(events, attack, pushes=clean)
            before = outcome(events, clean, targets)
            after = outcome(attacked, replay_pushes(attacked, params), targets)
            assert after.actions == before.actions > 700
            lost.append(before.others_hr - after.others_hr)
    mean = {attack: sum(lost) / 3 for attack, lost in losses.items()}
    assert mean["poison"] < 0.075
    assert max(mean.values()) < 0.11, mean


def _showcases(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    shows: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["type"] == "showcase" and e.get("items"):
            shows.setdefault(e["room_id"], []).append(e)
    return shows


def test_sleepers_poison_every_showcase_after_the_first_having_chosen_before() -> None:
    """``sleeper`` is ``poison`` (the same accounts, choices and times) on every showcase but
    each room's first, and each of its accounts clicked, during the showcase before, the item
    pushed most there among those it will not poison with, in an earlier second."""
    events = list(World(2, 2, 80, 6).events())
    clean = replay_pushes(events, RoomParams())
    poisoned, aims = inject(events, "poison", accounts=7, pushes=clean)
    attacked, targets = inject(events, "sleeper", accounts=7, pushes=clean)
    assert (attacked, targets) == inject(events, "sleeper", accounts=7, pushes=clean)
    shows = _showcases(events)
    firsts = {room: mine[0]["ts"] + 300 for room, mine in shows.items()}
    assert targets == [t for t in aims if t.start != firsts[t.room_id]] and len(targets) > 5
    later = set(targets)
    poisoning = [e for t, accounts in _accounts_by_target(poisoned, aims).items()
                 if t in later for mine in accounts.values() for e in mine]
    sleeping = [e for e in attacked
                if e.get("user_id", "").startswith(ATTACKER) and "-early-" not in e["event_id"]]
    assert sorted(sleeping, key=lambda e: e["event_id"]) == sorted(
        poisoning, key=lambda e: e["event_id"])
    accounts: dict[str, list[dict[str, Any]]] = {}
    for e in attacked:
        if e.get("user_id", "").startswith(ATTACKER):
            accounts.setdefault(e["user_id"], []).append(e)
    assert len(accounts) == len({e["user_id"] for e in poisoning}) > 30
    for mine in accounts.values():
        assert [e["type"] for e in mine] == [
            "enter", "item_click", "enter", "item_click", "add_to_cart", "item_click"]
        fan, poison = mine[1], mine[3:]
        target = next(t for t in targets if t.room_id == fan["room_id"]
                      and t.start <= poison[0]["ts"] < t.end)
        room = shows[target.room_id]
        n = next(n for n, show in enumerate(room) if show["ts"] + 300 == target.start)
        previous = room[n - 1]
        assert previous["ts"] < fan["ts"] and fan["ts"] // 1000 < room[n]["ts"] // 1000
        pushed = Counter(item for r, user, ts, items in clean if r == target.room_id
                         and previous["ts"] + 300 <= ts < room[n]["ts"] for item in items)
        choices = {e["item_id"] for e in poison}
        liked = [it["item_id"] for it in previous["items"] if it["item_id"] not in choices]
        assert fan["item_id"] in liked
        assert pushed[fan["item_id"]] == max(pushed[i] for i in liked)


def test_paying_sleepers_buy_what_sleepers_cart_at_its_price() -> None:
    events = list(World(2, 2, 80, 6).events())
    clean = replay_pushes(events, RoomParams())
    sleeping, aims = inject(events, "sleeper", accounts=7, pushes=clean)
    paying, targets = inject(events, "paying-sleeper", accounts=7, pushes=clean)
    assert targets == aims and len(paying) == len(sleeping)
    prices = {(e["room_id"], e["ts"], it["item_id"]): it["price"]
              for e in events if e["type"] == "showcase" for it in e["items"]}
    bought = 0
    for cart, bought_it in zip(sleeping, paying, strict=True):
        if cart.get("user_id", "").startswith(ATTACKER) and cart["type"] == "add_to_cart":
            assert bought_it == {**cart, "type": "purchase", "amount": bought_it["amount"]}
            target = next(t for t in targets if t.room_id == cart["room_id"]
                          and t.start <= cart["ts"] < t.end)
            assert bought_it["amount"] == prices[(cart["room_id"], target.start - 300,
                                                  cart["item_id"])]
            bought += 1
        else:
            assert bought_it == cart
    assert bought > 20
    decoded = [decode_event(orjson.dumps(e), Origin("test", 0, n))
               for n, e in enumerate(paying) if e["type"] == "purchase"]
    assert all(not isinstance(d, DeadLetter) for d in decoded)  # the contract's purchases


def test_the_room_counts_sleepers_as_established_and_poisoners_as_new(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the judged learner is told of each attacker's choice: under ``poison`` every one
    is a new viewer's, so only the learner taught by everyone learns it; under ``sleeper``
    every poisoning choice is an established viewer's, so both learners learn it and it
    judges them."""
    import models.room

    told: dict[str, list[bool]] = {}
    judge = models.room.chose_before

    def spy(viewers: Any, row: int, ts: int) -> bool:
        established = judge(viewers, row, ts)
        user = str(viewers.rows.ids[row])
        if user.startswith(ATTACKER):
            told.setdefault(user, []).append(established)
        return established

    monkeypatch.setattr(models.room, "chose_before", spy)
    events = list(World(2, 2, 80, 6).events())
    clean = replay_pushes(events, RoomParams())
    for attack in ("poison", "sleeper"):
        told.clear()
        attacked, _ = inject(events, attack, accounts=7, pushes=clean)
        replay_pushes(attacked, RoomParams())
        said = [established for mine in told.values() for established in mine]
        assert len(told) > 30 and len(said) >= 3 * len(told)
        if attack == "poison":
            assert not any(said)
        else:  # the fan's click, new; then three choices as one who chose before
            assert all(mine == [False, True, True, True] for mine in told.values())
