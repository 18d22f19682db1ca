"""The room's time for deciding what is old, agreed by two sources.

Every event carries its producer's clock, and a producer may send any ``ts`` up to
``max_ahead_ms`` ahead of the room. If the room's time followed the newest ``ts``, one
account sending heartbeats 599 s ahead every 10 s would age everyone else: forgetting would
wipe every other viewer's state at each jump, and momentum windows would drop what honest
viewers just did. So the time that decides what is old is the *second* highest of the
sources' newest times: a time at least two distinct sources (each viewer, and the platform's
room-level events as one) have reached. Keeping the two highest ``(ts, source)`` pairs is
exact for that and O(1) per room, and it depends on the applied events alone, so a replay
moves it at the same events.

A quiet room with one viewer has two sources (the viewer and the platform): its time moves
with the host's showcases. Its memory stays bounded meanwhile because one viewer is small.
"""

from __future__ import annotations


class AgreedClock:
    """The two sources with the newest times; ``time`` is the lower of their two times.

    >>> c = AgreedClock()
    >>> c.observe(1_000, ""), c.observe(2_000, "u-1"), c.observe(9_000_000, "u-1")
    (-1, 1000, 1000)
    >>> c.observe(3_000, "u-2"), c.observe(5_000, ""), c.top
    (3000, 5000, ((9000000, 'u-1'), (5000, '')))
    """

    __slots__ = ("first_src", "first_ts", "second_src", "second_ts")

    def __init__(self) -> None:
        self.first_ts: int = -1
        self.first_src: str | None = None
        self.second_ts: int = -1
        self.second_src: str | None = None

    @property
    def time(self) -> int:
        """The newest time two distinct sources have both reached (−1: fewer than two)."""
        return self.second_ts

    @property
    def top(self) -> tuple[tuple[int, str | None], tuple[int, str | None]]:
        return (self.first_ts, self.first_src), (self.second_ts, self.second_src)

    def observe(self, ts: int, source: str) -> int:
        """Count an applied event of ``source`` at ``ts``; returns the agreed ``time``."""
        if source == self.first_src:
            self.first_ts = max(self.first_ts, ts)
        elif source == self.second_src:
            if ts > self.second_ts:
                self.second_ts = ts
                if ts > self.first_ts:  # the two trade places
                    self._swap()
        elif ts > self.first_ts:
            self.second_ts, self.second_src = self.first_ts, self.first_src
            self.first_ts, self.first_src = ts, source
        elif ts > self.second_ts:
            self.second_ts, self.second_src = ts, source
        return self.second_ts

    def _swap(self) -> None:
        self.first_ts, self.second_ts = self.second_ts, self.first_ts
        self.first_src, self.second_src = self.second_src, self.first_src
