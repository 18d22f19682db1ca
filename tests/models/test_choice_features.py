"""The feature table: the fast one-viewer path equals its readable twin, and the values mean
what the docstrings say (exposure-normalised, shrunk, fading)."""

from __future__ import annotations

import numpy as np
import pytest

from flows.bench.ranking import RankingRoom
from models.choice_features import FEATURES, features_one, features_row
from tests.models.choice_rooms import T0, replayed_room


def _compare(room, now: int) -> int:  # type: ignore[no-untyped-def]
    scene = room.context(now).scene()
    rows = room.viewers.present_rows(now)
    for row in rows.tolist():
        np.testing.assert_allclose(features_one(scene, row), features_row(scene, row),
                                   rtol=1e-6, atol=1e-9)
    return len(rows)


def test_block_equals_twin_in_a_replayed_room() -> None:
    room = replayed_room()
    assert _compare(room, room.clock) == 6


@pytest.mark.parametrize("seed", range(8))
def test_block_equals_twin_on_random_rooms(seed: int) -> None:
    bench = RankingRoom(60, 20, seed=seed)
    event = bench.show(int(np.random.default_rng(seed).integers(2, 21)))
    assert _compare(bench.room, event.ts) == 60


def test_every_feature_has_evidence_in_the_replayed_room() -> None:
    """A twin test over all-zero columns would prove little: each feature varies here."""
    room = replayed_room()
    scene = room.context(room.clock).scene()
    block = np.stack([features_row(scene, row) for row in room.viewers.present_rows(room.clock)])
    flat = block.reshape(-1, len(FEATURES))
    constant = [name for n, name in enumerate(FEATURES) if np.ptp(flat[:, n]) == 0]
    assert constant == ["bias"]


def test_listed_is_the_items_place_in_the_hosts_list_whatever_their_ids() -> None:
    """The contract's ``items`` are ordered (what the platform shows first); the room keeps
    its showcase sorted by id, so the place travels with each item."""
    from features.contract.events import ShowcaseItem
    from features.state.catalog import ItemTable

    items = ItemTable()
    listed = tuple(ShowcaseItem(item_id, 5.0, "c") for item_id in ("sku-b", "sku-c", "sku-a"))
    showcase = items.show("s", 0, listed, "sku-c")
    assert showcase.item_ids == ["sku-a", "sku-b", "sku-c"]
    assert showcase.place.tolist() == [2, 0, 1]
    room = replayed_room()
    scene = room.context(room.clock).scene()
    column = FEATURES.index("listed")
    expected = np.log1p(scene.showcase.place)
    assert expected.any()
    for row in room.viewers.present_rows(room.clock).tolist():
        np.testing.assert_array_equal(features_row(scene, row)[:, column], expected)


def test_relative_price_compares_an_item_with_its_category_on_show_only() -> None:
    """A price is read against the alternatives in view: the same item is dear next to cheap
    items of its category and cheap next to dear ones, items of other categories do not
    count."""
    from features.contract.events import ShowcaseItem
    from features.state.catalog import ItemTable
    from models.choice_columns import showcase_columns

    def column(prices: dict[str, tuple[float, str]]) -> dict[str, float]:
        items = ItemTable()
        shown = tuple(ShowcaseItem(i, price, cat) for i, (price, cat) in prices.items())
        showcase = items.show("s", 0, shown, None)
        values = showcase_columns(items, showcase).relative_price
        return dict(zip(showcase.item_ids, values.tolist(), strict=True))

    cheap_peers = column({"x": (50.0, "c"), "a": (10.0, "c"), "b": (10.0, "c"), "o": (1e4, "d")})
    dear_peers = column({"x": (50.0, "c"), "a": (200.0, "c"), "b": (200.0, "c"), "o": (1.0, "d")})
    assert cheap_peers["x"] > 0 > dear_peers["x"]
    assert cheap_peers["o"] == dear_peers["o"] == 0.0  # alone in its category
    assert sum(v for k, v in cheap_peers.items() if k != "o") == pytest.approx(0.0, abs=1e-12)
    assert cheap_peers["x"] == pytest.approx(2 / 3 * (np.log1p(50.0) - np.log1p(10.0)), rel=1e-12)


def test_item_attrs_are_the_rooms_slots_standardised_over_the_items_on_show() -> None:
    """A platform's numbers about an item (a rating, a deal's end) reach the room as features
    of their own, measured against the items in view, a number sent as a string too; a
    label, an attr beyond the room's slots and an item without the attr contribute nothing."""
    from features.contract.events import ShowcaseItem
    from features.state.catalog import ATTR_SLOTS, ItemTable
    from models.choice_columns import showcase_columns
    from models.choice_features import ATTRS

    items = ItemTable()
    extra = {f"n{k}": 1.0 + k for k in range(ATTR_SLOTS - 2)}
    shown = (ShowcaseItem("a", 5.0, "c", attrs={"rating": 4.5, "brand": "x", **extra}),
             ShowcaseItem("b", 5.0, "c", attrs={"rating": "3.5", "ends": T0 + 60_000}),
             ShowcaseItem("c", 5.0, "c", attrs={"ends": T0 + 3_600_000}))
    showcase = items.show("s", T0, shown, None)
    assert items.attr_names == ["rating", *extra, "ends"]
    columns = showcase_columns(items, showcase).attrs
    assert columns.shape == (3, len(ATTRS))
    np.testing.assert_allclose(columns[:, 0], [1.0, -1.0, 0.0])  # "c" has no rating
    np.testing.assert_allclose(columns[:, -1], [0.0, -1.0, 1.0])  # sooner end, lower value
    assert not columns[:, 1:-1].any()  # only "a" has them: no spread
    later = items.show("s2", T0, (ShowcaseItem("a", 5.0, "c", attrs={"ends": 1.0, "late": 2}),),
                       None)  # every slot taken: "late" has none
    assert np.isnan(later.attrs[0, 0]) and later.attrs[0, -1] == pytest.approx(np.log(2.0))
    assert "late" not in items.attr_names and np.isfinite(later.attrs).sum() == 1


def test_affinity_is_relative_to_exposure() -> None:
    """Two viewers click one item of category c0 each: one when c0 was 1 of 4 items on show,
    the other when it was 3 of 4. The first choice says more about taste."""
    from features.state.catalog import ItemTable
    from features.state.choices import RoomChoices, record_choice
    from features.state.viewers import ViewerTable

    viewers, items, room = ViewerTable(90_000, 600_000), ItemTable(), RoomChoices()
    a, _ = viewers.touch("a", 0)
    b, _ = viewers.touch("b", 0)
    from features.contract.events import ShowcaseItem

    mixed = items.show("s1", 0, tuple(ShowcaseItem(f"i{n}", 10.0, "c0" if n == 0 else "c1")
                                      for n in range(4)), None)
    record_choice(viewers, items, room, a, int(mixed.rows[0]), mixed, "item_click", 1)
    mostly = items.show("s2", 2, tuple(ShowcaseItem(f"j{n}", 10.0, "c1" if n == 0 else "c0")
                                       for n in range(4)), None)
    record_choice(viewers, items, room, b, int(mostly.rows[1]), mostly, "item_click", 3)
    ratio = viewers.cat_chosen[[a, b], 0] / viewers.cat_exposed[[a, b], 0]
    assert ratio[0] > ratio[1] > 1.0
