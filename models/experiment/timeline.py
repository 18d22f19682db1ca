"""The experiment over time: cumulative conversion per arm with 95 % bands, and the allocation.

The readout's single read (models/experiment/readout.py) says where the experiment ended; the
timeline says how it got there, for the HTML page's plots. Conversion at time t is the
posterior of the pushes made up to t (Beta(1 + s/d, 1 + (n − s)/d) with the readout's prior
and design effect d), with the conversions the readout attributed to those pushes, so the
last point equals the readout.
The allocation is the share of new assignments per arm in each bin when the experiment log
holds assignment records (adaptive allocation), otherwise the share of pushes (ghosts
included), which under a fixed split is the split itself.

>>> t = experiment_timeline({"a": [(0, True), (60_000, False)]}, [], bins=2)
>>> t.ends, t.conversion["a"]
([30000, 60000], [0.666667, 0.5])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DRAWS = 4_000


@dataclass(slots=True)
class Timeline:
    ends: list[int] = field(default_factory=list)  # bin end times (ms, event time)
    conversion: dict[str, list[float]] = field(default_factory=dict)
    low: dict[str, list[float]] = field(default_factory=dict)
    high: dict[str, list[float]] = field(default_factory=dict)
    allocation: dict[str, list[float]] = field(default_factory=dict)
    allocation_of: str = "pushes"  # or "assignments"


def experiment_timeline(
    pushed: dict[str, list[tuple[int, bool]]],
    assignments: Iterable[dict[str, Any]],
    bins: int = 24,
    seed: int = 0,
    design_effects: Mapping[str, float] | None = None,
) -> Timeline:
    """``pushed``: per arm, (push time, converted) for every push or ghost push;
    ``assignments``: the experiment log's assignment records (may be empty);
    ``design_effects``: per arm, the readout's (1 when not given)."""
    assigned = [(int(a["ts"]), str(a["arm"])) for a in assignments]
    stamps = [ts for rows in pushed.values() for ts, _ in rows] + [ts for ts, _ in assigned]
    out = Timeline(allocation_of="assignments" if assigned else "pushes")
    if not stamps or bins <= 0:
        return out
    start, stop = min(stamps), max(stamps)
    width = max(1, -(-(stop - start) // bins))
    out.ends = [start + width * (b + 1) for b in range(bins)]
    rng = np.random.default_rng(seed)
    per_bin: dict[str, np.ndarray] = {}
    for arm, rows in pushed.items():
        ts = np.array([t for t, _ in rows], dtype=np.int64)
        hit = np.array([c for _, c in rows], dtype=bool)
        idx = np.minimum((ts - start) // width, bins - 1)
        n = np.cumsum(np.bincount(idx, minlength=bins))
        s = np.cumsum(np.bincount(idx, weights=hit, minlength=bins)).astype(np.int64)
        d = (design_effects or {}).get(arm, 1.0)
        draws = rng.beta(1 + s[:, None] / d, 1 + (n[:, None] - s[:, None]) / d, (bins, DRAWS))
        low, high = np.percentile(draws, [2.5, 97.5], axis=1)
        out.conversion[arm] = [round(float(v), 6) for v in (1 + s / d) / (2 + n / d)]
        out.low[arm] = [round(float(v), 6) for v in low]
        out.high[arm] = [round(float(v), 6) for v in high]
        if not assigned:
            per_bin[arm] = np.bincount(idx, minlength=bins).astype(float)
    if assigned:
        for ts_, arm in assigned:
            row = per_bin.setdefault(arm, np.zeros(bins))
            row[min((ts_ - start) // width, bins - 1)] += 1
    total = sum(per_bin.values(), np.zeros(bins))
    for arm, row in per_bin.items():
        share = np.divide(row, total, out=np.full(bins, np.nan), where=total > 0)
        out.allocation[arm] = [round(float(v), 6) for v in share]
    return out
