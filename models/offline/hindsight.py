"""The hindsight bound: the job's own features, with weights fitted on the whole world.

The job learns its choice model online, from priors, one room at a time. How much of the gap
to the oracle is that (online learning), and how much is what the features can tell? Replay
the world through the job's own rooms (``Room.accept``, no engine), keep every choice exactly
as the room learned from it (the features of the showcase, which item was picked), fit one set
of weights to all of them (many passes, in sample: it has seen the answers), and run the job
again starting from those weights, learning nothing. Its HR@k is what this feature set could
do with perfect weights; the online model should come close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from models.choice_features import POWER, PRIORS, TASTE
from models.learners.listwise import ListwiseSoftmax
from models.params import RoomParams
from models.room import Room

Choice = tuple[np.ndarray, int]


def recorded_choices(lines: Iterable[bytes], params: RoomParams) -> list[Choice]:
    """Every (showcase features, chosen index) the rooms learn from, in arrival order."""
    rooms: dict[str, Room] = {}
    choices: list[Choice] = []
    for n, line in enumerate(lines):
        event = decode_event(line, Origin("hindsight", 0, n))
        if not isinstance(event, Event):
            continue
        room = rooms.get(event.room_id)
        if room is None:
            room = rooms[event.room_id] = Room(event.room_id, params)
            learn = room.model.learn_matrix

            def recording(x: np.ndarray, chosen: int, weight: float = 1.0,
                          learn: Callable[..., None] = learn) -> None:
                choices.append((np.array(x), chosen))
                learn(x, chosen, weight)

            room.model.learn_matrix = recording  # type: ignore[method-assign]
        room.accept([event])
    for room in rooms.values():
        room.flush()
    return choices


def fit(choices: list[Choice], epochs: int = 20, lr: float = 0.02) -> np.ndarray:
    """Weights that fit every choice (in sample), from the priors, by passes of the same
    listwise step the rooms take (no pull toward the priors).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0, 1, (6, len(TASTE) + len(POWER)))
    >>> fit([(x, 2)] * 5, epochs=2).shape == (len(TASTE) + len(POWER),)
    True
    """
    model = ListwiseSoftmax(TASTE, POWER, lr=lr, l2=0.0, initial=PRIORS)
    for _ in range(epochs):
        for x, chosen in choices:
            model.learn_matrix(x, chosen)
    return model.weights.copy()
