"""Everything that shapes a room's behaviour, as one immutable value.

Pure code receives these explicitly; ``flows.settings`` builds them from flags and the
environment, the only place configuration enters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from features.state.inbox import Inbox
from models.arms import Arms
from models.learners.choice import LEARNERS

# Implicit-feedback targets for the factorisation, per event type (0 = not a signal).
FEEDBACK: Final = {
    "heartbeat": 0.0,  # watching the stream is not a choice among the items on show
    "like": 0.2,
    "comment": 0.3,
    "share": 0.5,
    "gift": 0.5,
    "follow": 0.0,
    "item_click": 0.6,
    "push_open": 0.6,
    "add_to_cart": 0.8,
    "purchase": 1.0,
}


@dataclass(frozen=True, slots=True)
class RoomParams:
    top_k: int = 3
    dim: int = 32
    lr: float = 0.05
    scale_targets: bool = True
    clip_gradient: float = 50.0
    l2: float = 0.0
    init_sigma: float = 0.1
    propensity_lr: float = 0.05
    # How firmly the choice model holds its starting weights: Newton steps under a Gaussian
    # prior whose precision for each weight is this times choice_features.PRECISION (the
    # disagreement of fitted worlds; models.learners.newton). 0: small SGD steps instead.
    choice_prior_scale: float = 1.0
    presence_timeout_ms: int = 90_000
    forget_after_ms: int = 600_000
    lateness_ms: int = 2_000
    max_held_events: int = 50_000
    max_ahead_ms: int = 600_000  # an event further ahead of its room's clock is an outlier
    window_ms: int = 300_000
    bucket_ms: int = 10_000
    dedup_horizon_ms: int = 600_000
    dedup_max_ids: int = 200_000
    conversion_window_ms: int = 300_000
    sweep_every_ms: int = 10_000
    arms: Arms = field(default_factory=lambda: Arms.parse("attention=0.9,control=0.1"))
    experiment: str = "roomrank-v1"
    learner: str = "fast"  # models.learners.choice.LEARNERS
    allocation: str = "fixed"  # "thompson", "bayes-ucb": see models/experiment/allocation.py
    allocation_min_pushes: int = 200
    allocation_stop_loss: float = 0.999
    allocation_half_life_ms: int = 0  # 0: pushes and purchases never age
    # The choice model's starting weights in ``choice_features.FEATURES`` order (empty: its
    # priors), and features it must leave out (held at zero): the lab's hindsight bound and
    # ablations; a warm start fitted offline.
    choice_weights: tuple[float, ...] = ()
    choice_off: frozenset[str] = frozenset()

    @property
    def push_width(self) -> int:
        """Items remembered per viewer's last push: the largest ``k`` of any arm."""
        return max([self.top_k, *(spec.top_k for spec in self.arms.specs)])

    def inbox(self, room_id: str) -> Inbox:
        """A room's input rules as the job keeps them (the experiment readout reads the same
        events through the same rules, so it refuses what the job refused)."""
        return Inbox(room_id, self.lateness_ms, self.max_held_events, self.max_ahead_ms,
                     self.dedup_horizon_ms, self.dedup_max_ids)

    def __post_init__(self) -> None:
        if self.allocation not in ("fixed", "thompson", "bayes-ucb"):
            raise ValueError(
                f"allocation must be fixed, thompson or bayes-ucb, got {self.allocation!r}"
            )
        if not 0.5 < self.allocation_stop_loss <= 1.0:
            raise ValueError(
                f"allocation stop-loss must be in (0.5, 1], got {self.allocation_stop_loss}"
            )
        for name in (
            "top_k", "dim", "presence_timeout_ms", "window_ms", "bucket_ms", "max_held_events",
        ):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("lateness_ms", "max_ahead_ms", "dedup_horizon_ms", "forget_after_ms",
                     "allocation_half_life_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learner not in LEARNERS:
            raise ValueError(f"learner must be one of {', '.join(LEARNERS)}, not {self.learner!r}")
