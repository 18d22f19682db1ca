"""``rec_id`` identifies a push: different (trigger, user) pairs never share a hash input;
``room_seed`` gives each room its own seed, the same in every process."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.contract.ids import rec_id, rec_id_prefix, room_seed

# Separator and control characters are where a joined input becomes ambiguous.
odd_ids = st.text(
    alphabet=st.sampled_from("ab\x00\x1f\x1e|:-,\n") | st.characters(codec="utf-8"), max_size=8
)


@given(odd_ids, odd_ids, odd_ids, odd_ids)
def test_different_pairs_have_different_hash_inputs(t1: str, u1: str, t2: str, u2: str) -> None:
    """Injective input implies distinct rec_ids up to a blake2b collision."""
    same_input = rec_id_prefix(t1) + u1.encode() == rec_id_prefix(t2) + u2.encode()
    assert same_input == ((t1, u1) == (t2, u2))


@given(odd_ids, odd_ids, st.integers(0, 8))
def test_moving_characters_across_the_split_changes_the_rec_id(t: str, u: str, n: int) -> None:
    """The old input, trigger + '\\x1f' + user, made ('a\\x1fb', 'c') and ('a', 'b\\x1fc') one."""
    joined = t + "\x1f" + u
    n = min(n, len(joined))
    other = (joined[:n], joined[n + 1 :]) if n < len(joined) and joined[n] == "\x1f" else None
    if other is not None and other != (t, u):
        assert rec_id(*other) != rec_id(t, u)


def test_a_separator_inside_an_id_does_not_collide() -> None:
    assert rec_id("a\x1fb", "c") != rec_id("a", "b\x1fc")
    assert rec_id("", "a") != rec_id("a", "")


def test_room_seed_is_stable_and_distinct() -> None:
    assert room_seed("r-7") == room_seed("r-7")
    assert room_seed("r-7") != room_seed("r-8")
    assert 0 <= room_seed("r-7") < 2**63
