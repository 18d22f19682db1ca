"""The recovery format: explicit, versioned, free of class paths, readable across releases.

``tests/fixtures/room-state-v<N>.bin`` is a snapshot written by state version N (the golden
room of ``golden_room`` after half of its events). Every later release must restore them all.
To add the fixture of a new version: ``python -m tests.models.test_room_state``.

Version 2 ranks with the choice model: a room restored from version 1 (or from a pickle of the
releases before) keeps its viewers, items, vectors, de-duplication and held events, and its
choice model starts from the priors (``room_state._v1_to_v2``), so it pushes to the same
viewers on the same triggers, with other scores.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from features.state.codec import SnapshotError, decode, encode
from models import learner_state, room_state
from models.arms import Arms, split_change
from models.choice_features import ATTRS, FEATURES, PRECISION, PRIORS
from models.learners.newton import NewtonSoftmax
from models.params import RoomParams
from models.room import Room
from models.sim.world import iter_world
from tests.models.golden_room import GOLDEN, PARAMS, ROOM, T0, decode_all, summaries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPLIT = len(GOLDEN) // 2


def _half_room(params: RoomParams = PARAMS) -> Room:
    room = Room(ROOM, params)
    for event in decode_all(GOLDEN[:SPLIT]):
        room.accept([event])
    return room


def _rest(room: Room) -> list[Any]:
    out = [o for event in decode_all(GOLDEN[SPLIT:]) for o in room.accept([event])]
    return summaries(out + room.flush())


def test_a_snapshot_of_state_version_2_restores_and_goes_on_like_the_room_that_wrote_it() -> None:
    blob = (FIXTURES / "room-state-v2.bin").read_bytes()
    restored = Room.restore(blob, PARAMS)
    # A room keeps the starting weights it was opened with (they are in its snapshot), not
    # this release's priors: the room that wrote the snapshot, uninterrupted, started there.
    then = dataclasses.replace(PARAMS, choice_weights=tuple(restored.model.prior.tolist()))
    uninterrupted = _half_room(then)
    _clock_as_stored(restored, uninterrupted)
    _order_as_stored(restored, uninterrupted)
    assert sorted(restored.viewers.rows.items()) == sorted(uninterrupted.viewers.rows.items())
    np.testing.assert_array_equal(restored.model.weights, uninterrupted.model.weights)
    assert _rest(restored) == _rest(uninterrupted)


def _order_as_stored(restored: Room, uninterrupted: Room) -> None:
    """Snapshots before 2026-12-05 did not store the showcase's order (the host's list):
    until the next showcase the restored room knows every item as listed first."""
    assert restored.showcase is not None and uninterrupted.showcase is not None
    assert not restored.showcase.place.any() and uninterrupted.showcase.place.any()
    uninterrupted.showcase.place = np.zeros_like(uninterrupted.showcase.place)
    uninterrupted.columns.columns = None  # its cached columns were built from the order


def _clock_as_stored(restored: Room, uninterrupted: Room) -> None:
    """Snapshots before 2026-12-04 stored the newest applied ``ts`` (u-3's enter at 2 s) and
    no sources: the restored room goes on from it. A room of this release is at the time a
    majority of its sources, at least three, reached: three of the four it applied (u-2's
    enter at 0.1 s; the showcase at 1 s and u-3's enter at 2 s are ahead)."""
    assert restored.clock == T0 + 2_000
    assert uninterrupted.clock == T0 + 100
    assert restored.agreed.time == -1  # no source known yet


def _who(summaries: list[Any]) -> list[Any]:
    """Room, trigger, trigger id, ts, viewers, arms, items on show: everything but scores."""
    return [summary[:7] for summary in summaries]


def _upgraded_goes_on(restored: Room) -> None:
    uninterrupted = _half_room()
    _clock_as_stored(restored, uninterrupted)
    assert sorted(restored.viewers.rows.items()) == sorted(uninterrupted.viewers.rows.items())
    rows = restored.viewers.rows.high_water
    np.testing.assert_array_equal(restored.mf.users[:rows], uninterrupted.mf.users[:rows])
    assert [(ts, i) for ts, i, _, _ in restored.inbox.dedup.entries()] == [
        (ts, i) for ts, i, _, _ in uninterrupted.inbox.dedup.entries()]
    assert restored.model.learned == 0  # the choice model starts from its priors
    mine, theirs = _rest(restored), _rest(uninterrupted)
    assert _who(mine) == _who(theirs) and len(mine) > 0


def test_a_snapshot_of_state_version_1_restores_and_goes_on_to_the_same_viewers() -> None:
    _upgraded_goes_on(Room.restore((FIXTURES / "room-state-v1.bin").read_bytes(), PARAMS))


def test_a_pickled_room_of_the_release_before_resumes_after_the_upgrade() -> None:
    """``room-state-pickle-f2fa4e2.bin``: ``Room.snapshot()`` of commit f2fa4e2 (the last
    pickled format, classes at their old module paths) after the same half of the events."""
    blob = (FIXTURES / "room-state-pickle-f2fa4e2.bin").read_bytes()
    restored = Room.restore(blob, PARAMS)
    assert restored.snapshot()[:4] == b"RRS1"  # from now on in the versioned format
    _upgraded_goes_on(restored)


def test_a_pickle_naming_anything_but_roomrank_and_numpy_is_refused() -> None:
    import os
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    for blob in (pickle.dumps(Evil(), protocol=4), b"\x80\x05junk"):
        with pytest.raises(SnapshotError) as err:
            Room.restore(blob, PARAMS)
        assert "\n" not in str(err.value)


def test_the_snapshot_names_no_python_class_or_module() -> None:
    blob = _half_room().snapshot()
    for needle in (b"models.", b"features.", b"numpy", b"Room", b"pickle", b"\x80\x05"):
        assert needle not in blob


def test_an_unknown_version_is_refused_with_one_line() -> None:
    tree = decode(_half_room().snapshot())
    tree["version"] = room_state.STATE_VERSION + 1
    with pytest.raises(SnapshotError) as err:
        Room.restore(encode(tree), PARAMS)
    message = str(err.value)
    assert "\n" not in message and f"version {room_state.STATE_VERSION + 1}" in message


def test_bytes_that_are_not_a_snapshot_are_refused_with_one_line() -> None:
    for junk in (b"", b"RRS1\xff\xff\xff\xff{"):
        with pytest.raises(SnapshotError) as err:
            Room.restore(junk, PARAMS)
        assert "\n" not in str(err.value)


def test_a_warm_started_room_keeps_its_starting_point_whatever_the_restart_names() -> None:
    """The fitted weights a room started from are its L2 pull point: a restart with another
    (or no) ``--choice-weights`` file must not move it, or the replay is another run."""
    import dataclasses

    from models.choice_features import FEATURES

    start = tuple(0.1 * (n % 5) for n in range(len(FEATURES)))
    warm = dataclasses.replace(PARAMS, choice_weights=start)
    room = Room(ROOM, warm)
    for event in decode_all(GOLDEN[:SPLIT]):
        room.accept([event])
    restored = Room.restore(room.snapshot(), PARAMS)  # the restart names no file
    np.testing.assert_array_equal(restored.model.prior, start)
    assert _rest(restored) == _rest(room)


def test_a_snapshot_without_a_starting_point_keeps_the_priors_of_its_release() -> None:
    """Snapshots written before warm starts stored no starting point: their rooms started from
    the priors of those releases, and keep them (as a room keeps a warm start), whatever the
    restart names."""
    tree = decode(_half_room().snapshot())
    del tree["model"]["prior"]
    then = [learner_state.PRIORS_UNTIL_2026_12_04.get(name, 0.0)
            if name in learner_state.FEATURES_UNTIL_2026_12_05 else PRIORS[name]  # added since
            for name in FEATURES]
    for params in (PARAMS, dataclasses.replace(PARAMS, choice_weights=(0.3,) * len(FEATURES))):
        restored = Room.restore(encode(tree), params)
        np.testing.assert_array_equal(restored.model.prior, then)


@pytest.mark.parametrize("named", [False, True])
def test_a_snapshot_of_the_release_before_a_feature_keeps_what_its_room_learned(
        named: bool) -> None:
    """Snapshots until 2026-12-05 named no features and held 18: restored into a release with
    more (the place in the host's list, the price against its category on show), each learned
    weight and its evidence stay with their feature, and each new one starts as in a new room:
    at its prior, with the prior's precision and no evidence shared with the others. Since
    then snapshots name their features (``named``), in whatever order."""
    world = [e for e in decode_all(list(iter_world(1, 1, 200, 4.0))) if e.type != "room_close"]
    room = Room(world[0].room_id, PARAMS)
    for event in world:
        room.accept([event])
    assert room.model.learned > 100
    tree = decode(room.snapshot())
    model = tree["model"]
    old = [FEATURES.index(name) for name in learner_state.FEATURES_UNTIL_2026_12_05]
    new = [n for n in range(len(FEATURES)) if n not in old]
    assert [FEATURES[n] for n in new] == ["listed", "relative_price", *ATTRS]
    if named:
        old = old[::-1]
        model["features"] = [FEATURES[n] for n in old]
    else:
        del model["features"]
    for key in ("weights", "prior"):
        model[key] = np.asarray(model[key])[old]
    model["experts"] = np.asarray(model["experts"])[:, old]
    model["precisions"] = np.asarray(model["precisions"])[:, old][:, :, old]
    restored = Room.restore(encode(tree), PARAMS)
    assert isinstance(restored.model, NewtonSoftmax) and isinstance(room.model, NewtonSoftmax)
    np.testing.assert_array_equal(restored.model.weights[old], room.model.weights[old])
    assert restored.model.weights[new].tolist() == [PRIORS[FEATURES[n]] for n in new]
    learned = room.model.precision[np.ix_(old, old)]
    assert (learned != np.diag(np.diag(learned))).any()  # evidence beyond the prior's
    np.testing.assert_array_equal(restored.model.precision[np.ix_(old, old)], learned)
    np.testing.assert_array_equal(restored.model.precision[np.ix_(new, new)],
                                  np.diag([PRECISION[FEATURES[n]] for n in new]))
    assert not restored.model.precision[np.ix_(new, old)].any()
    assert not restored.model.precision[np.ix_(old, new)].any()


def test_a_showcases_item_attrs_survive_a_snapshot_and_an_older_one_has_none() -> None:
    """The attrs columns are part of the showcase (stored up to the last slot in use); a
    snapshot written before them restores a showcase whose items have none, until the next."""
    from tests.models.choice_rooms import replayed_room

    room = replayed_room()
    blob = room.snapshot()
    restored = Room.restore(blob, RoomParams())
    assert room.showcase is not None and restored.showcase is not None
    np.testing.assert_array_equal(restored.showcase.attrs, room.showcase.attrs)
    assert np.isfinite(room.showcase.attrs).sum() > 30
    assert restored.items.attr_names == room.items.attr_names and len(room.items.attr_names) == 8
    tree = decode(blob)
    del tree["showcase"]["attrs"]
    older = Room.restore(encode(tree), RoomParams())
    assert older.showcase is not None and np.isnan(older.showcase.attrs).all()


def test_a_store_written_with_another_dim_is_refused_naming_both_values() -> None:
    blob = _half_room().snapshot()
    other = RoomParams(**{**{f: getattr(PARAMS, f) for f in PARAMS.__slots__}, "dim": 16})
    with pytest.raises(SnapshotError, match=r"dim=8.*dim=16|dim=\d+.*dim=16"):
        Room.restore(blob, other)


def test_a_column_the_snapshot_lacks_restores_as_zeros_for_every_row() -> None:
    """What an older snapshot looks like to a release that added a per-viewer column."""
    tree = decode(_half_room().snapshot())
    del tree["viewers"]["price_lp"]
    restored = Room.restore(encode(tree), PARAMS)
    assert len(restored.viewers.price_lp) == restored.viewers.rows.capacity
    assert not restored.viewers.price_lp.any()


def test_restored_tables_have_columns_as_long_as_their_row_index() -> None:
    restored = Room.restore(_half_room().snapshot(), PARAMS)
    for table in (restored.viewers, restored.items):
        for name, value in vars(table).items():
            if isinstance(value, np.ndarray):
                assert len(value) == table.rows.capacity, name


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=20),
)
_arrays = st.sampled_from(["int8", "int64", "float32", "float64", "bool", "uint16"]).flatmap(
    lambda dt: st.lists(st.integers(0, 100), max_size=12).map(lambda v: np.array(v, dtype=dt))
)
_trees = st.recursive(
    st.one_of(_leaf, _arrays),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(st.text(), kids, max_size=4),  # "$" keys too: escaped, never refs
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(_trees)
@example({"$a": [1], "$$b": {"$f": 2.0}, "c": {"$b": None}})
def test_the_codec_gives_back_the_tree_it_was_given(tree: Any) -> None:
    assert _same(decode(encode(tree)), tree)


def test_the_codec_refuses_object_arrays() -> None:
    with pytest.raises(TypeError):
        encode({"x": np.array(["a", None], dtype=object)})


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    target = FIXTURES / f"room-state-v{room_state.STATE_VERSION}.bin"
    target.write_bytes(_half_room().snapshot())
    print(f"wrote {target}")


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"window_ms": 60_000}, "window_ms=300000, this run has window_ms=60000: use the same"
                                " --window-ms"),
        ({"bucket_ms": 5_000}, "bucket_ms=10000, this run has bucket_ms=5000"),
        ({"arms": "attention=1"}, "arms=attention,control, this run has arms=attention: use the"
                                  " same arm names in --arms"),
        ({"arms": "control=0.5,attention=0.5"}, "arms=attention,control, this run has"
                                                " arms=control,attention"),
        ({"arms": "attention=0.9:k=5,control=0.1"}, "push_width=3, this run has push_width=5"),
    ],
)
def test_a_store_written_with_another_window_or_arms_is_refused_naming_both_values(
    change: dict[str, Any], refused: str
) -> None:
    """Each of these lays the stored state out (the window's ring, each viewer's arm index
    and push columns): read under other values it crashed inside the room (rc 70)."""
    from flows.settings import Settings

    job = Settings.load({"window_ms": 300_000, "bucket_ms": 10_000}, env={}).room
    room = Room(ROOM, job)
    for event in decode_all(GOLDEN[:SPLIT]):
        room.accept([event])
    blob = room.snapshot()
    other = Settings.load({"window_ms": 300_000, "bucket_ms": 10_000, **change}, env={}).room
    with pytest.raises(SnapshotError) as error:
        Room.restore(blob, other)
    assert f"the recovery store was written with {refused}" in str(error.value)
    assert "\n" not in str(error.value)
    # shares are not a shape: a store resumes under other shares of the same arms
    Room.restore(blob, Settings.load({"arms": "attention=0.5,control=0.5"}, env={}).room)


def test_a_snapshot_without_the_newer_shape_fields_skips_their_checks() -> None:
    """Stores written before the window and arms were stored resume as they did."""
    blob = _half_room().snapshot()
    tree = decode(blob)
    tree["shape"] = {"dim": tree["shape"]["dim"], "top_k": tree["shape"]["top_k"]}
    coarser = dataclasses.replace(PARAMS, window_ms=2 * PARAMS.window_ms,
                                  bucket_ms=2 * PARAMS.bucket_ms)  # as many buckets
    with pytest.raises(SnapshotError, match="window_ms="):
        Room.restore(blob, coarser)
    assert Room.restore(encode(tree), coarser).window.bucket_ms == 2 * PARAMS.bucket_ms


def test_a_snapshot_says_which_split_of_viewers_it_was_written_with() -> None:
    """Experiment name and shares: a resume may change them (warned, not refused)."""
    params = dataclasses.replace(PARAMS, experiment="spring",
                                 arms=Arms.parse("attention=0.3,control=0.7"))
    written = room_state.written_split(_half_room(params).snapshot())
    assert written is not None
    experiment, arms = written
    assert (experiment, arms.names) == ("spring", ("attention", "control"))
    assert arms.shares == pytest.approx((0.3, 0.7))
    assert split_change(experiment, arms, "spring", params.arms) is None


def test_a_snapshot_written_before_the_split_was_stored_says_none() -> None:
    """Older stores resume without a word about the split: there is nothing to compare."""
    tree = decode(_half_room().snapshot())
    del tree["split"]
    assert room_state.written_split(encode(tree)) is None
    for path in sorted(FIXTURES.glob("room-state-*")):
        assert room_state.written_split(path.read_bytes()) is None, path.name
