"""The prototype kernels (``fastchoice.c``) in place of the job's numpy code while inside
``patched()``: the Newton step and the feature table of one viewer, nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import fastchoice  # type: ignore[import-not-found]  # built by build.sh, next to this file
import numpy as np

import models.push
from models.choice_features import FEATURES, Scene, showcase_columns
from models.learners.newton import NewtonSoftmax

_NUMPY_STEP = NewtonSoftmax.learn_matrix


def learn_matrix(self: NewtonSoftmax, x: np.ndarray, chosen: int,
                 weight: float = 1.0) -> np.ndarray | None:
    """``NewtonSoftmax.learn_matrix`` with the arithmetic in C (a frozen learner as before)."""
    if self.lr == 0:
        return _NUMPY_STEP(self, x, chosen, weight)
    if len(x) < 2:
        return None
    stepped = fastchoice.step(x, chosen, weight, self.clip, self.n_taste, self.weights,
                              self.precision, None if self.all_free else self.learnable)
    if stepped is None:
        self.refused += 1
        return None
    p, self.weights, self.precision = stepped
    self.learned += 1
    return p


def features_row(scene: Scene, row: int) -> np.ndarray:
    """``models.choice_features.features_row`` in C."""
    sc, v, items, room, mf = scene.showcase, scene.viewers, scene.items, scene.room, scene.mf
    cols = (scene.columns.get(items, sc) if scene.columns is not None
            else showcase_columns(items, sc))
    out = np.empty((len(cols.rows), len(FEATURES)))
    fastchoice.features(
        out, row, scene.now, scene.horizon_ms, cols.rows, cols.slots, cols.spotlight,
        cols.shown_since, cols.log_price, room.cat_chosen, room.cat_exposed, room.seg_chosen,
        room.seg_exposed, room.tier_lp, room.tier_w, v.cat_chosen, v.cat_exposed, v.segments,
        v.recent_item, v.recent_ts, v.recent_kind, v.engaged_item, v.engaged_ts, v.tier,
        v.has_tier, v.price_lp, v.price_w, items.chosen, items.exposed, items.seg_chosen,
        items.seg_exposed, items.category, mf.users, mf.items, mf.user_updates,
        mf.item_updates, scene.window)
    # the showcase's own columns added after the kernel was written (18 features)
    for name in FEATURES[18:]:
        out[:, FEATURES.index(name)] = getattr(cols, name)
    return out


@contextlib.contextmanager
def patched() -> Iterator[None]:
    numpy_features = models.push.features_row
    NewtonSoftmax.learn_matrix = learn_matrix  # type: ignore[method-assign]
    models.push.features_row = features_row
    try:
        yield
    finally:
        NewtonSoftmax.learn_matrix = _NUMPY_STEP  # type: ignore[method-assign]
        models.push.features_row = numpy_features
