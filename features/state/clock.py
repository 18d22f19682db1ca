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

Keeping the ``SOURCES`` newest ``(ts, source)`` pairs is exact for that: a source's newest
time only grows, so one that is not among them can only re-enter with a time above the
lowest of them. It is O(``SOURCES``) per event and depends on the applied events alone, so a
replay moves it at the same events. A quiet room with one or two viewers has two or three
sources (they and the platform): all must agree, so its time moves with the host's
showcases.
"""

from __future__ import annotations

from typing import Final

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
