"""The room's choice model judged by its established viewers and its purchases
(``models.learners.judged``): fresh accounts teach one learner, the room ranks with whichever
predicts its regulars, and only while the purchases agree."""

from __future__ import annotations

import numpy as np

from models.learners.judged import JudgedNewton, hit
from models.learners.newton import NewtonSoftmax
from models.params import RoomParams
from models.room import Room
from tests.models.choice_rooms import T0, event

TASTE, POWER = ("a", "b"), ("bias",)
START = {"a": 1.0, "b": 0.0}


def _showcases(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (6, 3)) for _ in range(n)]


def _liked(x: np.ndarray) -> int:
    """What the room's regulars choose: the item highest on ``a``."""
    return int(np.argmax(x[:, 0]))


def test_fresh_accounts_teaching_the_opposite_do_not_decide_what_the_room_ranks_with() -> None:
    model = JudgedNewton(TASTE, POWER, initial=START)
    plain = NewtonSoftmax(TASTE, POWER, initial=START)
    regular_hits = plain_hits = 0
    for n, x in enumerate(_showcases(1, 400)):
        if n % 5 == 0:  # one choice in five is an established viewer's, one in ten a purchase
            chosen = _liked(x)
            p = model.learn_choice(x, chosen, 1.0, established=True, purchase=n % 10 == 0)
            q = plain.learn_matrix(x, chosen)
            assert p is not None and q is not None
            regular_hits += hit(p, chosen)
            plain_hits += hit(q, chosen)
        else:  # four of five are fresh accounts choosing the item lowest on ``a``
            chosen = int(np.argmin(x[:, 0]))
            model.learn_choice(x, chosen, 1.0, established=False)
            plain.learn_matrix(x, chosen)
    assert model.everyone.weights[0] < 0 < model.regulars.weights[0]  # each learnt its own
    assert model.leader is model.regulars and model.score < -20 and model.purchase_score < -5
    np.testing.assert_array_equal(model.weights, model.regulars.weights)  # what pushes read
    assert regular_hits > 70 and plain_hits < 30  # of the 80 regulars' choices


def test_newcomers_choosing_like_the_regulars_teach_the_room() -> None:
    model = JudgedNewton(TASTE, POWER, initial={"a": 0.0, "b": 0.0})
    for n, x in enumerate(_showcases(2, 60)):
        model.learn_choice(x, _liked(x), 1.0, established=n % 3 == 0)
    assert model.leader is model.everyone and model.score >= 0
    assert model.everyone.learned == 60 and model.regulars.learned == 20
    assert model.weights[0] > model.regulars.weights[0] > 0  # more evidence, further


def test_a_choice_of_unknown_standing_is_learned_as_the_newton_learner_learns_it() -> None:
    model, plain = JudgedNewton(TASTE, POWER, initial=START), NewtonSoftmax(TASTE, POWER,
                                                                           initial=START)
    for x in _showcases(3, 30):
        p, q = model.learn_matrix(x, 2), plain.learn_matrix(x, 2)
        assert p is not None and q is not None
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(model.weights, plain.weights)
    np.testing.assert_array_equal(model.precision, plain.precision)
    assert model.learned == plain.learned == 30


def test_weights_set_from_outside_are_where_both_learners_go_on_from() -> None:
    """A snapshot stores the weights the room ranks with; a restored room learns on from
    them with both learners and judges them afresh."""
    model = JudgedNewton(TASTE, POWER, initial=START)
    for x in _showcases(4, 40):
        model.learn_choice(x, int(np.argmin(x[:, 0])), 1.0, established=False)
    restored = JudgedNewton(TASTE, POWER, initial=START)
    restored.weights, restored.precision = model.weights.copy(), model.precision.copy()
    restored.score, restored.split_decisions = -5, 5
    x = _showcases(5, 1)[0]
    restored.learn_choice(x, 0, 1.0, established=True)
    twin = NewtonSoftmax(TASTE, POWER, initial=START)
    twin.weights, twin.precision = model.weights.copy(), model.precision.copy()
    twin.learn_matrix(x, 0)
    for learner in (restored.everyone, restored.regulars):
        np.testing.assert_array_equal(learner.weights, twin.weights)
    assert restored.score == restored.split_decisions == 0
    assert restored.leader is restored.everyone


def test_a_warm_start_starts_both_learners() -> None:
    model = JudgedNewton(TASTE, POWER, initial=START)
    model.start_from((0.5, -0.5, 2.0), frozenset({"b"}))
    for learner in (model, model.everyone, model.regulars):
        np.testing.assert_array_equal(learner.weights, [0.5, 0.0, 2.0])
    for x in _showcases(6, 10):
        model.learn_choice(x, 1, 1.0, established=True)
    assert model.weights[1] == 0.0 and model.regulars.weights[1] == 0.0  # held off


def test_the_room_judges_by_who_chose_before_the_showcase_began() -> None:
    items = [{"item_id": f"sku-{n}", "price": 5.0 + n, "category": f"c{n}"} for n in range(4)]
    room = Room("r", RoomParams())
    room.accept([
        event(0, type="showcase", ts=T0, spotlight=None, items=items),
        event(1, type="item_click", ts=T0 + 1_000, user_id="regular", item_id="sku-0"),
        event(2, type="showcase", ts=T0 + 60_000, spotlight=None, items=items),
        event(3, type="item_click", ts=T0 + 61_000, user_id="regular", item_id="sku-1"),
        event(4, type="item_click", ts=T0 + 62_000, user_id="fresh", item_id="sku-2"),
        event(5, type="add_to_cart", ts=T0 + 63_000, user_id="fresh", item_id="sku-3"),
    ])
    room.flush()
    model = room.model
    assert isinstance(model, JudgedNewton)
    assert model.everyone.learned == 4  # every choice
    assert model.regulars.learned == 1  # the regular's in the second showcase only
    told: list[tuple[bool, bool]] = []
    told_by = model.next_choice_by
    model.next_choice_by = lambda *said: (told.append(said), told_by(*said))[1]  # type: ignore
    room.accept([event(6, type="purchase", ts=T0 + 64_000, user_id="fresh", item_id="sku-3",
                       amount=8.0),
                 event(7, type="item_click", ts=T0 + 65_000, user_id="regular", item_id="sku-2")])
    room.flush()
    assert told == [(False, True), (True, False)]  # who, and whether it was bought


def test_its_evidence_resumed_goes_on_exactly() -> None:
    model = JudgedNewton(TASTE, POWER, initial=START)
    stream = [(x, n % 4 != 0) for n, x in enumerate(_showcases(7, 120))]
    for n, (x, fresh) in enumerate(stream[:80]):
        model.learn_choice(x, int(np.argmin(x[:, 0])) if fresh else _liked(x), 1.0, not fresh,
                           purchase=n % 8 == 0)
    weights, precisions, score, split, purchases = model.evidence()
    assert model.leader is model.regulars and score < 0 < split and purchases < 0
    np.testing.assert_array_equal(weights[-1], model.regulars.weights)  # the ranked one last
    np.testing.assert_array_equal(weights[0], model.everyone.weights)
    again = JudgedNewton(TASTE, POWER, initial=START)
    assert not again.resume(weights[:1], precisions[:1], score)  # not this learner's shapes
    assert again.resume(weights.copy(), precisions.copy(), score, split, purchases)
    for n, (x, fresh) in enumerate(stream[80:]):
        chosen = int(np.argmin(x[:, 0])) if fresh else _liked(x)
        p, q = (m.learn_choice(x, chosen, 1.0, not fresh, purchase=n % 8 == 0)
                for m in (model, again))
        assert p is not None and q is not None
        np.testing.assert_array_equal(p, q)
    assert again.score == model.score < 0 and again.split_decisions == model.split_decisions
    assert again.purchase_score == model.purchase_score < 0
    np.testing.assert_array_equal(again.weights, model.weights)


def test_a_restored_room_keeps_both_learners_and_their_score() -> None:
    room = Room("r", RoomParams())
    items = [{"item_id": f"sku-{n}", "price": 5.0 + n, "category": f"c{n}"} for n in range(4)]
    room.accept([event(0, type="showcase", ts=T0, spotlight=None, items=items)])
    model = room.model
    assert isinstance(model, JudgedNewton)
    for n, x in enumerate(_showcases(8, 60)):  # the room's learners, taught directly
        wide = np.zeros((6, len(model.names)))
        wide[:, :3] = x
        model.learn_choice(wide, int(np.argmin(x[:, 0])) if n % 4 else _liked(x), 1.0, n % 4 == 0,
                           purchase=n % 8 == 0)
    assert model.leader is model.regulars  # the order a snapshot stores them in matters
    restored = Room.restore(room.snapshot(), RoomParams())
    assert isinstance(restored.model, JudgedNewton) and restored.model.score == model.score
    assert restored.model.split_decisions == model.split_decisions > 0
    assert restored.model.purchase_score == model.purchase_score < 0
    assert restored.model.leader is restored.model.regulars
    for mine, theirs in ((model.everyone, restored.model.everyone),
                         (model.regulars, restored.model.regulars), (model, restored.model)):
        np.testing.assert_array_equal(mine.weights, theirs.weights)
        np.testing.assert_array_equal(mine.precision, theirs.precision)


def test_a_hit_is_a_choice_in_the_pushes_own_width() -> None:
    p = np.array([0.4, 0.3, 0.2, 0.06, 0.04])
    assert hit(p, 2) and not hit(p, 3) and hit(p, 3, top=4) and not hit(p, 4, top=4)
    assert hit(np.full(5, 0.2), 4)  # ties count in the choice's favour
    params = RoomParams(top_k=5)
    model = Room("r", params).model
    assert isinstance(model, JudgedNewton) and model.top == 5
    try:
        JudgedNewton(TASTE, POWER, top=0)
    except ValueError as error:
        assert "top must be at least 1" in str(error)
    else:
        raise AssertionError("top 0 was taken")


def test_a_refused_choice_teaches_neither_learner() -> None:
    model = JudgedNewton(TASTE, POWER, initial=START)
    x = _showcases(9, 1)[0]
    x[1, 0] = np.inf
    assert model.learn_choice(x, 0, 1.0, established=True) is None
    assert model.everyone.learned == model.regulars.learned == 0 and model.score == 0
    assert model.refused == 1


def test_learners_that_agree_are_stored_as_one() -> None:
    """Until a fresh account teaches one learner alone, both are the same: a snapshot keeps
    one (an untaught room's stays small) and a restore goes on exactly."""
    model = JudgedNewton(TASTE, POWER, initial=START)
    assert not model.split
    for x in _showcases(10, 20):
        model.learn_choice(x, _liked(x), 1.0, established=True)
    assert not model.split and model.everyone.learned == model.regulars.learned == 20
    model.learn_choice(_showcases(11, 1)[0], 0, 1.0, established=False)
    assert model.split


def test_the_regulars_learner_ranks_only_when_it_leads_beyond_chance() -> None:
    """In a clean room the two learners trade hits like a coin: the one taught by everyone
    (more data) keeps ranking until the regulars' leads by more than ``Z`` sd of a fair
    coin's count of the split decisions."""
    model = JudgedNewton(TASTE, POWER, initial=START)
    model.purchase_score = -1  # the purchases lean the regulars' way
    model.score, model.split_decisions = -3, 9  # 3 of 9 each way plus 3: within chance
    assert model.leader is model.everyone
    model.score, model.split_decisions = -7, 9  # 8 of 9 to the regulars: beyond it
    assert model.leader is model.regulars
    model.score, model.split_decisions = 7, 9
    assert model.leader is model.everyone
    again = JudgedNewton(TASTE, POWER, initial=START)  # a snapshot without the count
    assert again.resume(np.stack([model.weights] * 2), np.stack([model.precision] * 2), -5,
                        purchase_score=-1)
    assert again.split_decisions == 5 and again.leader is again.regulars


def test_the_regulars_learner_ranks_only_while_the_purchases_lean_its_way() -> None:
    model = JudgedNewton(TASTE, POWER, initial=START)
    model.score, model.split_decisions = -7, 9  # beyond chance on the established choices
    for purchases, leader in ((0, model.everyone), (1, model.everyone), (-1, model.regulars)):
        model.purchase_score = purchases
        assert model.leader is leader


def test_sleepers_established_beforehand_do_not_make_the_room_rank_with_what_they_taught() -> None:
    """Accounts that chose once the showcase before are established: they teach the regulars'
    learner and judge it, and it lacks the honest newcomers' choices, so on established
    choices alone it wins. The honest regulars' purchases, which it misses, keep the room on
    the learner taught by everyone; a fresh account's purchase does not judge."""
    model = JudgedNewton(TASTE, POWER, initial=START)
    for n, x in enumerate(_showcases(12, 400)):
        match n % 10:
            case 0 | 1:  # honest regulars, one choice in ten a purchase
                model.learn_choice(x, _liked(x), 1.0, established=True, purchase=n % 10 == 0)
            case 2 | 3 | 4 | 5:  # sleepers, established, teaching the opposite
                model.learn_choice(x, int(np.argmin(x[:, 0])), 1.0, established=True)
            case 6:  # a fresh account buying what the sleepers taught
                model.learn_choice(x, int(np.argmin(x[:, 0])), 1.0, established=False,
                                   purchase=True)
            case _:  # honest newcomers
                model.learn_choice(x, _liked(x), 1.0, established=False)
    assert model.regulars.weights[0] < 0 < model.everyone.weights[0]
    assert model.score < 0 and model.score ** 2 > 4 * model.split_decisions  # alone: switch
    assert model.purchase_score > 20 and model.leader is model.everyone
    np.testing.assert_array_equal(model.weights, model.everyone.weights)


def test_an_older_snapshot_is_read_in_its_own_order_and_then_judged_by_purchases() -> None:
    """A snapshot from before purchases judged stored the regulars' learner last when the
    score alone made it lead; it is read so, and the room ranks with everyone's learner until
    a purchase leans the regulars' way."""
    model = JudgedNewton(TASTE, POWER, initial=START)
    for n, x in enumerate(_showcases(13, 60)):
        model.learn_choice(x, _liked(x) if n % 3 == 0 else int(np.argmin(x[:, 0])), 1.0,
                           established=n % 3 == 0, purchase=n % 3 == 0)
    weights, precisions, score, split, purchases = model.evidence()
    assert model.leader is model.regulars and purchases < 0
    older = JudgedNewton(TASTE, POWER, initial=START)
    assert older.resume(weights.copy(), precisions.copy(), score, split)  # no purchase score
    np.testing.assert_array_equal(older.regulars.weights, model.regulars.weights)
    np.testing.assert_array_equal(older.everyone.weights, model.everyone.weights)
    assert older.purchase_score == 0 and older.leader is older.everyone
    np.testing.assert_array_equal(older.weights, model.everyone.weights)
