"""The per-viewer push policy: which freshly ranked pushes are worth sending.

The ranking is recomputed at every showcase change whatever the policy says (so the
would-be push is always current); the policy only decides whether to send it:

* ``skip_same``: not when its items are the viewer's last push's (in any order): a spotlight
  move that leaves the viewer's top ``k`` unchanged tells them nothing new;
* ``cap``: not within ``cap`` ms of event time of the viewer's last push.

A skipped push leaves the viewer's last push (and its time) as it was.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from models.arms import ArmSpec

SAME_ITEMS: Final = "same_items"
FREQUENCY_CAP: Final = "frequency_cap"
SKIP_REASONS: Final = (SAME_ITEMS, FREQUENCY_CAP)


def policy_keep(
    spec: ArmSpec,
    ts: int,
    last_at: np.ndarray,
    last_items: np.ndarray,
    new_items: np.ndarray,
) -> tuple[np.ndarray, int, int]:
    """Which pushes to send, and how many were skipped for each reason (a push both capped
    and repeated counts as repeated).

    ``last_at`` is -1 for a viewer never pushed; item rows are padded with -1.

    >>> spec = ArmSpec("a", cap_ms=60_000, skip_same=True)
    >>> last_at = np.array([-1, 0, 0, 100_000])
    >>> last = np.array([[-1, -1], [1, 2], [1, 2], [1, 2]])
    >>> new = np.array([[1, 2], [2, 1], [3, 4], [3, 4]])
    >>> keep, same, capped = policy_keep(spec, 120_000, last_at, last, new)
    >>> keep.tolist(), same, capped
    ([True, False, True, False], 1, 1)
    """
    keep = np.ones(len(last_at), bool)
    same = np.zeros(len(last_at), bool)
    if spec.skip_same:
        same = (last_at >= 0) & (
            np.sort(last_items, axis=1) == np.sort(new_items, axis=1)
        ).all(axis=1)
        keep &= ~same
    capped = np.zeros(len(last_at), bool)
    if spec.cap_ms > 0:
        capped = (last_at >= 0) & (ts - last_at < spec.cap_ms) & ~same
        keep &= ~capped
    return keep, int(same.sum()), int(capped.sum())


def policy_keep_reference(
    spec: ArmSpec, ts: int, last_at: int, last_items: list[int], new_items: list[int]
) -> tuple[bool, str | None]:
    """``policy_keep`` for one viewer in plain Python (its oracle)."""
    if last_at >= 0 and spec.skip_same and sorted(last_items) == sorted(new_items):
        return False, SAME_ITEMS
    if last_at >= 0 and spec.cap_ms > 0 and ts - last_at < spec.cap_ms:
        return False, FREQUENCY_CAP
    return True, None
