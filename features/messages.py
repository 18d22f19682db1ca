"""The job's outputs as the contract states them: pushes and dead letters.

A showcase change fans out to every present viewer, so pushes travel through the dataflow
as one ``PushBatch`` per trigger (arrays, not 100k dicts) and become per-viewer JSON only
here, at the sink's door.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

import numpy as np
import orjson

from features.events import DeadLetter
from features.ids import rec_id

# Short reasons for the first item, indexed by PushBatch.why codes.
WHY_TEXT: Final = (
    "on stage now",
    "close to what you looked at in this room",
    "trending in this room right now",
    "fits what you usually spend",
    "popular with viewers here",
)
WHY_SPOTLIGHT, WHY_TASTE, WHY_TRENDING, WHY_BUDGET, WHY_POPULAR = range(len(WHY_TEXT))


@dataclass(slots=True)
class PushBatch:
    """All pushes of one trigger: row ``v`` of each array belongs to ``user_ids[v]``.

    ``top`` holds indices into ``item_ids`` (best first); ``score``, ``attention`` and
    ``propensity`` are aligned with ``top``.
    """

    room_id: str
    trigger: str
    trigger_id: str
    ts: int
    user_ids: list[str]
    arms: list[str]
    item_ids: list[str]
    top: np.ndarray
    score: np.ndarray
    attention: np.ndarray
    propensity: np.ndarray
    why: np.ndarray
    read_at: float = 0.0  # wall time (time.monotonic) the trigger was read; for latency

    def __len__(self) -> int:
        return len(self.user_ids)


def push_dicts(batch: PushBatch, emitted_at: int) -> list[dict[str, object]]:
    """The contract's recommendation objects, one per viewer, in batch order."""
    item_ids = batch.item_ids
    top = batch.top.tolist()
    score = np.round(batch.score.astype(np.float64), 6).tolist()
    attention = np.round(batch.attention.astype(np.float64), 6).tolist()
    propensity = np.round(batch.propensity.astype(np.float64), 6).tolist()
    why = batch.why.tolist()
    out: list[dict[str, object]] = []
    for v, user_id in enumerate(batch.user_ids):
        items = [
            {
                "item_id": item_ids[i],
                "rank": r + 1,
                "score": score[v][r],
                "attention": attention[v][r],
                "propensity": propensity[v][r],
            }
            for r, i in enumerate(top[v])
        ]
        push: dict[str, object] = {
            "rec_id": rec_id(batch.trigger_id, user_id),
            "room_id": batch.room_id,
            "user_id": user_id,
            "trigger": batch.trigger,
            "trigger_id": batch.trigger_id,
            "ts": batch.ts,
            "emitted_at": emitted_at,
            "arm": batch.arms[v],
            "items": items,
        }
        if items:
            push["why"] = WHY_TEXT[why[v]]
        out.append(push)
    return out


def encode_pushes(batch: PushBatch, emitted_at: int) -> list[tuple[bytes, bytes]]:
    """Kafka-ready ``(key, value)`` pairs: key is ``user_id`` as the contract says."""
    return [
        (str(push["user_id"]).encode(), orjson.dumps(push))
        for push in push_dicts(batch, emitted_at)
    ]


def raw_text(raw: bytes) -> str:
    """The contract's ``raw``: the bytes as text, or base64 when they are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")


def dead_letter_dict(letter: DeadLetter) -> dict[str, object]:
    return {
        "topic": letter.origin.topic,
        "partition": letter.origin.partition,
        "offset": letter.origin.offset,
        "error": letter.error,
        "raw": raw_text(letter.raw),
    }


def encode_dead_letter(letter: DeadLetter) -> tuple[bytes, bytes]:
    """Key the dead letter by its origin so retries of one message land together."""
    origin = letter.origin
    key = f"{origin.topic}:{origin.partition}:{origin.offset}".encode()
    return key, orjson.dumps(dead_letter_dict(letter))
