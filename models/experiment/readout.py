"""The experiment readout: per arm, what the pushes did, with honest uncertainty.

Stopping rule, fixed in advance: the experiment runs for its planned duration and is read
**once**, at the end. P(best) and the expected loss below are decision aids for that single
read, not a stopping criterion: stopping the first time "P(best) > 0.95" while looking every
few minutes inflates false winners.

Attribution: a viewer's click or purchase of an item in a room converts that viewer's latest
push in the room (triggered at or before it, within ``window_ms``) when the item was in it.
Holdout arms have no pushes; their ghost pushes (the experiment log) are scored the same
way, so a holdout's "conversion" is the would-be conversion of what it would have been
sent: exposed viewers against would-be-exposed ones (ghost-ads measurement).

The readout is a function of the sets of records, not of their order or repeats: pushes and
ghosts count once per ``rec_id`` and events once per (room, sender, ``event_id``), the job's
de-duplication (Kafka delivers at least once), arms are listed by name and revenue is summed
exactly, so a readout from several Kafka partitions equals the one from the files the same run
wrote. (What arrives after a room's ``room_close`` is dropped before, on the room's own order,
which its partition keeps: ``models.experiment.inputs``.)

When the experiment log holds assignment records (an adaptive allocation), the readout adds
the share of assigned viewers with a converted push, weighted by the assignment probabilities
(``models/experiment/weighted.py``): per-push conversion and plain means are biased there
when the audience changes during the show.

Conversion is purchase-converted pushes / pushes, with a Beta(1, 1) prior. A push converts
once however often its viewer buys, and a purchase of amount 0 (the contract allows it) sold
nothing and converts no push: a few accounts posting free or repeated orders after every push
must not pick the winner (they still can by paying; docs/experiments.md measures it). Pushes are not
independent: a room's pushes share its items, host and audience, and a viewer gets many, so
n pushes carry the information of fewer. The posterior is that of n / d effective pushes,
Beta(1 + s/d, 1 + (n − s)/d), where d is the arm's design effect with rooms as clusters
(``design_effect``; 1 when pushes are independent). Treating pushes as independent made the
95 % intervals cover the true rate in only 12–16 of 20 closed-loop seeds (docs/experiments.md).
Intervals, P(best) and the expected loss of choosing each arm come from seeded draws of those
posteriors.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from features.state.dedup import source_of
from models.experiment.weighted import MIN_PER_ARM, Weighted, weighted_purchases

DRAWS = 20_000
# The decision at the single read: an arm is declared the winner when its P(best) reaches
# this. With two equal arms read once, about 2 % of experiments declare one by chance. It
# takes two arms (one is "best" by construction) each with ``MIN_PER_ARM`` units of evidence.
WIN_P_BEST = 0.99


@dataclass(slots=True)
class ArmReadout:
    arm: str
    ghost: bool = False
    pushes: int = 0
    opens: int = 0
    clicks: int = 0
    purchases: int = 0
    revenue: float = 0.0
    converted: int = 0  # pushes followed by a purchase of one of their items
    design_effect: float = 1.0  # variance against independent pushes (rooms as clusters)
    conversion: float = 0.0  # posterior mean
    low: float = 0.0
    high: float = 0.0
    p_best: float = 0.0
    expected_loss: float = 0.0


@dataclass(slots=True)
class Readout:
    arms: dict[str, ArmReadout] = field(default_factory=dict)
    stopping_rule: str = (
        "fixed horizon: read once at the planned end; P(best) is not a stopping criterion;"
        f" the winner is the arm with P(best) >= {WIN_P_BEST} at that read, if any"
    )
    # per arm, (push time, converted) of every push or ghost push: the timeline's input
    pushed: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)
    # per arm, assigned viewers with a converted push, weighted by 1 / assignment probability
    weighted: dict[str, Weighted] = field(default_factory=dict)
    # events read, pushes and ghosts read, and those whose (room, trigger_id) names an event
    # read: none matched means the pushes were made from another input (``check_inputs``)
    counts: dict[str, int] = field(default_factory=dict)

    def check_inputs(self, events: str, pushes: str) -> None:
        """No events, no pushes, or pushes made from other events: a table would look like a
        readout and be none. ``events``, ``pushes``: the sources' names, for the message."""
        counts = self.counts
        if not counts.get("events"):
            raise ValueError(f"{events}: no event to read out; give the events the pushes"
                             " were made from")
        if not counts.get("pushes"):
            raise ValueError(f"{pushes}: no push to read out; give the pushes made from"
                             f" {events}")
        if not counts.get("matched"):
            raise ValueError(
                f"{pushes}: none of its {counts['pushes']:,} pushes names an event of {events}"
                " (by trigger_id and room_id): they were made from another input; give the"
                " events the pushes were made from")

    @property
    def winner(self) -> str | None:
        """The arm whose P(best) reaches ``WIN_P_BEST`` at the planned end, if any and if
        ``undecidable`` has nothing to say."""
        if self.undecidable:
            return None
        return next((a.arm for a in self.arms.values() if a.p_best >= WIN_P_BEST), None)

    @property
    def undecidable(self) -> str:
        """Why no arm can be declared, whatever the P(best): fewer than two arms, or an arm
        with fewer than ``MIN_PER_ARM`` effective pushes (its interval is the prior's)."""
        return _too_little({a.arm: a.pushes / a.design_effect for a in self.arms.values()},
                           "effective pushes")

    @property
    def weighted_winner(self) -> str | None:
        """Under an adaptive allocation, the arm whose weighted converted viewers reach
        ``WIN_P_BEST`` (the per-push ``winner`` is biased there), if any, with two arms of at
        least ``MIN_PER_ARM`` assigned viewers each."""
        if self.weighted_undecidable:
            return None
        return next((w.arm for w in self.weighted.values() if w.p_best >= WIN_P_BEST), None)

    @property
    def weighted_undecidable(self) -> str:
        return _too_little({w.arm: w.viewers for w in self.weighted.values()}, "viewers")

    def to_dict(self) -> dict[str, Any]:
        out = {"stopping_rule": self.stopping_rule, "winner": self.winner,
               "arms": {name: asdict(a) for name, a in self.arms.items()}}
        if self.weighted:
            out["weighted"] = {name: asdict(w) for name, w in self.weighted.items()}
            out["weighted_winner"] = self.weighted_winner
        return out

    def format_table(self) -> str:
        # Columns as wide as their widest value (revenue reaches 1e12 per purchase): a wide
        # number pushes the row along, never into its neighbour.
        revenue = {name: f"{a.revenue:,.2f}" for name, a in self.arms.items()}
        money = max([10, *(len(r) + 2 for r in revenue.values())])
        count = max([7, *(len(f"{n:,}") + 2 for a in self.arms.values()
                          for n in (a.pushes, a.opens, a.clicks, a.purchases))])
        names = {label: a.arm + (" (ghost)" if a.ghost else "") for label, a in self.arms.items()}
        wide = max([16, *(len(n) + 1 for n in names.values())])
        lines = [f"stopping rule: {self.stopping_rule}",
                 f"{'arm':<{wide}}{'pushes':>{count}}{'opens':>{count}}{'clicks':>{count}}"
                 f"{'buys':>{count}}{'revenue':>{money}}"
                 f"{'conversion [95% CrI]':>28}{'P(best)':>9}{'loss':>9}"]
        for label, a in self.arms.items():
            interval = f"{a.conversion:.4f} [{a.low:.4f}, {a.high:.4f}]"
            lines.append(f"{names[label]:<{wide}}{a.pushes:>{count},}{a.opens:>{count},}"
                         f"{a.clicks:>{count},}{a.purchases:>{count},}{revenue[label]:>{money}}"
                         f"{interval:>28}"
                         f"{a.p_best:>9.3f}{a.expected_loss:>9.5f}")
        adaptive = " (per push: biased under this adaptive allocation, see below)"
        lines.append(f"winner: {self.winner or _none(self.undecidable)}"
                     f"{adaptive if self.weighted else ''}")
        if self.weighted:
            lines += ["assigned viewers whose push converted (adaptive allocation: weighted"
                      " by 1 / assignment probability)",
                      f"{'arm':<16}{'viewers':>9}{'plain':>9}{'weighted [95% interval]':>30}"
                      f"{'P(best)':>9}"]
            for w in self.weighted.values():
                interval = f"{w.weighted:.4f} [{w.low:.4f}, {w.high:.4f}]"
                lines.append(f"{w.arm:<16}{w.viewers:>9}{w.plain:>9.4f}{interval:>30}"
                             f"{w.p_best:>9.3f}")
            lines.append(f"winner by weighted converted viewers: "
                         f"{self.weighted_winner or _none(self.weighted_undecidable)}")
        return "\n".join(lines)


def _too_little(evidence: dict[str, float], unit: str) -> str:
    """Why ``evidence`` (per arm) cannot name a winner, or "".

    >>> _too_little({"a": 500.0}, "viewers")
    'one arm only'
    >>> _too_little({"a": 500.0, "b": 1.0}, "viewers")
    'arm b has 1 viewers, fewer than 30'
    """
    if len(evidence) < 2:
        return "one arm only" if evidence else "no arm"
    thin = sorted((n, arm) for arm, n in evidence.items() if n < MIN_PER_ARM)
    return f"arm {thin[0][1]} has {thin[0][0]:.3g} {unit}, fewer than {MIN_PER_ARM}" if thin else ""


def _none(why: str) -> str:
    return f"none declared ({why})" if why else "none declared"


def read_experiment(
    events: Iterable[dict[str, Any]],
    pushes: Iterable[dict[str, Any]],
    ghosts: Iterable[dict[str, Any]] = (),
    window_ms: int = 300_000,
    seed: int = 0,
) -> Readout:
    """The readout of ``events`` (contract input), ``pushes`` (recommendations) and
    ``ghosts`` (the experiment log's ghost pushes)."""
    out = Readout()
    # per (room, user): push times (sorted), and the pushes themselves
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows: dict[tuple[str, str], list[tuple[int, str, frozenset[str], str]]] = defaultdict(list)
    arm_of_rec: dict[str, ArmReadout] = {}
    viewer_of_rec: dict[str, tuple[str, str]] = {}  # (room, user) the push went to
    # by (name, ghost): an arm with pushes and ghost pushes (a resume that made it a holdout,
    # or the other way) is two rows, exposed and would-be exposed viewers never mixed
    arms: dict[tuple[str, bool], ArmReadout] = {}
    assignments: list[dict[str, Any]] = []
    for kind, records in (("push", pushes), ("ghost", ghosts)):
        for p in records:
            if p.get("kind") == "assignment":  # the log's; any other kind: a push or ghost
                assignments.append(p)
                continue
            if p["rec_id"] in arm_of_rec:  # redelivered: the same push again
                continue
            ghost = kind == "ghost"
            arm = arms.setdefault((p["arm"], ghost), ArmReadout(p["arm"], ghost=ghost))
            arm.pushes += 1
            arm_of_rec[p["rec_id"]] = arm
            viewer_of_rec[p["rec_id"]] = (p["room_id"], p["user_id"])
            items = frozenset(i["item_id"] for i in p["items"])
            rows[(p["room_id"], p["user_id"])].append((p["ts"], p["trigger_id"], items,
                                                       p["rec_id"]))
    for key, pushed in rows.items():
        pushed.sort()
        times[key] = [ts for ts, *_ in pushed]
    # a ghost row is named apart only when its arm also has pushes
    label = {key: key[0] + (" (ghost)" if key[1] and (key[0], False) in arms else "")
             for key in arms}
    labels = {id(arm): label[key] for key, arm in arms.items()}
    out.arms = {label[key]: arms[key] for key in sorted(arms, key=label.__getitem__)}
    amounts: dict[str, list[float]] = defaultdict(list)
    # per viewer, for the weighting: 1 when a push (or ghost) of theirs converted, however
    # often they bought; one account's many purchases weigh as one viewer's
    bought: dict[tuple[str, str], int] = {}
    converted: set[str] = set()
    opened: set[str] = set()
    seen: set[tuple[str, str, str]] = set()
    triggers: set[tuple[str, str]] = set()  # (room, event_id) of every event read
    for ev in events:
        triggers.add((ev.get("room_id", ""), ev.get("event_id", "")))
        # Redelivered duplicates count once, told apart as the job does (features/state/
        # dedup.py): per room and per sender, so an account reusing others' ids erases nothing.
        sender = source_of(ev.get("type", ""), ev.get("user_id"))
        once = (ev.get("room_id", ""), sender, ev.get("event_id", ""))
        if once in seen:
            continue
        seen.add(once)
        etype = ev.get("type")
        if etype == "push_open":
            # A push is opened once, by the viewer it went to: another account's opens of
            # its rec_id (or the viewer's repeated ones) open nothing more.
            rid = ev.get("rec_id", "")
            if viewer_of_rec.get(rid) == (ev["room_id"], ev["user_id"]) and rid not in opened:
                opened.add(rid)
                arm_of_rec[rid].opens += 1
            continue
        if etype not in ("item_click", "purchase"):
            continue
        key = (ev["room_id"], ev["user_id"])
        at = bisect.bisect_right(times.get(key, []), ev["ts"]) - 1
        if at < 0:
            continue
        ts, _, items, rid = rows[key][at]
        if ev["ts"] - ts > window_ms or ev["item_id"] not in items:
            continue
        arm = arm_of_rec[rid]
        if etype == "item_click":
            arm.clicks += 1
        else:
            arm.purchases += 1
            amount = float(ev.get("amount", 0.0))
            amounts[labels[id(arm)]].append(amount)
            if amount > 0:  # an order of amount 0 sold nothing: it converts no push
                bought[key] = 1
                converted.add(rid)
    for name, paid in amounts.items():
        out.arms[name].revenue = math.fsum(paid)
    out.counts = {"events": len(triggers), "pushes": len(arm_of_rec),
                  "matched": sum((room, trigger) in triggers
                                 for (room, _), pushed in rows.items()
                                 for _, trigger, _, _ in pushed)}
    for rid in converted:
        arm_of_rec[rid].converted += 1
    per_room: dict[str, dict[str, list[int]]] = defaultdict(dict)  # arm: room: [n, s]
    for (room, _), pushed in rows.items():
        for ts, _, _, rid in pushed:
            name = labels[id(arm_of_rec[rid])]
            out.pushed.setdefault(name, []).append((ts, rid in converted))
            tally = per_room[name].setdefault(room, [0, 0])
            tally[0] += 1
            tally[1] += rid in converted
    out.pushed = {name: sorted(out.pushed[name]) for name in sorted(out.pushed)}
    for name, tallies in per_room.items():
        in_order = (tallies[room] for room in sorted(tallies))  # the same sum from any order
        out.arms[name].design_effect = round(design_effect(in_order), 4)
    _posteriors(list(out.arms.values()), seed)
    out.weighted = weighted_purchases(assignments, bought, seed)
    return out


def design_effect(tallies: Iterable[list[int]]) -> float:
    """How much wider than independent pushes' the ratio converted / pushes really is, when
    pushes come in clusters (``tallies``: [pushes, converted] per cluster), at least 1.

    Kish's design effect with the cluster-robust variance of a ratio:
    m / (m − 1) · Σ (sᵢ − r·nᵢ)² / n² against the binomial r(1 − r) / n.

    >>> round(design_effect([[1, k % 4 == 0] for k in range(400)]), 2)  # one push each
    1.0
    >>> round(design_effect([[10, 5], [10, 0], [10, 5], [10, 0]]), 2)  # clusters differ
    4.44
    """
    counts = np.array(list(tallies), dtype=float).reshape(-1, 2)
    m, (n, s) = len(counts), counts.sum(axis=0)
    if m < 2 or s <= 0 or s >= n:
        return 1.0
    r = float(s / n)
    clustered = m / (m - 1) * float(np.sum((counts[:, 1] - r * counts[:, 0]) ** 2)) / n**2
    return max(1.0, float(clustered / (r * (1 - r) / n)))


def _posteriors(arms: list[ArmReadout], seed: int) -> None:
    if not arms:
        return
    rng = np.random.default_rng(seed)
    # Beta(1 + s/d, 1 + (n − s)/d): the binomial posterior of n/d effective pushes
    draws = np.stack([rng.beta(1 + a.converted / a.design_effect,
                               1 + (a.pushes - a.converted) / a.design_effect, DRAWS)
                      for a in arms])
    best = draws.max(axis=0)
    winner = draws.argmax(axis=0)
    for n, a in enumerate(arms):
        d = a.design_effect
        a.conversion = round(float((1 + a.converted / d) / (2 + a.pushes / d)), 6)
        low, high = np.percentile(draws[n], [2.5, 97.5])
        a.low, a.high = round(float(low), 6), round(float(high), 6)
        a.p_best = round(float(np.mean(winner == n)), 4)
        a.expected_loss = round(float(np.mean(best - draws[n])), 6)
