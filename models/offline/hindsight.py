"""The hindsight bound: the job's own features, with weights fitted on the whole world.

The job learns its choice model online, from priors, one room at a time. How much of the gap
to the oracle is that (online learning), and how much is what the features can tell? Replay
the world through the job's own rooms (``Room.accept``, no engine), keep every choice exactly
as the room learned from it (the features of the showcase, which item was picked), fit one set
of weights to all of them (many passes, in sample: it has seen the answers), and run the job
again starting from those weights, learning nothing. Its HR@k is what this feature set could
do with perfect weights; the online model should come close. ``fit_stream`` (``roomrank
fit``: the weights new rooms start from) bounds each viewer's weight instead, so that a few
accounts in yesterday's stream cannot train them (``viewer_weights``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from models.choice_features import POWER, PRIORS, TASTE
from models.learners.listwise import ListwiseSoftmax
from models.params import RoomParams
from models.room import Room

# showcase features, chosen index, and the how-manieth choice of that viewer in the room it is
Choice = tuple[np.ndarray, int, int]


@dataclass(slots=True)
class Heatmap:
    """One room's attention for the same viewers just before and after a showcase change."""

    room_id: str
    users: list[str]
    before_items: list[str]
    after_items: list[str]
    before: np.ndarray  # (viewers × items before)
    after: np.ndarray  # (viewers × items after)


@dataclass(slots=True)
class Replayed:
    choices: list[Choice] = field(default_factory=list)  # what each room learned from
    predicted: list[tuple[np.ndarray, int]] = field(default_factory=list)  # P before, chosen
    heatmap: Heatmap | None = None
    events: int = 0  # events the rooms took
    unusable: int = 0  # lines that were dead letters (not events)
    rooms: int = 0
    seen: int = 0  # choices the rooms learned from (``choices`` may hold a sample of them)
    max_choices: int | None = None  # keep a uniform sample of at most this many
    # how many choices were a viewer's 1st, 2nd, ... in their room: the viewers' totals,
    # without a key per viewer (a day's stream has millions)
    ordinals: Counter[int] = field(default_factory=Counter)
    ordinal: int = 0  # the choice being learned is its viewer's how-manieth in the room
    calibrate: bool = True  # keep ``predicted``
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def calibration(self, bins: int = 10) -> list[tuple[float, float, int]]:
        """The choice model's P(item) before it learned each choice, against how often such
        items were the one chosen: (mean predicted, observed share, count) per decile of P."""
        if not self.predicted:
            return []
        p = np.concatenate([probs for probs, _ in self.predicted])
        hit = np.concatenate([np.arange(len(probs)) == c for probs, c in self.predicted])
        edges = np.quantile(p, np.linspace(0, 1, bins + 1))
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
        return [(float(p[which == b].mean()), float(hit[which == b].mean()),
                 int((which == b).sum())) for b in range(bins) if (which == b).any()]

    def heatmap_record(self) -> dict[str, Any] | None:
        """The heat-map as plain JSON-ready values (the lab's rows and report)."""
        h = self.heatmap
        if h is None:
            return None
        return {"room_id": h.room_id, "users": h.users, "before_items": h.before_items,
                "after_items": h.after_items, "before": h.before.tolist(),
                "after": h.after.tolist()}

    def keep(self, x: np.ndarray, chosen: int, p: np.ndarray) -> None:
        """Every choice, or a uniform sample (reservoir, seeded: the same stream keeps the
        same sample) when ``max_choices`` bounds the memory a day's stream would take."""
        self.seen += 1
        self.ordinals[self.ordinal] += 1
        if self.calibrate:
            self.predicted.append((p, chosen))
        example = (np.array(x, dtype=np.float32), chosen, self.ordinal)
        if self.max_choices is None or len(self.choices) < self.max_choices:
            self.choices.append(example)
            return
        slot = int(self._rng.integers(0, self.seen))
        if slot < self.max_choices:
            self.choices[slot] = example


def replay_rooms(lines: Iterable[bytes], params: RoomParams, heatmap_viewers: int = 16,
                 max_choices: int | None = None, calibrate: bool = True) -> Replayed:
    """Run the world through the job's rooms (no engine), recording every choice a room
    learns from (features, chosen; a sample of ``max_choices`` if given), the model's
    probabilities for it before learning (for a calibration plot), and one attention
    heat-map over a showcase change (``heatmap_viewers`` 0: none)."""
    rooms: dict[str, Room] = {}
    out = Replayed(max_choices=max_choices, calibrate=calibrate)
    last: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
    for n, line in enumerate(lines):
        event = decode_event(line, Origin("hindsight", 0, n))
        if not isinstance(event, Event):
            out.unusable += 1
            continue
        out.events += 1
        room = rooms.get(event.room_id)
        if room is None:
            room = rooms[event.room_id] = Room(event.room_id, params)
            _record(room, out)
        room.accept([event])
        if heatmap_viewers and out.heatmap is None and room.showcase is not None:
            _look(room, last, out, heatmap_viewers)
    for room in rooms.values():
        room.flush()
    out.rooms = len(rooms)
    return out


def _record(room: Room, out: Replayed) -> None:
    model = room.model
    learn, choose = model.learn_matrix, room._learn_choice

    def choosing(row: int, *args: Any) -> None:
        # the viewer's choices so far (a choice is counted after it is learned)
        out.ordinal = int(room.viewers.cat_chosen[row].sum(dtype=np.float64)) + 1
        choose(row, *args)

    def recording(x: np.ndarray, chosen: int, weight: float = 1.0,
                  learn: Callable[..., np.ndarray | None] = learn) -> np.ndarray | None:
        p = learn(x, chosen, weight)
        if p is not None:
            out.keep(x, chosen, p)
        return p

    room._learn_choice = choosing  # type: ignore[method-assign,assignment]
    model.learn_matrix = recording  # type: ignore[method-assign]


def _look(room: Room, last: dict[str, tuple[list[str], dict[str, np.ndarray]]],
          out: Replayed, viewers: int) -> None:
    """At the first sight of a showcase (applied once the watermark passed it): the present
    viewers' attention; a heat-map once the items on show changed."""
    from models.push import score_block

    sc = room.showcase
    assert sc is not None
    seen = last.get(room.room_id)
    if seen is not None and seen[0] == [*sc.item_ids, sc.event_id]:
        return
    rows = room.viewers.present_rows(sc.ts)
    if rows.size == 0:
        return
    attention = score_block(room.context(sc.ts), rows)[0]
    users = room.viewers.rows.ids[rows].tolist()
    now = dict(zip(users, attention, strict=True))
    last[room.room_id] = ([*sc.item_ids, sc.event_id], now)
    if seen is None or set(seen[0][:-1]) == set(sc.item_ids):
        return
    common = [u for u in users if u in seen[1]][:viewers]
    if len(common) >= min(8, viewers):
        out.heatmap = Heatmap(room.room_id, common, seen[0][:-1], list(sc.item_ids),
                              np.array([seen[1][u] for u in common]),
                              np.array([now[u] for u in common]))


def recorded_choices(lines: Iterable[bytes], params: RoomParams) -> list[Choice]:
    """Every (showcase features, chosen index, ordinal) the rooms learn from, in arrival
    order."""
    return replay_rooms(lines, params).choices


def fit(choices: list[Choice], epochs: int = 20, lr: float = 0.02,
        weights: Sequence[float] | None = None,
        start: Mapping[str, float] | None = None) -> np.ndarray:
    """Weights that fit every choice (in sample, each at its weight in ``weights``, else 1),
    from ``start`` (default: the priors), by passes of the same listwise step the rooms take
    (no pull toward the start). A weight the choices say little about ends near its start.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0, 1, (6, len(TASTE) + len(POWER)))
    >>> fit([(x, 2, 1)] * 5, epochs=2).shape == (len(TASTE) + len(POWER),)
    True
    """
    model = ListwiseSoftmax(TASTE, POWER, lr=lr, l2=0.0, initial=PRIORS if start is None else start)
    weight = list(weights) if weights is not None else [1.0] * len(choices)
    for _ in range(epochs):
        for (x, chosen, _ordinal), w in zip(choices, weight, strict=True):
            model.learn_matrix(x, chosen, w)
    return model.weights.copy()


def fit_stream(lines: Iterable[bytes], params: RoomParams, epochs: int = 20,
               min_choices: int = 200, max_choices: int = 100_000,
               start: Mapping[str, float] | None = None,
               ) -> tuple[np.ndarray, dict[str, int]]:
    """Weights fitted on a past stream, to start new rooms from (``models.choice_weights``),
    and what they were fitted on. Too few choices give weights that say more about the
    handful of viewers than the platform: refused below ``min_choices``; more than
    ``max_choices`` are sampled down to it (18 weights need far fewer, and a day's choices
    held whole would not fit in memory)."""
    replayed = replay_rooms(lines, params, heatmap_viewers=0, max_choices=max_choices,
                            calibrate=False)
    found = replayed.seen
    if found < min_choices:
        raise ValueError(
            f"{found} choices in {replayed.events} events ({replayed.unusable} unusable lines):"
            f" a fit needs at least {min_choices} (clicks, carts, purchases or push opens of"
            " an item on show); give a longer stream, or lower --min-choices"
        )
    cap, weights = viewer_weights(replayed)
    meta = {"events": replayed.events, "unusable_lines": replayed.unusable,
            "rooms": replayed.rooms, "choices": found, "fitted_on_choices": len(replayed.choices),
            "epochs": epochs, "choices_per_viewer_cap": cap}
    return fit(replayed.choices, epochs=epochs, weights=weights, start=start), meta


def viewer_weights(replayed: Replayed) -> tuple[int, list[float]]:
    """Each kept choice's weight in a fit for new rooms: 1, except a viewer's choices in a
    room beyond Tukey's far-out fence of the stream's viewers (Q3 + 3 × IQR of choices per
    viewer), which weigh 0: a click farm in yesterday's stream trains the fit like one heavy
    viewer, as long as farms are fewer than a quarter of the viewers. The viewers' totals
    come from the ordinals (the share of viewers with at least k choices is the number of
    k-th choices over the number of first ones). The in-sample bound (the lab) fits every
    choice at 1: it is the best the features can do on the choices as they were scored.

    >>> r = Replayed(ordinals=Counter({1: 40, 2: 30, 3: 20, 4: 10} | {k: 1 for k in range(5, 301)}))
    >>> r.choices = [(np.zeros((2, 1)), 0, 2), (np.zeros((2, 1)), 0, 300)]
    >>> viewer_weights(r)
    (9, [1.0, 0.0])
    """
    first = replayed.ordinals.get(1, 0)
    if not first:
        return 1, [1.0] * len(replayed.choices)

    def quantile(p: float) -> int:  # smallest k with P(total <= k) >= p
        k = 1
        while 1.0 - replayed.ordinals.get(k + 1, 0) / first < p:
            k += 1
        return k

    q1, q3 = quantile(0.25), quantile(0.75)
    cap = q3 + 3 * (q3 - q1)
    return cap, [1.0 if n <= cap else 0.0 for _, _, n in replayed.choices]
