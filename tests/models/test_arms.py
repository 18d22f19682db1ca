"""Experiment arms: parsing, shares and a stable assignment."""

from __future__ import annotations

import doctest
import re
from collections import Counter

import numpy as np
import pytest

import models.arms
from features.state.viewers import ViewerTable
from models.arms import MAX_ARMS, Arms, moved_share, split_change

USERS = [f"u-{n}" for n in range(20_000)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Bandit=1", ["Bandit", "lower-case"]),
        ("attention=0.5,greedy=0.5:speed=2", ["greedy", "speed=2", "temperature"]),
        ("hot=1:temperature=0", ["hot", "temperature", "from 0.01 to 100"]),
        ("hot=1:temperature", ["hot", "KEY=VALUE"]),
        ("hot=1:ranker=bandit", ["hot", "ranker", "attention or control", "bandit"]),
        ("hot=1:k=0", ["hot", "k", "integer > 0"]),
        ("hot=1:cap=-5", ["hot", "cap", "seconds"]),
        ("hot=1:skip_same=yes", ["hot", "skip_same", "0 or 1"]),
        ("attention=0.5,attention=0.5", ["attention", "twice"]),
        ("attention=lots", ["attention", "number", "lots"]),
        ("attention=0.9,control=", ["control", "number"]),
        ("attention=-0.1,control=1", ["attention", ">= 0"]),
        ("attention=nan", ["attention"]),
        ("attention=inf", ["attention"]),
        ("attention=inf,control=0.1", ["attention"]),
        ("", ["positive share"]),
        (" , ,", ["positive share"]),
        ("attention=0,control=0", ["positive share"]),
    ],
)
def test_parse_errors_are_clear_value_errors(text: str, words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        Arms.parse(text)
    message = str(err.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_parse_normalises_and_tolerates_spaces() -> None:
    arms = Arms.parse(" attention = 3 , control=1 ")
    assert arms.names == ("attention", "control")
    assert arms.shares == pytest.approx((0.75, 0.25))
    assert Arms.parse("attention").shares == (1.0,)
    assert Arms.parse(str(arms)) == arms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attention=0.9,control=0.1", {"attention": 0.9, "control": 0.1}),
        ("attention=0.5,control=0.5", {"attention": 0.5, "control": 0.5}),
        ("control=3,attention=1", {"attention": 0.25, "control": 0.75}),
    ],
)
def test_shares_are_respected_over_many_ids(text: str, expected: dict[str, float]) -> None:
    arms = Arms.parse(text)
    counts = Counter(arms.assign(user, "roomrank-v1") for user in USERS)
    assert set(counts) == set(expected)
    for name, share in expected.items():
        assert counts[name] / len(USERS) == pytest.approx(share, abs=0.02), counts


@pytest.mark.parametrize("text", ["attention=1", "attention", "attention=1,control=0"])
def test_all_attention_sends_everyone_to_attention(text: str) -> None:
    arms = Arms.parse(text)
    assert {arms.assign(user, "exp") for user in USERS[:5_000]} == {"attention"}
    assert {arms.index(user, "exp") for user in USERS[:5_000]} == {arms.names.index("attention")}


def test_zero_share_arm_never_gets_anyone() -> None:
    arms = Arms.parse("control=0,attention=1")
    assert {arms.assign(user, "exp") for user in USERS[:5_000]} == {"attention"}


def test_assignment_is_stable_across_calls_and_instances() -> None:
    first = Arms.parse("attention=0.5,control=0.5")
    second = Arms.parse("attention=0.5,control=0.5")
    picks = [first.assign(user, "exp-a") for user in USERS[:2_000]]
    assert picks == [first.assign(user, "exp-a") for user in USERS[:2_000]]
    assert picks == [second.assign(user, "exp-a") for user in USERS[:2_000]]
    for user, pick in zip(USERS[:2_000], picks, strict=True):
        assert first.names[first.index(user, "exp-a")] == pick


def test_experiment_name_reshuffles() -> None:
    arms = Arms.parse("attention=0.5,control=0.5")
    a = [arms.assign(user, "exp-a") for user in USERS[:2_000]]
    b = [arms.assign(user, "exp-b") for user in USERS[:2_000]]
    changed = sum(x != y for x, y in zip(a, b, strict=True)) / len(a)
    assert 0.4 < changed < 0.6  # independent halves: about half move


def test_variants_parse_with_defaults_by_name_and_round_trip() -> None:
    arms = Arms.parse(
        "attention=0.4,cool=0.2:temperature=2:k=5:cap=60:skip_same=1,control=0.2,holdout=0.2"
    )
    attention, cool, control, holdout = arms.specs
    assert (attention.ranker, attention.holdout) == ("attention", False)
    assert not attention.has_policy
    assert (cool.temperature, cool.top_k, cool.cap_ms, cool.skip_same) == (2.0, 5, 60_000, True)
    assert control.ranker == "control" and not control.holdout
    assert holdout.holdout and holdout.ranker == "attention"  # its ghost is attention's push
    assert Arms.parse(str(arms)) == arms
    assert Arms.parse("attention=0.9,control=0.1").plain
    assert not arms.plain
    assert Arms.parse("b=1:ranker=control").is_control(0)


@pytest.mark.parametrize("text", ["holdout", "holdout=1,attention=0", "a=1:holdout=1"])
def test_arms_that_push_to_nobody_are_refused(text: str) -> None:
    # An operator who writes only holdout arms would run an experiment with no exposed viewer.
    with pytest.raises(ValueError, match="no viewer would get a push"):
        Arms.parse(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a=1:temperature=1e-100", "temperature must be a number from 0.01 to 100"),
        ("a=1:temperature=1e3", "temperature must be a number from 0.01 to 100"),
        ("a=1:temperature=nan", "temperature must be a number from 0.01 to 100"),
        ("a=1:cap=0.0001", "cap must be 0 (off) or seconds >= 0.001"),
        ("a=1:cap=1:cap=600", "cap is given twice"),
        ("a=1:k=3:k=4", "k is given twice"),
    ],
)
def test_variants_that_would_be_silently_wrong_are_refused(text: str, words: str) -> None:
    # found by a red team: temperature=1e-100 scored every item 0; cap=0.0001 was no cap;
    # a key given twice took its last value
    with pytest.raises(ValueError, match=re.escape(words)):
        Arms.parse(text)


def test_the_temperature_bounds_themselves_are_accepted() -> None:
    assert Arms.parse("a=1:temperature=0.01,b=1:temperature=100:cap=0.001").specs[1].cap_ms == 1


def test_a_share_left_out_beside_given_ones_is_refused() -> None:
    # found by a red team: `attention=0.9,control` gave control a share of 1 (53 % of viewers)
    words = "arm 'control' in 'attention=0.9,control' has no share"
    with pytest.raises(ValueError, match=re.escape(words)):
        Arms.parse("attention=0.9,control")
    assert Arms.parse("attention,control").shares == (0.5, 0.5)  # none given: equal shares


def test_no_more_arms_than_a_viewer_row_can_name() -> None:
    # found by a red team: 200 arms were accepted, then a viewer hashed to arm 128 ended the
    # run mid-stream (OverflowError) after the outputs were emptied
    most = Arms.parse(",".join(f"a{n}" for n in range(MAX_ARMS)))
    assert np.iinfo(ViewerTable(1, 1).arm.dtype).max >= len(most.names) - 1
    with pytest.raises(ValueError, match=rf"{MAX_ARMS + 1} arms given; at most {MAX_ARMS}"):
        Arms.parse(",".join(f"a{n}" for n in range(MAX_ARMS + 1)))


def test_the_modules_examples_hold() -> None:
    result = doctest.testmod(models.arms)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("a=0.3,b=0.4,c=0.3", "a=0.6,b=0.2,c=0.2"),
        ("attention=0.9,control=0.1", "attention=0.5,control=0.5"),
        ("attention=0.5,control=0.5", "attention=0.5,control=0.5"),
        ("a=0.2,b=0.3,holdout=0.5", "a=0,b=0.5,holdout=0.5"),
    ],
)
@pytest.mark.parametrize("renamed", [False, True])
def test_the_moved_share_is_the_share_of_viewers_whose_arm_changes(
    before: str, after: str, renamed: bool
) -> None:
    old, new = Arms.parse(before), Arms.parse(after)
    moved = sum(old.assign(u, "exp") != new.assign(u, "exp-2" if renamed else "exp")
                for u in USERS) / len(USERS)
    assert moved == pytest.approx(moved_share(old, new, renamed), abs=0.015)


def test_a_split_change_is_another_name_or_other_shares_not_another_spelling() -> None:
    old = Arms.parse("a=0.3,b=0.4,c=0.3")
    assert split_change("exp", old, "exp", Arms.parse("a=3,b=4,c=3")) is None
    assert split_change("exp", old, "exp", Arms.parse("a=0.3,b=0.4,c=0.3:k=5")) is None
    reshared = split_change("exp", old, "exp", Arms.parse("a=0.6,b=0.2,c=0.2"))
    assert reshared is not None and not reshared.renamed and reshared.reshared
    assert reshared.moved == pytest.approx(0.4)
    renamed = split_change("exp", old, "exp-2", old)
    assert renamed is not None and renamed.renamed and not renamed.reshared
    assert renamed.moved == pytest.approx(1 - (0.09 + 0.16 + 0.09))
