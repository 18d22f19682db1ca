"""The experiment log: records that belong to the experiment, not to the push service.

A ghost push (what a holdout viewer would have been sent) must never reach the
recommendations topic: every consumer of contract v1 reads that topic as "this was sent".
Ghosts therefore go to a log of their own (``--experiment-log`` in file mode, the
``--experiment-topic`` in Kafka mode), one JSON object per line or message, keyed by
``user_id``; the schema is in ``docs/experiments.md``.
"""

from __future__ import annotations

from typing import Final

import orjson

from features.contract.messages import push_dicts
from models.experiment.allocation import Assignments
from models.experiment.serving import Ghosts

GHOST_PUSH: Final = "ghost_push"


def ghost_records(ghosts: Ghosts, emitted_at: int) -> list[dict[str, object]]:
    """A recommendation object per holdout viewer plus ``"kind": "ghost_push"``.

    The ``rec_id`` is the one the push would have had, so a readout can join it with the
    events exactly as it joins real pushes.
    """
    return [{"kind": GHOST_PUSH, **push} for push in push_dicts(ghosts.batch, emitted_at)]


ExperimentRecord = Ghosts | Assignments


def encode_experiment(item: ExperimentRecord, emitted_at: int) -> list[tuple[bytes, bytes]]:
    """Experiment-log messages keyed by ``user_id``: ghost pushes, or arm assignments of an
    adaptive allocation (``"kind": "assignment"``, with the probability used)."""
    records = ghost_records(item, emitted_at) if isinstance(item, Ghosts) else item.records()
    return [(str(record["user_id"]).encode(), orjson.dumps(record)) for record in records]
