"""Items a viewer's ``enter`` names: the ad that brought them, a coupon they hold, a link.

The contract's ``attrs`` are free-form (``{str: str | number}``), and most of what a platform
puts there needs a schema to read (a tier, a city, a device: ``ViewerTable`` keeps them as
segments). One value needs none: an attr equal to the ``item_id`` of an item in the room. A
viewer who came for an item has shown what a click on it shows, before their first choice,
and those are the viewers the room knows least (no history). So such an item is remembered as
clicked at the enter, with the short-term intent's own weight and fading (``FUNNEL``); it is
not a choice (no exposure, vote, standing or price evidence: ``features.state.choices``), so
it teaches the room nothing the viewer did not then do. An enter older than what was last
heard from the viewer (late) names nothing new. Measured on a world whose ads and coupons
name items (docs/evaluation.md, "A ninth simulator").

>>> viewers, items = ViewerTable(90_000, 600_000), ItemTable()
>>> sku, _ = items.ensure("sku-2")
>>> attrs = {"source": "ad", "ad_item": "sku-2", "coupon_item": "sku-9"}  # sku-9: not here
>>> row = viewers.enter("u", 9_000, attrs)
>>> remember_named(viewers, items, row, attrs, 9_000)
>>> viewers.recent_item[row].tolist(), viewers.recent_kind[row].tolist()
([1, 0, 0], [1, 0, 0])
>>> int(viewers.standing[row]), float(viewers.cat_chosen[row].sum())  # not a choice
(0, 0.0)
"""

from __future__ import annotations

from features.contract.events import AttrValue
from features.state.catalog import ItemTable
from features.state.choices import FUNNEL, remember, seconds
from features.state.viewers import ViewerTable


def remember_named(viewers: ViewerTable, items: ItemTable, row: int,
                   attrs: dict[str, AttrValue], ts: int) -> None:
    """Remember the room's items that viewer ``row``'s enter at ``ts`` names as clicked."""
    if not attrs or viewers.last_seen[row] != ts:
        return
    for value in attrs.values():
        item = items.rows.get(value) if isinstance(value, str) else None
        if item is not None:
            remember(viewers.recent_item[row], viewers.recent_ts[row],
                     viewers.recent_kind[row], item + 1, seconds(ts), FUNNEL["item_click"])
