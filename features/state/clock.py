"""The room's time for deciding what is old, agreed by a majority of its newest sources.

Every event carries its producer's clock, and a producer may send any ``ts`` up to
``max_ahead_ms`` ahead of the room. If the room's time followed the newest ``ts``, one
account sending heartbeats 599 s ahead every 10 s would age everyone else: forgetting would
wipe every other viewer's state at each jump, and momentum windows would drop what honest
viewers just did. A time two sources must agree on stops one account, not two jumping
together (docs/evaluation.md, "Clock jumps by colluding accounts"), and the room's time never
goes back, so one success is for good.

So the time that decides what is old is the one a *majority* of the room's ``SOURCES``
newest sources have reached (each viewer a source, the platform's room-level events one
more), and at least three of them once three are known: the median (the lower one) of their
newest times. Moving it takes as many accounts as honest sources among those kept, five in a
room with eight or more recent sources, three at a room's start. A source not heard from for
``stale_ms`` before the platform's newest event (its latest showcase, whose time the job
trusts) no longer counts, so a room whose audience dwindled does not wait on those who left.

Five accounts ahead are a majority of the eight newest sources in any room, so the agreed
time is also held near what a majority of everyone heard lately has reached (``ClockBound``):
moving that takes as many accounts as the room has sources heard within a presence timeout.

Keeping the ``SOURCES`` newest ``(ts, source)`` pairs is exact for that: a source's newest
time only grows, so one that is not among them can only re-enter with a time above the
lowest of them. It is O(``SOURCES``) per event and depends on the applied events alone, so a
replay moves it at the same events. A quiet room with one or two viewers has two or three
sources (they and the platform): all must agree, so its time moves with the host's
showcases.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from features.state.dedup import PLATFORM

SOURCES: Final = 8  # the newest sources kept: a majority of them is five
MIN_AGREED: Final = 3  # sources that must agree once that many are known


def agreeing(known: int) -> int:
    """How many of ``known`` sources must have reached a time: a majority, at least three
    (all of them while fewer are known).

    >>> [agreeing(n) for n in range(2, 9)]
    [2, 3, 3, 3, 4, 4, 5]
    """
    return min(known, max(MIN_AGREED, known // 2 + 1))


class AgreedClock:
    """The ``SOURCES`` sources with the newest times, newest first, and the platform's.

    >>> c = AgreedClock(stale_ms=90_000)
    >>> c.observe(1_000, ""), c.observe(2_000, "u-1"), c.observe(9_000_000, "u-1")
    (-1, 1000, 1000)
    >>> c.observe(3_000, "u-2"), c.observe(9_000_000, "u-3")  # two jumpers, two honest
    (1000, 3000)
    >>> c.observe(5_000, "u-4"), c.observe(6_000, "")  # the third of five
    (5000, 6000)
    """

    __slots__ = ("newest", "platform", "stale_ms")

    def __init__(self, stale_ms: int) -> None:
        self.stale_ms = stale_ms
        self.newest: list[tuple[int, str]] = []  # (ts, source), newest first
        self.platform = -1  # the platform's newest ts

    @property
    def time(self) -> int:
        """The newest time a majority of the kept sources have reached (−1: fewer than two
        known)."""
        known = len(self.newest)
        return self.newest[agreeing(known) - 1][0] if known >= 2 else -1

    @property
    def top(self) -> tuple[tuple[int, str | None], tuple[int, str | None]]:
        """The two newest, as releases that kept two stored them (``(-1, None)``: none)."""
        pairs: list[tuple[int, str | None]] = [*self.newest[:2]]
        while len(pairs) < 2:
            pairs.append((-1, None))
        return pairs[0], pairs[1]

    def dump(self) -> dict[str, Any]:
        """The sources and the platform's time, as a plain tree for a snapshot."""
        return {"newest": [[ts, src] for ts, src in self.newest], "platform": self.platform}

    def load(self, pairs: list[list[Any]], platform: int) -> None:
        """Put back the ``(ts, source)`` pairs and the platform's time ``dump`` kept."""
        self.newest = [(int(ts), str(src)) for ts, src in pairs]
        self.platform = int(platform)

    def observe(self, ts: int, source: str) -> int:
        """Count an applied event of ``source`` at ``ts``; returns the agreed ``time``. An
        event older than the platform's newest by ``stale_ms`` is no vote (its source has
        left, as far as the room's time goes)."""
        newest = self.newest
        if ts < self.platform - self.stale_ms:
            return self.time
        for i, (seen, src) in enumerate(newest):
            if src == source:
                if ts > seen:
                    del newest[i]
                    self._insert(ts, source)
                break
        else:
            if len(newest) < SOURCES:
                self._insert(ts, source)
            elif ts > newest[-1][0]:
                newest.pop()
                self._insert(ts, source)
        if source == PLATFORM and ts > self.platform:
            self.platform = ts
            cutoff = ts - self.stale_ms
            while newest and newest[-1][0] < cutoff:  # left before the platform's latest
                newest.pop()
        return self.time

    def _insert(self, ts: int, source: str) -> None:
        newest = self.newest
        at = len(newest)
        while at and newest[at - 1][0] < ts:  # after equal times: the earlier one stays first
            at -= 1
        newest.insert(at, (ts, source))


RECOUNT: Final = 8  # a bound recounted over n sources waits n // RECOUNT capped advances


def recent_majority(last_seen: np.ndarray, platform: int, cutoff: int) -> tuple[int | None, int]:
    """The time a majority (``agreeing``) of the sources heard at or after ``cutoff`` have
    reached, and how many they are: ``last_seen`` holds each viewer's newest time, ``platform``
    the platform's. None while fewer than ``MIN_AGREED`` count.

    >>> recent_majority(np.array([100, 900, 950, 990, 5_000]), 960, 500)
    (960, 5)
    """
    recent = last_seen[last_seen >= cutoff]
    if platform >= cutoff:
        recent = np.append(recent, platform)
    n = int(recent.size)
    if n < MIN_AGREED:
        return None, n
    k = n - agreeing(n)  # ascending: the lowest time the majority above it has reached
    return int(np.partition(recent, k)[k]), n


def recent_majority_reference(last_seen: list[int], platform: int,
                              cutoff: int) -> tuple[int | None, int]:
    """``recent_majority`` read plainly: sort the recent times, newest first, and count."""
    recent = sorted([t for t in last_seen if t >= cutoff]
                    + ([platform] if platform >= cutoff else []), reverse=True)
    if len(recent) < MIN_AGREED:
        return None, len(recent)
    return recent[agreeing(len(recent)) - 1], len(recent)


class ClockBound:
    """How far the room's time may run ahead of what its audience has reached.

    ``AgreedClock`` needs a majority of the room's eight newest sources, and accounts sending
    times ahead are always the newest: five of them move it in any room, however large
    (docs/evaluation.md, "Clock jumps by colluding accounts"). So the room's time is also held
    to at most ``slack_ms`` past the time a majority of *every* source heard within
    ``window_ms`` of it (or of the platform's newest event, if later) has reached (each
    viewer's newest time, which the room keeps anyway, and the platform's): moving that takes
    as many accounts as the room has sources heard lately. In a clean room that majority lags
    its newest source by about half a heartbeat interval, less than the slack: the bound
    binds rarely, and then by seconds (measured in docs/evaluation.md).

    Counting every source is O(viewers), so it is recounted only when the time would pass the
    bound, and once a recount over ``n`` sources finds it binding the next waits for
    ``n // RECOUNT`` capped advances (the platform's events recount at once): a room under
    attack recounts O(``RECOUNT``) per event amortised, a quiet one at once, and a clean one
    (whose bound only aged) runs free.
    ``limit`` and ``wait`` are state (a snapshot keeps them): a restored room caps at the
    same events.

    >>> bound = ClockBound(window_ms=90_000, slack_ms=45_000)
    >>> seen = np.array([1_000_000, 1_010_000, 1_020_000, 1_025_000])
    >>> bound.cap(1_030_000, 1_025_000, seen, -1)  # within the slack: free
    1030000
    >>> bound.cap(1_600_000, 1_030_000, seen, -1)  # 599 s ahead: held to the slack
    1055000
    """

    __slots__ = ("limit", "slack_ms", "wait", "window_ms")

    def __init__(self, window_ms: int, slack_ms: int) -> None:
        self.window_ms, self.slack_ms = window_ms, slack_ms
        self.limit = -1  # the latest bound (−1: none yet, the next advance counts)
        self.wait = 0  # capped advances before the next recount

    def cap(self, candidate: int, clock: int, last_seen: np.ndarray, platform: int) -> int:
        """``candidate`` (the newest sources' agreed time, ahead of ``clock``) no later than
        the bound, for the platform's event (already in ``platform``): past the bound, it is
        recounted at once, wait or not (the platform's events are few, and they move the
        window the count looks at)."""
        if candidate <= self.limit:
            return candidate
        return self._recount(candidate, clock, last_seen, platform)

    def cap_viewer(self, candidate: int, clock: int, last_seen: np.ndarray, platform: int,
                   row: int | None, ts: int) -> int:
        """``cap`` for a viewer's event at ``ts``, which counts too (``row`` None: a viewer
        not in ``last_seen`` yet); past the bound while a wait is running, it is held there
        without a recount."""
        if candidate <= self.limit:
            return candidate
        if self.wait > 0:
            self.wait -= 1
            return self.limit
        if row is None:
            last_seen = np.append(last_seen, ts)
        elif ts > last_seen[row]:
            last_seen = last_seen.copy()
            last_seen[row] = ts
        return self._recount(candidate, clock, last_seen, platform)

    def _recount(self, candidate: int, clock: int, last_seen: np.ndarray, platform: int) -> int:
        # Heard within the window of the room's time, or of the platform's newest if that is
        # later: a crowd of sources heard long ago cannot hold the time still past the next
        # showcase (that window would never move while the time it follows is held).
        majority, n = recent_majority(last_seen, platform, max(clock, platform) - self.window_ms)
        self.limit = candidate if majority is None else majority + self.slack_ms
        if candidate <= self.limit:  # the bound had only aged: the room's time runs free
            return candidate
        self.wait = n // RECOUNT  # it binds: recount after the next n // RECOUNT advances
        return self.limit


class RecentSources:
    """The room's last ``SOURCES`` distinct sources in the order their events were applied,
    each with its newest time: whether a trigger came late.

    A trigger (a showcase, an enter) applied after events later than it would be ranked from
    what came after it. The room's agreed time cannot say so alone: the eight sources with the
    *newest times* are the clocks furthest ahead, so five accounts (or five honest phones a
    minute fast, certain among thousands) hold it up to ``ClockBound``'s slack ahead of the
    audience, and every trigger would look late (red team 12: a room's pushes 3,589 → 57).
    The sources *applied last* are whoever spoke just before the trigger: in a live room,
    the audience. A majority of them (``agreeing``) past the trigger means events after it
    were applied before it, unless they are accounts that spoke in one burst just before it:
    ``late`` asks everyone heard lately too.

    >>> recent = RecentSources()
    >>> for ts, source in [(1_000, ""), (1_500, "u-1"), (2_000, "u-2"), (61_000, "u-3")]:
    ...     recent.observe(ts, source)
    >>> recent.passed(1_000), recent.passed(1_900), recent.passed(2_000)
    (True, False, False)
    >>> recent.observe(70_000, "u-4"); recent.observe(70_000, "u-5")  # three ahead of six
    >>> recent.passed(2_000), len(recent.pairs)
    (False, 6)
    >>> recent.observe(3_500, "u-1")  # the audience speaks on: the trigger at 1,000 is late
    >>> recent.passed(1_000), recent.pairs[0]
    (True, ('u-1', 3500))
    """

    __slots__ = ("pairs",)

    def __init__(self) -> None:
        self.pairs: list[tuple[str, int]] = []  # (source, newest ts), applied last first

    def observe(self, ts: int, source: str) -> None:
        """Count an applied event of ``source`` at ``ts``."""
        pairs = self.pairs
        for i, (src, seen) in enumerate(pairs):
            if src == source:
                del pairs[i]
                ts = max(ts, seen)
                break
        else:
            if len(pairs) >= SOURCES:
                pairs.pop()
        pairs.insert(0, (source, ts))

    def passed(self, ts: int) -> bool:
        """Whether a majority of the sources applied last have reached a time after ``ts``."""
        known = len(self.pairs)
        return known > 0 and sum(seen > ts for _, seen in self.pairs) >= agreeing(known)

    def late(self, ts: int, last_seen: np.ndarray, platform: int, cutoff: int) -> bool:
        """Whether the sources applied last *and* a majority of everyone heard at or after
        ``cutoff`` (``recent_majority``) have reached a time after ``ts``.

        Accounts sending in one burst are, just after it, the sources applied last, and five
        are a majority of eight in any room: the trigger after the burst looks late. Whether
        they are the audience only a count over everyone heard lately can say, and moving that
        takes as many accounts as the room has sources heard lately (as ``ClockBound``). It is
        O(viewers), so it is counted only for a trigger the last sources call late (in a clean
        room, the few delayed ones). Fewer than ``MIN_AGREED`` heard lately: the last sources
        decide alone. The room puts ``cutoff`` a presence timeout before the trigger's own
        time, which accounts ahead cannot move: a window following the room's time, which
        they can hold minutes ahead, would count only them.

        >>> recent = RecentSources()
        >>> for n in range(5):  # five accounts a minute ahead, in one burst
        ...     recent.observe(61_000, f"fast-{n}")
        >>> seen = np.array([1_500, 1_800, 2_500, 2_900, 3_000, 3_200, 61_000, 61_000])
        >>> recent.passed(3_000), recent.late(3_000, seen, 1_000, 0)
        (True, False)
        >>> recent.late(1_000, seen, 1_000, 0)  # the audience passed it too: late
        True
        """
        if not self.passed(ts):
            return False
        majority, _ = recent_majority(last_seen, platform, cutoff)
        return majority is None or majority > ts
