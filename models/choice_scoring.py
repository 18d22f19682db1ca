"""The choice model's logits for a whole room at once, without building the feature table.

The feature table of a room would be viewers × items × features (``features_row`` builds one
viewer's slice, ``features_one`` is its plain-Python twin) dotted with the weights. Most of
the table has structure that makes building it wasteful:

* the taste features that are *viewer row × item column* products (category and segment
  affinities gathered by the item's category slot, the segment's item ratio, the learned
  vectors) are one matrix product ``q Kᵀ``: the query is the viewer's category affinities
  (scaled by their weight), segment memberships and vector; the keys are the item's category
  one-hot, its segments' ratios and its vector, the other weights folded into them. That is
  the seed's attention, with a learned query. Only the category slots on show and the
  segments with a key enter it, and the vectors only for the viewers that have one;
* item-level short-term intent (clicked, carted, bought, engaged with) touches a few
  (item, viewer) cells: each viewer's recent items, looked up in the showcase, are added
  there; the category on stage at the last engagement joins the query's category part;
* the power logit is one per-item vector, plus ``a·(p − b) + c·|p − b|`` for the price
  against the budget (``max(0, g)`` and ``max(0, −g)`` folded into a slope and an absolute
  value), over viewers whose budget is known.

The logits come items down and viewers across (N × V), the layout the top ``k`` is taken in
(``models.ranking.TopK``). What depends on the showcase and the weights only (the keys, the
per-item power, the lookups) is made once per push (``prepare``) and shared by its blocks of
viewers (``ShowcaseScoring.logits``). ``tests/models/test_choice_scoring.py`` checks both
against ``features_row`` · weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.choice_columns import showcase_columns
from models.choice_features import (
    ATTRS,
    FEATURES,
    FUNNEL_FEATURES,
    POWER,
    VIEWER_PRIOR,
    Scene,
    item_columns,
    log_budgets,
    room_rates,
    segment_item_rates,
    segment_rates,
)

_W = {name: n for n, name in enumerate(FEATURES)}
_FLOAT16 = np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float32)  # by bits


def logits(scene: Scene, rows: np.ndarray, weights: np.ndarray, temperature: float = 1.0,
           negated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N, V) float32 taste logits (divided by ``temperature``) and power logits of viewers
    ``rows`` over the showcase: ``features_row(scene, row) @ weights`` per viewer, split in two
    and transposed. ``negated``: the power logits' negatives, made with negated weights (the
    same bits up to the sign of a zero: rounding is symmetric), for ``e^(−power)``."""
    return prepare(scene, weights, temperature, negated).logits(rows)


@dataclass(slots=True)
class ShowcaseScoring:
    """What every block of viewers of one push shares (``prepare`` makes it)."""

    scene: Scene
    w: dict[str, float]  # the weights by feature name
    power_w: dict[str, float]  # the power weights, negated if the logits are
    temperature: float
    used: np.ndarray  # the category slots on show: the query's category columns
    place: np.ndarray  # category slot -> its column in the query, or -1
    unbase: np.ndarray  # float32 e^(−room rate) of each used slot
    segments: np.ndarray  # the segment slots whose keys are not all zero
    keys: np.ndarray  # float32 (N × inner): category one-hot, then the segments' keys
    vector_keys: np.ndarray | None  # float32 (N × factors), weight and scale folded in
    position: np.ndarray  # item row + 1 -> showcase index, or -1
    funnel: np.ndarray  # weight of each recent action's kind (0: none)
    per_item: np.ndarray  # float32 (N × 1) power of each item before the price's gap
    log_price: np.ndarray  # float32 (N,)

    def logits(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, V) taste and power logits of viewers ``rows`` (see ``logits``)."""
        taste = self._taste(rows)
        if self.temperature != 1.0:
            taste *= np.float32(1.0 / self.temperature)
        return taste, self._power(rows)

    def _taste(self, rows: np.ndarray) -> np.ndarray:
        v, f32 = self.scene.viewers, np.float32
        chosen = v.cat_chosen.view(np.uint16).take(rows, axis=0)
        exposed = v.cat_exposed.take(rows, axis=0)  # fresh arrays: the steps below are in place
        if len(self.used) < chosen.shape[1]:
            chosen, exposed = chosen[:, self.used], exposed[:, self.used]
        # float16 arithmetic is slow, and so is numpy's float16 to float32 cast: a table of
        # all 65,536 float16 values, indexed by their bits, converts exactly in one gather.
        # ``(chosen + P·e^base) / (exposed + P) / e^base`` is ``chosen·e^−base + P`` over
        # the same: its log is the affinity less the room's rate, with no pass to subtract it.
        affinity = _FLOAT16.take(chosen)
        affinity *= self.unbase
        affinity += f32(VIEWER_PRIOR)
        exposed += f32(VIEWER_PRIOR)
        affinity /= exposed
        np.log(affinity, out=affinity)
        affinity *= f32(self.w["category_affinity"])
        engaged = self._engaged(rows)
        self._engaged_category(engaged, affinity)
        n_used = len(self.used)
        left = np.empty((len(rows), self.keys.shape[1]), dtype=f32)
        left[:, :n_used] = affinity
        if self.segments.size:
            member = v.segments.take(rows, axis=0)
            left[:, n_used:] = (member if self.segments.size == member.shape[1]
                                else member[:, self.segments])
        taste = self.keys @ left.T  # N × V: BLAS reads the view
        self._vectors(rows, taste)
        self._intent(rows, engaged, taste)
        return taste

    def _engaged(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The places in ``rows`` of viewers with an engagement, its item (row + 1), and how
        far it has faded: the category term and the item term share them."""
        scene = self.scene
        v = scene.viewers
        engaged = v.engaged_item.take(rows)
        active = np.flatnonzero(engaged)
        now, horizon = scene.now / 1000.0, max(scene.horizon_ms, 1) / 1000.0  # seconds
        fade = np.exp(-(now - v.engaged_ts[rows[active]]) / horizon)
        return active, engaged[active].astype(np.int64), fade

    def _engaged_category(self, engaged: tuple[np.ndarray, np.ndarray, np.ndarray],
                          by_category: np.ndarray) -> None:
        """The category on stage at the viewer's last engagement, fading: a category-level
        term, so it joins the query's category part before the product."""
        active, item, fade = engaged
        w = self.w["engaged_category"]
        if active.size and w:
            column = self.place[self.scene.items.category[item - 1]]
            shown = column >= 0  # a category not on show reaches no item
            by_category[active[shown], column[shown]] += (w * fade[shown]).astype(np.float32)

    def _vectors(self, rows: np.ndarray, taste: np.ndarray) -> None:
        """Add the learned vectors' product for the viewers that have one (cold viewers'
        vectors do not count). ``build_push`` orders a block's warm viewers first: the product
        then runs over a prefix of its columns, in place (a gathered set of columns costs more
        than the product)."""
        if self.vector_keys is None:
            return
        mf = self.scene.mf
        hot = np.flatnonzero(mf.user_updates.take(rows) > 0)
        if not hot.size:
            return
        product = self.vector_keys @ mf.users.take(rows[hot], axis=0).astype(np.float32).T
        if hot[-1] == hot.size - 1:  # a prefix
            taste[:, : hot.size] += product
        else:
            taste[:, hot] += product

    def _intent(self, rows: np.ndarray, engaged: tuple[np.ndarray, np.ndarray, np.ndarray],
                taste: np.ndarray) -> None:
        """Add item-level short-term intent (clicked, carted, bought, engaged with) to the few
        (item, viewer) cells it concerns: each viewer's recent items, looked up in the
        showcase."""
        scene, position = self.scene, self.position
        v = scene.viewers
        now, horizon = scene.now / 1000.0, max(scene.horizon_ms, 1) / 1000.0  # ts in seconds

        def add(keys: np.ndarray, viewers: np.ndarray, values: np.ndarray) -> None:
            known = keys < len(position)
            where = np.where(known, position[np.where(known, keys, 0)], -1)
            hit = (keys > 0) & (where >= 0)
            np.add.at(taste, (where[hit], viewers[hit]), values[hit].astype(np.float32))

        recent = v.recent_item.take(rows, axis=0)
        cells = np.flatnonzero(recent)  # (viewer, slot) cells holding an item, viewer by viewer
        if cells.size:
            width = recent.shape[1]
            viewer = cells // width
            held = rows[viewer] * width + cells % width  # the cells in the viewers' table
            kinds = v.recent_kind.reshape(-1).take(held).astype(np.int64)
            ts = v.recent_ts.reshape(-1).take(held)
            coef = self.funnel[kinds] * np.exp(-(now - ts) / horizon)
            add(recent.reshape(-1)[cells].astype(np.int64), viewer, coef)
        active, item, fade = engaged
        if active.size and self.w["engaged_item"]:
            add(item, active, self.w["engaged_item"] * fade)

    def _power(self, rows: np.ndarray) -> np.ndarray:
        over, under = self.power_w["over_budget"], self.power_w["under_budget"]
        budget, known = log_budgets(self.scene, rows)
        if not (over or under) or not known.any():
            return np.repeat(self.per_item, len(rows), axis=1)
        # over·max(0, g) + under·max(0, −g) = a·g + c·|g|, a = (over − under)/2 and
        # c = (over + under)/2, for the gap g = log price − log budget. The item's own power
        # and a·(log price) are one column, a·(log budget) one row; c·|g| is |c·g| signed.
        a, c = (over - under) / 2, (over + under) / 2
        b = budget.astype(np.float32)
        power = np.subtract.outer(self.per_item[:, 0] + np.float32(a) * self.log_price,
                                  np.float32(a) * b)
        scaled = np.subtract.outer(np.float32(abs(c)) * self.log_price, np.float32(abs(c)) * b)
        np.abs(scaled, out=scaled)
        if c >= 0:
            power += scaled
        else:
            power -= scaled
        if not known.all():
            power[:, ~known] = self.per_item  # no evidence of purchasing power yet: no price term
        return power


def prepare(scene: Scene, weights: np.ndarray, temperature: float = 1.0,
            negated: bool = False) -> ShowcaseScoring:
    """The keys, per-item terms and lookups of ``scene``'s showcase under ``weights``: what
    ``logits`` needs once per push, whatever the number of blocks of viewers."""
    sc, items, mf = scene.showcase, scene.items, scene.mf
    w = {name: float(weights[n]) for name, n in _W.items()}
    n_items, n_slots = len(sc), scene.viewers.cat_chosen.shape[1]
    # Only the category slots on show reach an item, and only segments whose keys are not
    # all zero: the others' columns of the product would add zeros.
    on_show = np.zeros(n_slots, dtype=bool)
    on_show[items.category[sc.rows]] = True
    used = np.flatnonzero(on_show)
    place = np.full(n_slots, -1)
    place[used] = np.arange(len(used))
    one_hot = np.zeros((len(used), n_items))
    one_hot[place[items.category[sc.rows]], np.arange(n_items)] = 1.0
    # The segments' keys, every weight folded in (a (segments × items) matrix, not a pass
    # over viewers): a segment's affinity reaches an item through the item's category slot.
    by_segment = w["segment_affinity"] * (segment_rates(scene.room)[:, used] @ one_hot)
    if w["segment_item"]:
        by_segment += w["segment_item"] * segment_item_rates(scene).T
    segments = np.flatnonzero(by_segment.any(axis=1))
    keys = np.ascontiguousarray(np.vstack([one_hot, by_segment[segments]]).T, dtype=np.float32)
    vector_keys = None
    if w["vectors"] and (mf.user_updates > 0).any():
        scaled = mf.items[sc.rows] * (w["vectors"] / math.sqrt(max(mf.n_factors, 1)))
        scaled[mf.item_updates[sc.rows] == 0] = 0.0
        vector_keys = scaled.astype(np.float32)
    position = np.full(max(int(sc.rows.max(initial=0)) + 2, 1), -1, dtype=np.int64)
    position[sc.rows + 1] = np.arange(n_items)  # item row + 1 -> showcase index, or -1
    power_w = {n: -w[n] for n in POWER} if negated else {n: w[n] for n in POWER}
    item_weights = np.array([power_w[name] for name in POWER[1:7]])
    per_item = item_columns(scene) @ item_weights + power_w["bias"]
    attr_weights = np.array([power_w[name] for name in ATTRS])
    if power_w["listed"] or power_w["relative_price"] or attr_weights.any():
        columns = (scene.columns.get(items, sc) if scene.columns is not None
                   else showcase_columns(items, sc))  # the showcase's own columns
        per_item += (power_w["listed"] * columns.listed
                     + power_w["relative_price"] * columns.relative_price
                     + columns.attrs @ attr_weights)
    per_item = per_item.astype(np.float32)
    return ShowcaseScoring(
        scene=scene, w=w, power_w=power_w, temperature=temperature, used=used, place=place,
        unbase=np.exp(-room_rates(scene.room)[used]).astype(np.float32), segments=segments,
        keys=keys, vector_keys=vector_keys, position=position,
        funnel=np.array([0.0, *(w[name] for name in FUNNEL_FEATURES)]),
        per_item=per_item[:, None],
        log_price=np.log1p(items.price[sc.rows].astype(np.float32)),
    )
