"""Seeing the broker go and come back, and un-sticking a partition that stopped fetching.

librdkafka reconnects on its own, but it says so only through callbacks: without an
``error_cb`` and a ``logger`` its lines go straight to stderr in its own format, or nowhere.
``client_config`` routes both through the job's logger, and ``BrokerWatch`` turns them into
one line when the job loses every broker and one when a broker is up again.

``StallWatch`` guards against a known failure of assign()-based consumers after a broker
restart (librdkafka issue #5153, open): the partition stays assigned but is never fetched
again, with no error. A job in that state runs on, silently reading nothing from that
partition. The watch notices a partition that has delivered nothing for ``stall_s`` while
the broker holds messages past our position, or whose client has not had an answer from
the broker for ``silent_checks`` checks in a row although the client never saw the broker
go (seen once in CI: after a broker restart one partition's consumer, the one that had
been talking to the group coordinator, neither fetched nor answered a watermark query for
two minutes while the other three read on). Either way the partition's consumer is
replaced by a new one at our position (nothing is skipped or read twice: the position is
the next offset we need); issue #5153 reports that only a new consumer cures the stall.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Final

from confluent_kafka import KafkaError

log = logging.getLogger("roomrank.kafka")
rdkafka_log = logging.getLogger("roomrank.kafka.librdkafka")

STATS_INTERVAL_MS = 5000
STALL_SECS = 10.0
SILENT_CHECKS = 3

STALLED: Final = "stalled"
SILENT: Final = "silent"


class Repeats(logging.Filter):
    """Lets one of each kind of librdkafka line through per ``window_s``.

    While a broker is down librdkafka logs a failed connect per client every backoff
    (tens of lines a second); lines that differ only in their numbers are one kind.

    >>> f = Repeats(60.0, clock=lambda: 0.0)
    >>> rec = lambda m: logging.LogRecord("x", 40, "", 0, m, None, None)
    >>> [f.filter(rec(f"connect failed (after {n}ms)")) for n in (0, 3)], f.filter(rec("other"))
    ([True, False], True)
    """

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock or (lambda: time.monotonic())
        self.seen: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = _DIGITS.sub("#", record.getMessage())
        now = self.clock()
        last = self.seen.get(kind)
        if last is not None and now - last < self.window_s:
            return False
        if len(self.seen) > 1000:
            self.seen.clear()
        self.seen[kind] = now
        return True


_DIGITS = re.compile(r"\d+")
rdkafka_log.addFilter(Repeats())


class BrokerWatch:
    """Logs the loss of the brokers once, and their return once.

    librdkafka queues its events until the client is polled, and serves a loss after the
    statistics queued behind it: a sink idle through a broker restart (nothing to write, so
    never polled) would say "lost the broker" long after the broker came back, and never
    "back". So for a client polled only now and then (``confirm``: a sink) a loss
    (``lost``, the client's own view, at once) is said only when a statistics report after
    it finds no broker up; a report that finds one up, or a flush that delivered (the sink
    calls ``on_message``), ends it, said or not. A consumer is
    polled all the time: its loss is said as it comes, unless a message came within one
    statistics interval before it, when it too waits for a report to confirm it (librdkafka
    can serve a loss queued during an outage just after the first messages that followed
    it: "back", "lost", "back" within 50 ms). A consumer not polled during the outage (its
    worker waiting in a sink's flush) says its loss only when polled again, as the broker
    returns, and "back" at its next report or message (within STATS_INTERVAL_MS).
    """

    def __init__(self, name: str, confirm: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.lost = False
        self._confirm = confirm
        self._said = False  # "lost the broker" was logged; "back" is owed
        self._why = ""
        self._clock = clock
        self._heard = -float("inf")  # when the last message came

    def on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.lost, self._why = True, error.str()
            recent = self._clock() - self._heard < STATS_INTERVAL_MS / 1000.0
            if not (self._confirm or recent):
                self._say_lost()
        else:  # one connection failing (librdkafka retries it): once a minute per kind
            rdkafka_log.warning("Kafka %s: %s", self.name, error.str())

    def on_stats(self, stats: dict[str, Any]) -> None:
        if not self.lost:
            return
        brokers = stats.get("brokers", {}).values()
        if any(b.get("state") == "UP" and b.get("nodeid", -1) >= 0 for b in brokers):
            self.on_message()
        else:
            self._say_lost()

    def _say_lost(self) -> None:
        if not self._said:
            self._said = True
            log.warning("Kafka %s: lost the broker (%s); retrying", self.name, self._why)

    def on_message(self) -> None:
        """A message (or a delivery) arrived: the broker is certainly back."""
        self._heard = self._clock()
        if self.lost:
            self.lost = False
            if self._said:
                self._said = False
                log.info("Kafka %s: the broker is back", self.name)


def client_config(
    watch: BrokerWatch, on_stats: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """librdkafka settings that route its errors, logs and statistics to Python."""

    def stats(raw: str) -> None:
        try:
            data = json.loads(raw)
        except ValueError:
            return
        watch.on_stats(data)
        if on_stats is not None:
            on_stats(data)

    return {
        "error_cb": watch.on_error,
        "logger": rdkafka_log,
        "statistics.interval.ms": STATS_INTERVAL_MS,
        "stats_cb": stats,
    }


class StallWatch:
    """Decides when an assigned partition's consumer must be replaced.

    ``STALLED``: for ``stall_s`` the partition delivered nothing while the broker answered
    and held messages past our position, seen by two answers ``stall_s`` apart (so the time
    a broker is down does not count). ``SILENT``: the partition is idle and ``watermarks``
    went unanswered ``silent_checks`` times in a row (``stall_s`` apart) while the client's
    ``BrokerWatch`` did not say the broker was lost (in a real outage every client says so,
    and a new consumer would wait like the old one). ``watermarks`` asks the broker for the
    partition's (low, high) offsets, None when it cannot answer; it is called at most once
    per ``stall_s`` while the partition is idle.

    >>> clock, marks = [0.0], [(0, 10)]
    >>> watch = StallWatch(lambda: marks[0], stall_s=10.0, clock=lambda: clock[0])
    >>> clock[0] = 11.0; watch.check(position=10)  # idle, but nothing to read
    >>> marks[0] = None; clock[0] = 22.0; watch.check(position=7, lost=True)  # broker away
    >>> marks[0] = (0, 10); clock[0] = 33.0; watch.check(position=7)  # back, 3 waiting
    >>> clock[0] = 44.0; watch.check(position=7)  # still 3 waiting, 11 s later: stalled
    'stalled'
    >>> marks[0] = None
    >>> [watch.check(position=7) for clock[0] in (55.0, 66.0, 77.0)]  # unanswered, not lost
    [None, None, 'silent']
    """

    def __init__(
        self,
        watermarks: Callable[[], tuple[int, int] | None],
        stall_s: float = STALL_SECS,
        silent_checks: int = SILENT_CHECKS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._watermarks = watermarks
        self._stall_s = stall_s
        self._silent_checks = silent_checks
        self._clock = clock or (lambda: time.monotonic())
        self._progress = self._clock()
        self._checked = self._progress
        self._armed = False
        self._unanswered = 0

    def progressed(self) -> None:
        self._progress = self._clock()
        self._armed = False
        self._unanswered = 0

    def check(self, position: int, lost: bool = False) -> str | None:
        """``STALLED``, ``SILENT`` or None (``position``: the next offset to read; negative:
        from the start; ``lost``: the client's own view that every broker is down). Starts
        over after a verdict."""
        now = self._clock()
        if now - self._progress < self._stall_s or now - self._checked < self._stall_s:
            return None
        self._checked = now
        marks = self._watermarks()
        if marks is None:
            self._armed = False
            self._unanswered = 0 if lost else self._unanswered + 1
            if self._unanswered < self._silent_checks:
                return None
            return self._verdict(SILENT, now)
        self._unanswered = 0
        low, high = marks
        if high <= (position if position >= 0 else low):
            self._armed = False
            return None
        if not self._armed:
            self._armed = True
            return None
        return self._verdict(STALLED, now)

    def _verdict(self, verdict: str, now: float) -> str:
        self._armed = False
        self._unanswered = 0
        self._progress = now
        return verdict
