"""Every metric the job exports, declared once; ``Recorder`` turns dataflow outputs into them.

Names are prefixed ``roomrank_``; labels are bounded (event type, dead-letter reason, arm,
trigger, action, Kafka topic and partition), never a room or user id. Metrics live in
prometheus-client's default registry, so under ``bytewax.run`` with its dataflow API enabled
they also appear beside Bytewax's own on port 3030.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from river import metrics as river_metrics
from river import stats as river_stats
from river import utils as river_utils

from features.contract.events import DEAD_LETTER_REASONS, EVENT_TYPES, DeadLetter
from features.contract.messages import PushBatch
from flows.input_keys import OffKey
from models.experiment.allocation import Assignments
from models.experiment.serving import Ghosts
from models.room import RoomStats

log = logging.getLogger("roomrank.metrics")

EVENTS: Final = Counter("roomrank_events_total", "Room events applied, by type", ["type"])
DEAD_LETTERS: Final = Counter(
    "roomrank_dead_letters_total", "Inputs turned into dead letters, by reason", ["reason"]
)
DUPLICATES: Final = Counter("roomrank_duplicates_total", "Redelivered events dropped")
INPUT_OFF_KEY: Final = Counter(
    "roomrank_input_off_key_total",
    "Kafka input events whose message key is not their room_id (the contract's key)",
)
PUSHES: Final = Counter("roomrank_pushes_total", "Pushes emitted", ["arm", "trigger"])
SHOWCASE_CHANGES: Final = Counter("roomrank_showcase_changes_total", "Showcase events applied")
PRESENT_VIEWERS: Final = Gauge(
    "roomrank_present_viewers", "Viewers present in this process's rooms"
)
ROOMS_ACTIVE: Final = Gauge("roomrank_rooms_active", "Open rooms held by this process")
PUSH_LATENCY: Final = Histogram(
    "roomrank_push_latency_seconds",
    "Wall time from reading the input that released a trigger (the trigger, or the event that"
    " ended its reorder hold) to handing its pushes to the sink",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0),
)
PUSH_HOLD: Final = Histogram(
    "roomrank_push_hold_seconds",
    "Wall time a trigger waited in its room's reorder buffer before release (--lateness-ms of"
    " event time, or --quiet-flush-ms of silence); push latency adds to it",
    buckets=(0.01, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 30.0, 60.0, 300.0),
)
EVENT_LAG: Final = Histogram(
    "roomrank_event_lag_seconds",
    "Wall clock minus the event time of the newest event a room applied",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0, float("inf")),
)
KAFKA_LAG: Final = Gauge(
    "roomrank_kafka_consumer_lag", "Messages behind the partition's end", ["topic", "partition"]
)
PROPENSITY_AUC: Final = Gauge(
    "roomrank_propensity_rolling_auc",
    "Rolling ROC AUC of the choice model: P(chosen item) against P(another item on show),"
    " scored before learning",
)
PUSH_HIT_RATE: Final = Gauge(
    "roomrank_push_hit_rate",
    "Rolling share of clicks on an item of the viewer's last push",
    ["arm"],
)
CONVERSIONS: Final = Counter(
    "roomrank_push_conversions_total",
    "Pushes whose items their viewer clicked or bought within the conversion window"
    " (a push counts once per action)",
    ["arm", "action"],
)
LEARNER_REFUSED: Final = Counter(
    "roomrank_learner_refused_total",
    "Learner updates refused because a target, feature or result was not finite (NaN, inf)",
)

LATE_TRIGGERS: Final = Counter(
    "roomrank_late_triggers_total",
    "Showcases and enters applied after their room's agreed time had passed them by more than"
    " --lateness-ms (or an enter after a newer showcase): pushed to nobody, since their"
    " ranking would read what came after them",
    ["trigger"],
)
PUSHES_SKIPPED: Final = Counter(
    "roomrank_pushes_skipped_total",
    "Pushes ranked but not sent by the arm's push policy (reason: same_items, frequency_cap)",
    ["arm", "reason"],
)
GHOST_PUSHES: Final = Counter(
    "roomrank_ghost_pushes_total",
    "Would-be pushes of holdout viewers, written to the experiment log, never sent",
    ["arm"],
)

ASSIGNMENTS: Final = Counter(
    "roomrank_assignments_total",
    "Viewers assigned an arm by the adaptive allocation (--allocation thompson)",
    ["arm"],
)
ALLOCATION_PROBABILITY: Final = Gauge(
    "roomrank_allocation_probability",
    "Probability of the arm in the latest assignment (the allocation share moving)",
    ["arm"],
)
ALLOCATION_SHARE: Final = Gauge(
    "roomrank_allocation_share",
    "Share of the arm among this process's last ROLLING_WINDOW assignments (adaptive allocation)",
    ["arm"],
)
CONVERSION_POSTERIOR: Final = Gauge(
    "roomrank_arm_conversion_posterior_mean",
    "Posterior mean of push to purchase conversion, Beta(1, 1) prior: (1 + purchases) / "
    "(2 + pushes, ghost pushes for a holdout), counted by this process",
    ["arm"],
)

ROLLING_WINDOW: Final = 5000

# Every known label exists from the start, at zero: a dashboard or an alert on a rate sees
# the series before its first occurrence (an absent series is not a zero rate).
for _reason in DEAD_LETTER_REASONS:
    DEAD_LETTERS.labels(_reason)
for _type in sorted(EVENT_TYPES):
    EVENTS.labels(_type)


def serve(port: int) -> None:
    """Expose the default registry on ``port`` (all interfaces: scraped from outside)."""
    start_http_server(port)
    log.info("metrics on :%d/metrics", port)


def rolling_mean() -> river_utils.Rolling:
    """River's mean of the last ``ROLLING_WINDOW`` observations, O(1) per update.

    >>> m = rolling_mean()
    >>> [round((m.update(v), m.get())[1], 3) for v in (1.0, 0.0, 0.0, 1.0)]
    [1.0, 0.5, 0.333, 0.5]
    """
    return river_utils.Rolling(river_stats.Mean, window_size=ROLLING_WINDOW)


class Recorder:
    """Folds the dataflow's outputs into the metrics above (one per process)."""

    def __init__(self) -> None:
        self.present: dict[str, int] = {}  # per room, so that a room's update replaces its last
        self.present_total = 0  # the sum of ``present``, kept as it changes: O(1) per record
        self.auc = river_metrics.RollingROCAUC(window_size=ROLLING_WINDOW)
        self.hits: dict[str, river_utils.Rolling] = {}
        self.recent = ArmShares(ROLLING_WINDOW)
        self.pushed: dict[str, int] = {}  # per arm: pushes and ghost pushes
        self.bought: dict[str, int] = {}  # per arm: purchase conversions
        self.off_key_told = False  # the first event keyed other than by its room is logged

    def __call__(self, item: Any) -> None:
        if isinstance(item, RoomStats):
            self._stats(item)
        elif isinstance(item, PushBatch):
            self._pushes(item)
        elif isinstance(item, Ghosts):
            for arm in item.batch.arms:
                GHOST_PUSHES.labels(arm).inc()
            self._posterior(item.batch.arms, ())
        elif isinstance(item, Assignments):
            for arm, probability in zip(item.arms, item.probabilities, strict=True):
                ASSIGNMENTS.labels(arm).inc()
                ALLOCATION_PROBABILITY.labels(arm).set(probability)
            for arm, share in self.recent.add(item.arms).items():
                ALLOCATION_SHARE.labels(arm).set(share)
        elif isinstance(item, DeadLetter):
            DEAD_LETTERS.labels(item.reason).inc()
        elif isinstance(item, OffKey):
            INPUT_OFF_KEY.inc()
            if not self.off_key_told:
                self.off_key_told = True
                logging.getLogger("roomrank.kafka").warning("%s", item.warning())

    def _pushes(self, batch: PushBatch) -> None:
        counts: dict[str, int] = {}
        for arm in batch.arms:
            counts[arm] = counts.get(arm, 0) + 1
        for arm, n in counts.items():
            PUSHES.labels(arm, batch.trigger).inc(n)
        self._posterior(batch.arms, ())
        if batch.read_at:
            PUSH_LATENCY.observe(time.monotonic() - batch.read_at)
        if batch.held_s is not None:
            PUSH_HOLD.observe(batch.held_s)

    def _stats(self, stats: RoomStats) -> None:
        for etype, n in stats.events.items():
            EVENTS.labels(etype).inc(n)
        if stats.events.get("showcase"):
            SHOWCASE_CHANGES.inc(stats.events["showcase"])
        if stats.duplicates:
            DUPLICATES.inc(stats.duplicates)
        if stats.refused:
            LEARNER_REFUSED.inc(stats.refused)
        for trigger, n in stats.late_triggers.items():
            LATE_TRIGGERS.labels(trigger).inc(n)
        before = self.present.pop(stats.room_id, 0)
        if not stats.closed:
            self.present[stats.room_id] = stats.present
        self.present_total += (0 if stats.closed else stats.present) - before
        PRESENT_VIEWERS.set(self.present_total)
        ROOMS_ACTIVE.set(len(self.present))
        if stats.clock:
            EVENT_LAG.observe(max(time.time() - stats.clock / 1000.0, 0.0))
        for probability, label in stats.propensity:
            self.auc.update(label, probability)
        if stats.propensity:
            PROPENSITY_AUC.set(self.auc.get())
        for arm, hit in stats.hits:
            rate = self.hits.get(arm)
            if rate is None:
                rate = self.hits[arm] = rolling_mean()
            rate.update(float(hit))
            PUSH_HIT_RATE.labels(arm).set(rate.get())  # type: ignore[operator]  # River: loose type
        for arm, action in stats.conversions:
            CONVERSIONS.labels(arm, action).inc()
        if stats.conversions:
            self._posterior((), [arm for arm, action in stats.conversions if action == "purchase"])
        for (arm, reason), n in stats.skipped.items():
            PUSHES_SKIPPED.labels(arm, reason).inc(n)

    def _posterior(self, pushed: Iterable[str], bought: Iterable[str]) -> None:
        touched: set[str] = set()
        for arm in pushed:
            self.pushed[arm] = self.pushed.get(arm, 0) + 1
            touched.add(arm)
        for arm in bought:
            self.bought[arm] = self.bought.get(arm, 0) + 1
            touched.add(arm)
        for arm in touched:
            wins = min(self.bought.get(arm, 0), self.pushed.get(arm, 0))
            CONVERSION_POSTERIOR.labels(arm).set((1 + wins) / (2 + self.pushed.get(arm, 0)))


class ArmShares:
    """Each arm's share of the last ``window`` assignments, O(1) per assignment.

    >>> s = ArmShares(3)
    >>> s.add(["a", "a", "b"]), s.add(["b"])
    ({'a': 0.666667, 'b': 0.333333}, {'a': 0.333333, 'b': 0.666667})
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self.arms: deque[str] = deque()
        self.counts: dict[str, int] = {}

    def add(self, arms: Iterable[str]) -> dict[str, float]:
        for arm in arms:
            self.arms.append(arm)
            self.counts[arm] = self.counts.get(arm, 0) + 1
            if len(self.arms) > self.window:
                old = self.arms.popleft()
                self.counts[old] -= 1
        total = len(self.arms)
        return {arm: round(n / total, 6) for arm, n in self.counts.items()} if total else {}
