"""One viewer, one vote per item: how far a single identity can move what everyone is shown.

The room's population statistics (an item's and a category's choice ratios, the segments'
rates, the momentum window, the spend tiers' price pool) are shared by every viewer's pushes.
Counted raw, one account that clicks the same item every few seconds outvotes the whole
audience: measured on a simulated world, a click-farm bot per room put its item into 80 % of
the other viewers' pushes, against 13 % without it (docs/evaluation.md, "Manipulation").
So a viewer's choice of an item counts in the shared statistics once; the viewer's *own*
features (their affinities, intent, budget) still count every action, so they lose nothing.

Which items a viewer has voted for is a 64-bit mask per viewer, the bit chosen by a stable
hash of the item id (not the item's row, which compaction renumbers). Two of a viewer's items
may share a bit: then the second one's first choice counts as a repeat, a lost vote, never an
extra one. The mask costs 8 bytes per viewer.

The room's learner is shared too, so a viewer's steps are bounded the same way, but softly:
the viewer's n-th choice in a category teaches with weight 1/n, so their total pull grows
like log n, while a viewer's first choice in each category counts in full.

Nor can one vote per account tell twenty fresh accounts from twenty fans. What a room can
tell is who was there before: ``chose_before`` says whether a viewer chose something before a
time (the showcase's start), which is whose choices judge the room's learner
(``models.learners.judged``). It reads the viewer's ``standing``: the time of the showcase
in force at their first choice among its items that arrived on time (not more than the
lateness behind the newest event before it: a late one is applied at once, ahead of a
showcase held that arrived first). A sender's own ``ts`` is theirs to write: fresh accounts
that stamped their choices before the showcase began counted as established (red team 12:
honest HR@3 0.294 under the lab's poisoning, 0.236 stamped); the room asks for standing from
before the showcase by more than the lateness, which only a choice made before it can have.

>>> voted = np.zeros(2, dtype=np.uint64)
>>> bit = vote_bit("sku-1")
>>> cast_vote(voted, 0, bit), cast_vote(voted, 0, bit), cast_vote(voted, 1, bit)
(1.0, 0.0, 1.0)
>>> learning_weight(0.0), learning_weight(3.0)
(1.0, 0.25)
>>> viewers = ViewerTable(60_000, 600_000)
>>> row, _ = viewers.touch("u", 5_000)
>>> chose_before(viewers, row, 10_000)
False
>>> viewers.standing[row] = seconds(8_000)
>>> viewers.recent_item[row, 0], viewers.recent_ts[row, 0] = 1, seconds(8_000)
>>> chose_before(viewers, row, 10_000), chose_before(viewers, row, 8_000)
(True, False)
"""

from __future__ import annotations

import zlib
from typing import Final

import numpy as np

from features.state.choices import seconds
from features.state.viewers import ViewerTable

VOTE_BITS: Final = 64


def vote_bit(item_id: str) -> np.uint64:
    """The item's bit in a viewer's vote mask: the same in every process and release."""
    return np.uint64(1) << np.uint64(zlib.crc32(item_id.encode()) % VOTE_BITS)


def cast_vote(voted: np.ndarray, row: int, bit: np.uint64) -> float:
    """1.0 the first time viewer ``row`` chooses an item with ``bit``, then 0.0."""
    mask = voted[row]
    if mask & bit:
        return 0.0
    voted[row] = mask | bit
    return 1.0


def learning_weight(earlier_in_category: float) -> float:
    """The weight of a viewer's choice in the room's learner, given how many choices of the
    same category they made before in the room."""
    return 1.0 / (1.0 + earlier_in_category)


PAID_SHARE: Final = 0.5  # of the price on show per unit: a discount, a coupon; not a token


def paid(amount: float, qty: int, price: float) -> bool:
    """Whether a purchase paid for what it bought, as far as judging the room's learner goes:
    purchases judge because they cost, and one of 0.01 costs nothing (red team 12: the lab's
    paying sleepers, $202,685 at full price, did as much for $28). An item whose price is
    unknown (0): any amount.

    >>> paid(89.0, 1, 89.0), paid(0.01, 1, 89.0), paid(50.0, 1, 89.0), paid(0.01, 1, 0.0)
    (True, False, True, True)
    >>> paid(100.0, 3, 89.0), paid(0.0, 1, 0.0)
    (False, False)
    """
    return amount > 0 and amount >= PAID_SHARE * price * max(qty, 1)


def chose_before(viewers: ViewerTable, row: int, ts: int) -> bool:
    """Whether viewer ``row`` stood in the room (had a choice applied under an earlier
    showcase) in a second before ``ts``'s, and still chose something then among the last few
    items they chose (``RECENT``, each at its latest choice: a viewer who chose that many since
    counts as new until the next ``ts``; their own repeats already weigh little,
    ``learning_weight``)."""
    standing = int(viewers.standing[row])
    if not standing or standing >= seconds(ts):
        return False
    times = viewers.recent_ts[row][viewers.recent_item[row] > 0]
    return bool(times.size) and int(times.min()) < seconds(ts)
