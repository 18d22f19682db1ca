"""The one line ``roomrank run`` and the demo end with: what the run did, read back from the
process's own counters (``flows.metrics``), so the line and the metrics cannot disagree."""

from __future__ import annotations

import time
from collections import Counter

from flows.metrics import DEAD_LETTERS, DUPLICATES, EVENTS, INPUT_OFF_KEY, PUSHES


def _by_label(counter: object, label: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for metric in counter.collect():  # type: ignore[attr-defined]
        for sample in metric.samples:
            if sample.name.endswith("_total") and label in sample.labels:
                out[sample.labels[label]] += int(sample.value)
            elif sample.name.endswith("_total") and not label:
                out[""] += int(sample.value)
    return out


class RunSummary:
    """Counts since ``__init__`` (counters are per process and a test runs several jobs)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.before = self._counts()

    @staticmethod
    def _counts() -> dict[str, Counter[str]]:
        return {
            "events": _by_label(EVENTS, "type"),
            "pushes": _by_label(PUSHES, "arm"),
            "dead": _by_label(DEAD_LETTERS, "reason"),
            "duplicates": _by_label(DUPLICATES, ""),
            "off_key": _by_label(INPUT_OFF_KEY, ""),
        }

    def line(self, after: str = "") -> str:
        """``roomrank: 1,200 events (join 400, …), 300 pushes, 2 dead letters (late 2), …``,
        then ``; after`` (what the run's start warned of, e.g. a changed split of viewers)."""
        seconds = max(time.monotonic() - self.start, 1e-9)
        now = self._counts()
        diff = {key: +(now[key] - self.before[key]) for key in now}
        events = sum(diff["events"].values())
        dead = sum(diff["dead"].values())
        off_key = diff["off_key"][""] if diff["off_key"] else 0
        return (
            f"roomrank: {events:,} events{_kinds(diff['events'])}, "
            f"{sum(diff['pushes'].values()):,} pushes, "
            f"{dead:,} dead letters{_kinds(diff['dead'])}, "
            f"{diff['duplicates'][''] if diff['duplicates'] else 0:,} duplicates"
            f"{f', {off_key:,} events not keyed by room_id' if off_key else ''} in "
            f"{seconds:.1f} s, {events / seconds:,.0f} events/s{f'; {after}' if after else ''}"
        )


def _kinds(counts: Counter[str]) -> str:
    """`` (a 2, b 1)``, most first; empty when there are none.

    >>> _kinds(Counter({"join": 2, "click": 5})), _kinds(Counter())
    (' (click 5, join 2)', '')
    """
    shown = [f"{kind} {n:,}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if n]
    return f" ({', '.join(shown)})" if shown else ""
