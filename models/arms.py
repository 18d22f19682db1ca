"""Experiment arms: named ranking variants from configuration, and a stable split of viewers.

A viewer's arm is a pure function of ``(experiment, user_id)``, so it is the same in every
room, process, replay and restart, and changing the experiment name reshuffles everyone.

An arm is ``NAME=SHARE`` optionally followed by ``:KEY=VALUE`` parameters (``ArmSpec``):

* ``ranker=attention|control`` — attention × propensity, or the heuristic (spotlight, then
  momentum). Default: ``control`` for an arm named ``control``, else ``attention``.
* ``temperature=T`` — attention softmax(q·K/(√d·T)). Ranking by attention^(1/T) × propensity
  orders items exactly as this temperature does, so T is also the weight of purchasing power
  (propensity) against taste (attention): T > 1 leans on propensity, T < 1 on taste.
* ``k=N`` — items per push (default ``--top-k``).
* ``cap=SECONDS`` — push policy: at most one push per viewer per this many seconds of event
  time (0 = off). ``skip_same=1`` — skip a push whose items equal the viewer's last push.
* ``holdout=1`` (implied by the name ``holdout``) — the arm gets no push; the job still ranks
  and records what it would have sent (a ghost push, see ``docs/experiments.md``).

Without parameters, the spelling and behaviour of contract v1 (``attention=0.9,control=0.1``)
are unchanged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Final

from features.contract.ids import unit_hash

RANKERS: Final = ("attention", "control")
# attention^(1/T) × propensity: at T = 0.01 attention is raised to the 100th power (taste
# alone decides), at 100 to the 0.01th (propensity alone); past them only the arithmetic
# changes, and at T = 1e-100 it overflowed (every score 0).
TEMPERATURES: Final = (0.01, 100.0)
MAX_ARMS: Final = 127
PARAMETERS: Final = ("ranker", "temperature", "k", "cap", "skip_same", "holdout")
_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class ArmSpec:
    """One ranking variant. ``top_k`` 0 means the job's ``--top-k``."""

    name: str
    ranker: str = "attention"
    temperature: float = 1.0
    top_k: int = 0
    cap_ms: int = 0
    skip_same: bool = False
    holdout: bool = False

    @property
    def has_policy(self) -> bool:
        return self.cap_ms > 0 or self.skip_same

    def family(self, default_k: int) -> tuple[float, int]:
        """Arms of one family are ranked by one call (rankers differ by an override)."""
        return (self.temperature, self.top_k or default_k)

    def __str__(self) -> str:
        parts = [self.name]
        default = ArmSpec.for_name(self.name)
        if self.ranker != default.ranker:
            parts.append(f"ranker={self.ranker}")
        if self.temperature != 1.0:
            parts.append(f"temperature={self.temperature:g}")
        if self.top_k:
            parts.append(f"k={self.top_k}")
        if self.cap_ms:
            parts.append(f"cap={self.cap_ms / 1000:g}")
        if self.skip_same:
            parts.append("skip_same=1")
        if self.holdout != default.holdout:
            parts.append(f"holdout={int(self.holdout)}")
        return ":".join(parts)

    @staticmethod
    def for_name(name: str) -> ArmSpec:
        return ArmSpec(
            name,
            ranker="control" if name == "control" else "attention",
            holdout=name == "holdout",
        )


def _parse_spec(name: str, params: list[str], text: str) -> ArmSpec:
    spec = ArmSpec.for_name(name)
    given: set[str] = set()
    for param in params:
        key, sep, value = (s.strip() for s in param.partition("="))
        if key not in PARAMETERS or not sep:
            raise ValueError(
                f"arm {name!r}: {param!r} is not KEY=VALUE with KEY one of"
                f" {', '.join(PARAMETERS)} (in {text!r})"
            )
        if key in given:  # `cap=1:cap=600`: which one the operator meant is a guess
            raise ValueError(f"arm {name!r}: {key} is given twice (in {text!r})")
        given.add(key)
        try:
            if key == "ranker":
                if value not in RANKERS:
                    raise ValueError
                spec = replace(spec, ranker=value)
            elif key == "temperature":
                t = float(value)
                if not TEMPERATURES[0] <= t <= TEMPERATURES[1]:  # NaN fails too
                    raise ValueError
                spec = replace(spec, temperature=t)
            elif key == "k":
                if int(value) <= 0:
                    raise ValueError
                spec = replace(spec, top_k=int(value))
            elif key == "cap":
                seconds = float(value.removesuffix("s"))
                if not (math.isfinite(seconds) and (seconds == 0 or seconds >= 0.001)):
                    raise ValueError  # 0.0001 s would round to 0 ms: silently off
                spec = replace(spec, cap_ms=round(seconds * 1000))
            elif value not in ("0", "1"):
                raise ValueError
            elif key == "skip_same":
                spec = replace(spec, skip_same=value == "1")
            else:
                spec = replace(spec, holdout=value == "1")
        except ValueError:
            allowed = {
                "ranker": " or ".join(RANKERS),
                "temperature": (f"a number from {TEMPERATURES[0]:g} to {TEMPERATURES[1]:g}"
                                " (beyond, the ranking is taste alone or propensity alone)"),
                "k": "an integer > 0",
                "cap": "0 (off) or seconds >= 0.001",
            }.get(key, "0 or 1")
            raise ValueError(f"arm {name!r}: {key} must be {allowed}, got {value!r}") from None
    return spec


@dataclass(frozen=True, slots=True)
class Arms:
    """Arm names with their shares (summing to 1) and their variants.

    >>> arms = Arms.parse("attention=0.9,control=0.1")
    >>> arms.names, arms.assign("u-42", "exp") in arms.names
    (('attention', 'control'), True)
    >>> Arms.parse("attention=1").assign("anyone", "exp")
    'attention'
    >>> hot = Arms.parse("hot=0.5:temperature=0.5:k=5:cap=60,holdout=0.5")
    >>> hot.specs[0].top_k, hot.specs[0].cap_ms, hot.specs[1].holdout
    (5, 60000, True)
    >>> str(hot)
    'hot=0.5:temperature=0.5:k=5:cap=60,holdout=0.5'
    >>> Arms.parse("holdout=1,attention=0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: every arm with a share in 'holdout=1,attention=0' is a holdout: no viewer ...
    """

    names: tuple[str, ...]
    shares: tuple[float, ...]
    specs: tuple[ArmSpec, ...] = ()

    def __post_init__(self) -> None:
        if not self.specs:  # Arms(names, shares): plain arms named after their ranker
            object.__setattr__(self, "specs", tuple(ArmSpec.for_name(n) for n in self.names))

    @classmethod
    def parse(cls, text: str) -> Arms:
        """Parse ``name=share[:key=value...],...``; shares are normalised to sum to 1."""
        names: list[str] = []
        shares: list[float] = []
        specs: list[ArmSpec] = []
        explicit: list[bool] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            head, *params = part.split(":")
            name, sep, value = head.partition("=")
            name = name.strip()
            if not _NAME.match(name):
                raise ValueError(
                    f"arm name {name!r} in {text!r} must be lower-case letters, digits, _ or -"
                    " (at most 32, starting with a letter), e.g. attention, control, holdout"
                )
            if name in names:
                raise ValueError(f"arm {name!r} is given twice in {text!r}")
            try:
                share = float(value) if sep else 1.0
            except ValueError:
                raise ValueError(f"share of arm {name!r} must be a number, got {value!r}") from None
            if not (math.isfinite(share) and share >= 0):
                raise ValueError(f"share of arm {name!r} must be >= 0, got {value!r}")
            names.append(name)
            shares.append(share)
            explicit.append(bool(sep))
            specs.append(_parse_spec(name, params, text))
        if any(explicit) and not all(explicit):  # `attention=0.9,control`: control got 1.0
            bare = [n for n, given in zip(names, explicit, strict=True) if not given]
            raise ValueError(
                f"arm {bare[0]!r} in {text!r} has no share while others do; give every arm"
                " a share (NAME=SHARE), or none for equal shares"
            )
        if len(names) > MAX_ARMS:  # a viewer's arm is one signed byte of the room's table
            raise ValueError(
                f"{len(names)} arms given; at most {MAX_ARMS} (a room stores each viewer's arm"
                " in one byte). An experiment needs a few arms: merge or drop some"
            )
        total = sum(shares)
        if not math.isfinite(total):
            raise ValueError(f"shares in {text!r} are too large to add up; use fractions")
        if not names or total <= 0:
            raise ValueError(
                f"no arm with a positive share in {text!r} (e.g. attention=0.9,control=0.1)"
            )
        if all(spec.holdout for spec, share in zip(specs, shares, strict=True) if share > 0):
            raise ValueError(
                f"every arm with a share in {text!r} is a holdout: no viewer would get a push;"
                " give an exposed arm a share (e.g. attention=0.9,holdout=0.1)"
            )
        return cls(tuple(names), tuple(s / total for s in shares), tuple(specs))

    def assign(self, user_id: str, experiment: str) -> str:
        return self.names[self.index(user_id, experiment)]

    def index(self, user_id: str, experiment: str) -> int:
        point = unit_hash("arm", experiment, user_id)
        cumulative = 0.0
        for n, share in enumerate(self.shares):
            cumulative += share
            if point < cumulative:
                return n
        return max(n for n, share in enumerate(self.shares) if share > 0)

    def is_control(self, index: int) -> bool:
        return self.specs[index].ranker == "control"

    @property
    def plain(self) -> bool:
        """No arm needs more than contract v1's one ranking call: no holdout, policy,
        temperature or own ``k``."""
        return all(
            not s.holdout and not s.has_policy and s.temperature == 1.0 and not s.top_k
            for s in self.specs
        )

    def __str__(self) -> str:
        return ",".join(
            f"{n}={s:g}" + str(spec).removeprefix(n)
            for n, s, spec in zip(self.names, self.shares, self.specs, strict=True)
        )


MOVED_TOLERANCE: Final = 1e-6
"""A share of viewers below which other shares count as the same (rounding: ``3,1`` and
``0.75,0.25`` are one split, and so are shares printed and parsed again)."""


def moved_share(before: Arms, after: Arms, renamed: bool = False) -> float:
    """The share of viewers whose arm differs between two splits of the same arm names.

    Same experiment: exactly the part of the hash space whose arm changes, 1 − the overlap,
    arm by arm, of its interval of cumulative shares before and after. Another experiment
    name: every viewer's hash point is drawn again, independently of the old one, so the
    expected share, 1 − Σ share·share' over arms of the same name. An arm only one split has
    keeps none of its viewers.

    >>> old, new = Arms.parse("a=0.3,b=0.4,c=0.3"), Arms.parse("a=0.6,b=0.2,c=0.2")
    >>> round(moved_share(old, new), 6)  # a keeps 0.3, b 0.1 (0.6 to 0.7), c 0.2
    0.4
    >>> round(moved_share(old, old, renamed=True), 6)  # 1 − (0.09 + 0.16 + 0.09)
    0.66
    >>> round(moved_share(old, new, renamed=True), 6)  # 1 − (0.18 + 0.08 + 0.06)
    0.68
    >>> moved_share(old, old), moved_share(Arms.parse("a"), Arms.parse("a"), renamed=True)
    (0.0, 0.0)
    """
    if renamed:
        after_share = dict(zip(after.names, after.shares, strict=True))
        kept = sum(s * after_share.get(n, 0.0) for n, s in zip(before.names, before.shares,
                                                                 strict=True))
    else:
        spans = _spans(after)
        kept = 0.0
        for name, (start, end) in _spans(before).items():
            start2, end2 = spans.get(name, (0.0, 0.0))
            kept += max(0.0, min(end, end2) - max(start, start2))
    return min(1.0, max(0.0, 1.0 - kept))


def _spans(arms: Arms) -> dict[str, tuple[float, float]]:
    """Each arm's interval of the hash space, as ``Arms.index`` reads it."""
    out, cumulative = {}, 0.0
    for name, share in zip(arms.names, arms.shares, strict=True):
        out[name] = (cumulative, cumulative + share)
        cumulative += share
    return out


@dataclass(frozen=True, slots=True)
class SplitChange:
    """How a run's split of viewers differs from the one a recovery store was written with:
    the experiment names and the arms (stored, then this run's), and ``moved``, the share of
    viewers whose arm changes (expected, when the experiment was renamed)."""

    experiment: tuple[str, str]
    arms: tuple[Arms, Arms]
    moved: float

    @property
    def renamed(self) -> bool:
        return self.experiment[0] != self.experiment[1]

    @property
    def reshared(self) -> bool:
        return moved_share(*self.arms) >= MOVED_TOLERANCE


def split_change(stored_experiment: str, stored: Arms, experiment: str,
                 arms: Arms) -> SplitChange | None:
    """None when a run splits viewers as the store's writer did: the same experiment name and
    the same shares (within ``MOVED_TOLERANCE``); else what changed.

    >>> old = Arms.parse("attention=0.9,control=0.1")
    >>> split_change("exp", old, "exp", Arms.parse("attention=9,control=1")) is None
    True
    >>> change = split_change("exp", old, "exp", Arms.parse("attention=0.5,control=0.5"))
    >>> change.renamed, change.reshared, round(change.moved, 6)
    (False, True, 0.4)
    >>> change = split_change("exp", old, "exp-2", old)
    >>> change.renamed, change.reshared, round(change.moved, 6)  # 1 − (0.81 + 0.01)
    (True, False, 0.18)
    """
    renamed = stored_experiment != experiment
    moved = moved_share(stored, arms, renamed)
    if not renamed and moved < MOVED_TOLERANCE:
        return None
    return SplitChange((stored_experiment, experiment), (stored, arms), moved)
