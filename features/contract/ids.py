"""Deterministic identifiers shared by the job, the simulator and consumers.

A push's ``rec_id`` must be the same on every replay, restart and scale-out so that
consumers can de-duplicate at-least-once output; it is therefore a pure hash of the
pair that defines a push: the trigger's ``event_id`` and the viewer's ``user_id``.
"""

from __future__ import annotations

import hashlib

_SEP = b"\x1f"  # unit separator: cannot appear ambiguously between two ids


def rec_id(trigger_id: str, user_id: str) -> str:
    """Return the contract's deterministic recommendation id.

    >>> rec_id("e-2", "u-42") == rec_id("e-2", "u-42")
    True
    >>> rec_id("e-2", "u-42") != rec_id("e-2u", "-42")
    True
    >>> rec_id("e-2", "u-42")
    'rec-fce584946779f15703e04fc2'
    """
    digest = hashlib.blake2b(
        trigger_id.encode() + _SEP + user_id.encode(), digest_size=12
    ).hexdigest()
    return f"rec-{digest}"


def unit_hash(*parts: str) -> float:
    """Map strings to a stable float in [0, 1): experiment arms, seeded choices."""
    digest = hashlib.blake2b(_SEP.join(p.encode() for p in parts), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
