"""Deterministic identifiers shared by the job, the simulator and consumers.

A push's ``rec_id`` must be the same on every replay, restart and scale-out so that
consumers can de-duplicate at-least-once output; it is therefore a pure hash of the
pair that defines a push: the trigger's ``event_id`` and the viewer's ``user_id``. The
hash input is the trigger id's UTF-8 length (8 bytes, big-endian), the trigger id, then the
user id: two different pairs are two different inputs, whatever characters the ids hold (a
separator could appear inside an id and make ``("a\x1fb", "c")`` and ``("a", "b\x1fc")`` one).

The other values the job derives from ids (a room's generator seed, experiment arms, seeded
choices) must be just as stable, since pushes depend on them: they come from ``unit_hash`` and
``room_seed`` here, never from Python's ``hash``, which changes from one process to the next.
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
    >>> rec_id("a\x1fb", "c") != rec_id("a", "b\x1fc")
    True
    >>> rec_id("e-2", "u-42")
    'rec-76bfca2034bdd96b140ef63a'
    """
    digest = hashlib.blake2b(
        rec_id_prefix(trigger_id) + user_id.encode(), digest_size=REC_ID_BYTES
    ).hexdigest()
    return f"rec-{digest}"


REC_ID_BYTES = 12  # digest size of rec_id: 24 hex digits


def rec_id_prefix(trigger_id: str) -> bytes:
    """The hash input before the user id: length-prefixed, so the split is unambiguous."""
    trigger = trigger_id.encode()
    return len(trigger).to_bytes(8, "big") + trigger


def unit_hash(*parts: str) -> float:
    """Map strings to a stable float in [0, 1): experiment arms, seeded choices."""
    digest = hashlib.blake2b(_SEP.join(p.encode() for p in parts), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def room_seed(room_id: str) -> int:
    """The seed of a room's random generators (its learner's new vectors): the same in every
    process that holds the room, so that a replay, a restart or a rescaled job draws the same
    vectors and makes the same pushes.

    >>> room_seed("r-7")
    7803919211430808576
    """
    return int(unit_hash("room-seed", room_id) * 2**63)
