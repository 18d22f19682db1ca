"""The one place configuration enters: flags, then ``ROOMRANK_*`` environment, then defaults.

``SETTINGS`` is the single table of every setting; the command line, the environment
reader and the README's configuration table are all generated from it, so they cannot
disagree.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from features.contract.limits import MAX_TS
from features.contract.schema import MAX_SHOWCASE_ITEMS
from flows.topic_names import TOPICS, check_topics
from models import choice_weights
from models.arms import Arms
from models.learners.choice import LEARNERS
from models.params import RoomParams

MAX_DIM: Final = 1024
"""Largest ``--dim``: every viewer and item of a room holds a vector this long, and a room's
ranking multiplies them; far past the few dozen the learners need, far short of memory."""
MAX_PRIOR_SCALE: Final = 1e6
"""Largest ``--choice-prior-scale``: already a room that never moves from its starting
weights; larger values only bring the Newton step's precision matrix closer to overflow."""
MAX_BUCKETS: Final = 1000
"""Most buckets of the momentum window (``--window-ms`` / ``--bucket-ms``): every item of a
room holds a row per bucket, so a fine resolution over a long window is memory per item."""
MAX_INT: Final = MAX_TS
"""Largest value of any whole-number setting without a bound of its own: the contract's
largest event time. Durations beyond it mean nothing, and it keeps arithmetic inside int64."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # attribute of Settings; flag is --name-with-dashes; env is ROOMRANK_NAME
    kind: type
    default: Any
    help: str
    # Numbers: the range accepted (inclusive; None = unbounded). A float must be finite too:
    # NaN compares false with every bound and would pass a hand-written check unnoticed.
    low: float | None = None
    high: float | None = None
    # Text: whether "" is a value (it means "off" or "none" where the help says so). Blank
    # text (only spaces) is refused either way: it is a typo, never a name or a path.
    empty_ok: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "ROOMRANK_" + self.name.upper()


SETTINGS: Final = (
    Setting("brokers", str, "", "Kafka bootstrap servers; empty = file mode"),
    Setting("input_topic", str, "live.room-events", "topic of room events", empty_ok=False),
    Setting("output_topic", str, "live.recommendations", "topic of pushes", empty_ok=False),
    Setting("dead_letter_topic", str, "live.dead-letters", "topic of dead letters", empty_ok=False),
    Setting(
        "experiment_topic", str, "live.experiment-log", "topic of ghost pushes (experiment log)",
        empty_ok=False,
    ),
    Setting("partitions", int, 4, "partitions of topics the job creates when missing", low=1),
    Setting("top_k", int, 3, "items per push", low=1, high=MAX_SHOWCASE_ITEMS),
    Setting(
        "arms",
        str,
        "attention=0.9,control=0.1",
        "experiment arms: NAME=SHARE[:KEY=VALUE...] (docs/experiments.md); shares are"
        " weights, normalised to sum to 1",
        empty_ok=False,
    ),
    Setting("experiment", str, "roomrank-v1", "experiment name; hashed with user_id for arms",
            empty_ok=False),
    Setting("allocation", str, "fixed",
            "fixed (shares as given), thompson or bayes-ucb (River's; both learn per room)",
            empty_ok=False),
    Setting("allocation_min_pushes", int, 200, "adaptive: pushes per arm before shares move",
            low=0),
    Setting(
        "allocation_stop_loss",
        float,
        0.999,
        "adaptive: cut an arm credibly worse than the leader with this probability; 1 = never",
        low=0.5, high=1,
    ),
    Setting(
        "allocation_half_life_ms",
        int,
        0,
        "adaptive: pushes and purchases count half after this much event time; 0 = never",
        low=0,
    ),
    Setting("presence_timeout_ms", int, 90_000, "a viewer not heard from this long is gone", low=1),
    Setting("forget_after_ms", int, 600_000, "drop a viewer's or item's learned state after",
            low=1),
    Setting("lateness_ms", int, 2_000, "event-time disorder tolerated per room", low=0),
    Setting(
        "max_held_events",
        int,
        50_000,
        "most events a room holds back for reordering; past it the oldest are applied early",
        low=1,
    ),
    Setting("max_ahead_ms", int, 600_000, "an event further ahead of its room's clock is refused",
            low=1),
    Setting("window_ms", int, 300_000, "length of the room's momentum window", low=1),
    Setting("bucket_ms", int, 10_000, "resolution of the momentum window", low=1),
    Setting(
        "quiet_flush_ms",
        int,
        5_000,
        "wall ms a room may be silent before its held events are applied; 0 = never",
        low=0,
    ),
    Setting(
        "room_idle_ms",
        int,
        3_600_000,
        "wall ms a room may be silent before its state is dropped; 0 = never",
        low=0,
    ),
    Setting("dedup_horizon_ms", int, 600_000, "event-time horizon of event_id de-duplication",
            low=1),
    Setting("dedup_max_ids", int, 200_000, "most event ids remembered per room", low=1),
    Setting("dim", int, 32, "dimension of user and item vectors", low=1, high=MAX_DIM),
    Setting("learning_rate", float, 0.05, "SGD step of the vector learner", low=0, high=1),
    Setting("propensity_learning_rate", float, 0.05,
            "SGD step of the choice model (attention and propensity weights); 0 freezes it",
            low=0, high=1),
    Setting(
        "choice_prior_scale",
        float,
        1.0,
        "how firmly rooms hold the choice model's starting weights: Newton steps under a"
        " Gaussian prior whose precision per weight is this times the pooled one (how much"
        " fitted worlds disagree on it); 0 = small SGD steps instead",
        low=0, high=MAX_PRIOR_SCALE,
    ),
    Setting(
        "choice_weights",
        str,
        "",
        "JSON file of choice-model weights (`roomrank fit`) new rooms start from; empty ="
        " the built-in priors",
    ),
    Setting(
        "learner",
        str,
        "fast",
        "online learners: fast (FunkMF update on numpy rows, listwise choice model), river"
        " (River's own reco.FunkMF, and LogisticRegression on the same features as a"
        " pointwise peer) or river-fm (the same with River's FMClassifier)",
        empty_ok=False,
    ),
    Setting("conversion_window_ms", int, 300_000, "a pushed item acted on within this converts",
            low=1),
    Setting("max_message_bytes", int, 262_144, "larger input messages are dead letters", low=1),
    Setting("batch_size", int, 1000, "most input messages read per source batch", low=1),
    Setting("metrics_port", int, 0, "serve Prometheus metrics on this port; 0 = off", 0, 65535),
    Setting("recovery_dir", str, "", "Bytewax recovery partitions; empty = no recovery"),
    Setting("snapshot_secs", int, 30, "epoch (snapshot) interval with recovery", low=1),
    Setting("backup_secs", int, 60, "how long old snapshots are kept", low=0),
    Setting("log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR", empty_ok=False),
)
_BY_NAME: Final = {s.name: s for s in SETTINGS}

# The sections of ``--help``: every setting in exactly one (tests/flows/test_cli_help.py).
IO_GROUP: Final = "input and output"
GROUPS: Final = {
    IO_GROUP: ("max_message_bytes", "batch_size"),
    "room behaviour": ("top_k", "presence_timeout_ms", "forget_after_ms", "lateness_ms",
                       "max_held_events", "max_ahead_ms", "window_ms", "bucket_ms",
                       "quiet_flush_ms", "room_idle_ms", "dedup_horizon_ms", "dedup_max_ids",
                       "conversion_window_ms"),
    "experiment": ("arms", "experiment", "allocation", "allocation_min_pushes",
                   "allocation_stop_loss", "allocation_half_life_ms"),
    "learning": ("dim", "learning_rate", "propensity_learning_rate", "choice_prior_scale",
                 "choice_weights", "learner"),
    "Kafka": ("brokers", "input_topic", "output_topic", "dead_letter_topic", "experiment_topic",
              "partitions"),
    "recovery": ("recovery_dir", "snapshot_secs", "backup_secs"),
    "operations": ("metrics_port", "log_level"),
}


log = logging.getLogger("roomrank")

# ROOMRANK_* names that are read but are not settings: flows.deployed's file-mode paths and
# deploy/dev's virtualenv.
NOT_SETTINGS: Final = frozenset({"ROOMRANK_INPUT", "ROOMRANK_OUTPUT", "ROOMRANK_DEAD_LETTERS",
                                 "ROOMRANK_EXPERIMENT_LOG", "ROOMRANK_VENV"})

# Settings that were renamed: a deployment still setting the old name is told, not ignored.
RENAMED: Final = {
    "ROOMRANK_CHOICE_PRIOR_PRECISION": "ROOMRANK_CHOICE_PRIOR_SCALE (--choice-prior-scale), a"
    " multiple of the pooled precision of each weight since 2026-12-04; 0 still means SGD steps",
}


def _warn_unknown(env: Mapping[str, str]) -> None:
    """A misspelt ``ROOMRANK_*`` variable would otherwise leave its setting at the default
    without a word: named, with the setting it most resembles."""
    known = {s.env for s in SETTINGS} | NOT_SETTINGS
    for name in sorted(n for n in env if n.startswith("ROOMRANK_") and n not in known):
        near = difflib.get_close_matches(name, sorted(known), n=1)
        log.warning("%s is not a roomrank setting and is ignored%s", name,
                    f" (did you mean {near[0]}?)" if near else "")


def _convert(setting: Setting, raw: str) -> Any:
    try:
        return setting.kind(raw)
    except ValueError:
        raise ValueError(
            f"{setting.env} / {setting.flag}={raw!r}: expected {setting.kind.__name__}"
        ) from None


def _range(setting: Setting) -> str:
    """The accepted range in words, for the refusal, ``--help`` and the README alike."""
    low, high = setting.low, setting.high
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f">= {low:g}"
    return ""


def check(setting: Setting, value: Any, where: str) -> None:
    """Refuse a value outside what ``setting`` means, naming ``where`` it came from (the
    flag or the environment variable) so the operator knows which one to fix. One rule for
    every setting, driven by the table: a value that passes here reaches a room, and a room
    fails far from the cause (rc 70, or rankings quietly wrecked by NaN)."""
    if setting.kind is str:
        if value and not value.strip():
            raise ValueError(f"{where} is blank ({value!r}): give a value, or leave it unset")
        if not value and not setting.empty_ok:
            raise ValueError(f"{where} must not be empty ({setting.help})")
        return
    if setting.kind is float and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value} ({setting.help})")
    low, high = setting.low, setting.high
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{where} must be {_range(setting)}, got {value} ({setting.help})")
    if setting.kind is int and value > MAX_INT:
        raise ValueError(f"{where} must be at most {MAX_INT}, got {value} ({setting.help})")


@dataclass(frozen=True, slots=True)
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    room: RoomParams = field(default_factory=RoomParams)
    given: dict[str, str] = field(default_factory=dict, compare=False)  # name -> flag or var

    def named(self, name: str) -> str:
        """The flag or variable ``name`` came from (the flag when it is the default)."""
        return self.given.get(name, _BY_NAME[name].flag)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name] if name in self.values else _BY_NAME[name].default
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults < environment < ``overrides`` (parsed flags, tests). Raises ValueError."""
        env = os.environ if env is None else env
        for old, new in RENAMED.items():
            if old in env:
                raise ValueError(f"{old} is no longer read: use {new}")
        _warn_unknown(env)
        values: dict[str, Any] = {}
        came_from: dict[str, str] = {}
        for setting in SETTINGS:
            value, where = setting.default, "the default of " + setting.flag
            given = overrides.get(setting.name) if overrides else None
            if given is not None:  # a flag wins; the variable it overrides is not read
                value = _convert(setting, given) if isinstance(given, str) else given
                where = setting.flag
            elif setting.env in env:
                value, where = _convert(setting, env[setting.env]), setting.env
            check(setting, value, where)
            values[setting.name] = value
            if not where.startswith("the default"):
                came_from[setting.name] = where
        if values["brokers"]:
            check_topics({_BY_NAME[n].flag: values[n] for n in TOPICS})
        return cls(values, _room_params(values, came_from), came_from)


def _room_params(values: dict[str, Any], came_from: dict[str, str]) -> RoomParams:
    """Each value is in its own range already (``check``); here what ranges cannot say."""
    buckets = -(-values["window_ms"] // values["bucket_ms"])
    if buckets > MAX_BUCKETS:
        raise ValueError(
            f"--window-ms {values['window_ms']} / --bucket-ms {values['bucket_ms']} makes"
            f" {buckets} buckets, at most {MAX_BUCKETS}: raise --bucket-ms or lower --window-ms"
        )
    if values["learner"] not in LEARNERS:
        raise ValueError(
            f"--learner must be one of {', '.join(LEARNERS)}, not {values['learner']!r}"
        )
    if values["log_level"].upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(
            f"--log-level must be DEBUG, INFO, WARNING or ERROR, not {values['log_level']!r}"
        )
    arms = Arms.parse(values["arms"])
    widest = max((spec.top_k for spec in arms.specs), default=0)
    if widest > MAX_SHOWCASE_ITEMS:
        raise ValueError(
            f"--arms: k={widest} is more items than a showcase holds (at most"
            f" {MAX_SHOWCASE_ITEMS}); lower the arm's k"
        )
    return RoomParams(
        top_k=values["top_k"],
        dim=values["dim"],
        lr=values["learning_rate"],
        propensity_lr=values["propensity_learning_rate"],
        choice_prior_scale=values["choice_prior_scale"],
        presence_timeout_ms=values["presence_timeout_ms"],
        forget_after_ms=values["forget_after_ms"],
        lateness_ms=values["lateness_ms"],
        max_held_events=values["max_held_events"],
        max_ahead_ms=values["max_ahead_ms"],
        window_ms=values["window_ms"],
        bucket_ms=values["bucket_ms"],
        dedup_horizon_ms=values["dedup_horizon_ms"],
        dedup_max_ids=values["dedup_max_ids"],
        conversion_window_ms=values["conversion_window_ms"],
        arms=arms,
        experiment=values["experiment"],
        learner=values["learner"],
        allocation=values["allocation"],
        allocation_min_pushes=values["allocation_min_pushes"],
        allocation_stop_loss=values["allocation_stop_loss"],
        allocation_half_life_ms=values["allocation_half_life_ms"],
        choice_weights=_choice_weights(values, came_from.get("choice_weights", "")),
    )


def _choice_weights(values: dict[str, Any], where: str) -> tuple[float, ...]:
    if not values["choice_weights"]:
        return ()
    if values["learner"] != "fast":
        raise ValueError(f"{where} starts the listwise choice model: use --learner fast")
    return choice_weights.read(values["choice_weights"], where)


def add_arguments(
    parser: argparse.ArgumentParser,
    names: tuple[str, ...] | None = None,
    groups: dict[str, Any] | None = None,
) -> None:
    """Add the settings' flags (all, or ``names``) in their ``GROUPS`` sections (``groups``:
    sections the caller already opened, by title); defaults stay None so env can win."""
    groups = {} if groups is None else groups
    group_of = {name: title for title, members in GROUPS.items() for name in members}
    chosen = [s for s in SETTINGS if names is None or s.name in names]
    for title in GROUPS:  # sections in GROUPS' order, whatever the table's order
        if title not in groups and any(group_of.get(s.name) == title for s in chosen):
            groups[title] = parser.add_argument_group(title)
    for setting in chosen:
        title = group_of.get(setting.name, "operations")
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        groups[title].add_argument(
            setting.flag,
            dest=setting.name,
            type=setting.kind,
            default=None,
            metavar=setting.kind.__name__.upper(),
            help=f"{setting.help}{_range_note(setting)} (default {setting.default!r})"
            f" [{setting.env}]",
        )


def _range_note(setting: Setting) -> str:
    return f"; accepted: {_range(setting)}" if _range(setting) else ""


def markdown_table() -> str:
    """The README's configuration table."""
    lines = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        lines.append(f"| `{s.flag}` | `{s.env}` | `{s.default!r}` | {s.help}{_range_note(s)} |")
    return "\n".join(lines)
