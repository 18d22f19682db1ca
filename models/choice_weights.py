"""Choice-model weights fitted offline: the file a deployment starts its new rooms from.

A room learns its choice model online, from ``PRIORS``: reasoned guesses, the same for every
platform. Its first few hundred choices are spent finding out, for example, how much the
spotlight matters on this platform. ``roomrank fit`` replays past events (yesterday's stream)
through the job's own rooms, fits one set of weights to every choice they learned from
(``models.offline.hindsight.fit``), and writes them here; ``--choice-weights FILE`` makes each
new room start from them (and its L2 pull point them) instead of the priors. Rooms still learn
online from there, so a room unlike the ones the file was fitted on moves away from it.

The file names each weight by feature, so a file outlives changes to the feature table: a
feature it does not name keeps its prior (a feature added after the fit), and a name the job
does not know is refused (a file from a newer release, or a typo), as is anything not finite
or implausibly large (JSON has no infinities: ``dumps`` refuses to write one).

>>> import json
>>> text = dumps([0.0] * len(FEATURES), {"choices": 3})
>>> weights = loads(text)
>>> len(weights) == len(FEATURES) and set(weights) == {0.0}
True
>>> loads(b'{"format": "roomrank-choice-weights", "version": 1, "weights": {"spot": 1}}')
Traceback (most recent call last):
...
ValueError: unknown feature 'spot' in the weights file; the job's features are: ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from models.choice_features import FEATURES, PRIORS

FORMAT: Final = "roomrank-choice-weights"
VERSION: Final = 1
# A fitted weight beyond this (per unit of a feature that is a log-ratio, a 0/1 flag or a
# fading intent) saturates the softmax: one feature alone would decide every push. Such a fit
# is broken (too few choices, a degenerate stream), not a finding.
LIMIT: Final = 20.0


def dumps(weights: Sequence[float], fitted_on: Mapping[str, Any]) -> bytes:
    """The file's bytes: weights by feature name, and what they were fitted on."""
    if len(weights) != len(FEATURES):
        raise ValueError(f"{len(weights)} weights for {len(FEATURES)} features")
    if not all(math.isfinite(w) for w in weights):
        raise ValueError("the fit did not converge: a weight is not finite")
    body = {
        "format": FORMAT,
        "version": VERSION,
        "weights": dict(zip(FEATURES, (float(w) for w in weights), strict=True)),
        "fitted_on": dict(fitted_on),
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def loads(data: bytes | str) -> tuple[float, ...]:
    """The weights in ``FEATURES`` order; ValueError saying what to fix."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err}); write it with `roomrank fit`") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError(f'not a weights file: it needs "format": "{FORMAT}" (`roomrank fit`)')
    if type(body.get("version")) is not int or body.get("version") != VERSION:
        raise ValueError(
            f"weights file version {body.get('version')!r}; this release reads {VERSION}:"
            " fit again with this release's `roomrank fit`"
        )
    named = body.get("weights")
    if not isinstance(named, dict):
        raise ValueError('"weights" must be an object of feature name -> number')
    if not named:  # every feature at its prior: a warm start turned off without a word
        raise ValueError('"weights" names no feature; write the file with `roomrank fit`')
    for name, value in named.items():
        if name not in FEATURES:
            raise ValueError(
                f"unknown feature {name!r} in the weights file; the job's features are: "
                + ", ".join(FEATURES)
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"weight of {name!r} must be a number, not {value!r}")
        if abs(value) > LIMIT:
            raise ValueError(
                f"weight of {name!r} is {value}: beyond ±{LIMIT:g} one feature decides every"
                " push; fit on more events"
            )
    return tuple(float(named.get(name, PRIORS.get(name, 0.0))) for name in FEATURES)


def read(path: str, where: str = "--choice-weights") -> tuple[float, ...]:
    """``loads`` of a file, the path and where it was named (a flag or a variable) in every
    error."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ValueError(f"{where} {path!r}: {err.strerror}") from None
    try:
        return loads(data)
    except ValueError as err:
        raise ValueError(f"{where} {path!r}: {err}") from None
