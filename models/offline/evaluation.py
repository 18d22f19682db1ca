"""Offline evaluation of pushes against what viewers did next, with baselines and coverage.

Why this shape: a push is only worth something if the viewer then acts on one of the items it
ranked. Each ``item_click``, ``add_to_cart`` or ``purchase`` is scored against the viewer's latest
push in that room whose trigger ``ts`` is not after the action, and only if the item was in that
push's showcase (otherwise no ranking of that showcase could have shown it). Baselines rank the
same showcase at the same trigger time from the events alone and are scored on exactly the same
(action, push) pairs, so "the model beats popularity" compares like with like, per arm.

For a baseline the "pushed list" is its ranking cut to the length of the real push, so MRR is
comparable too. Recs are held in memory (indexed by trigger); events are streamed through
:class:`models.offline.replay.RoomReplay`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from features.contract.ids import rec_id
from models.offline.peers import (
    Popularity,
    category_count_order,
    random_order,
    room_baselines,
)
from models.offline.replay import (
    DEFAULT_LATENESS_MS,
    DEFAULT_TIMEOUT_MS,
    RoomReplay,
    Snapshot,
)

ALL_ARMS = "ALL"
PUSHED = "pushed"
BASELINES = ("showcase_order", "spotlight_first", "popularity", "category_count", "random")
ORACLE = "oracle"
SLICE = "ALL|"  # rows of all arms by history bucket, trigger type and action type
HISTORY_BUCKETS = ((0, "0"), (1, "1-2"), (3, "3-9"), (10, "10+"))


def history_bucket(prior: int) -> str:
    """The bucket of a viewer's prior actions in the room.

    >>> [history_bucket(n) for n in (0, 1, 2, 3, 9, 10, 57)]
    ['0', '1-2', '1-2', '3-9', '3-9', '10+', '10+']
    """
    name = HISTORY_BUCKETS[0][1]
    for low, label in HISTORY_BUCKETS:
        if prior >= low:
            name = label
    return name
Oracle = Callable[[str, tuple[str, ...], str | None], Sequence[str]]
"""(user_id, showcase item ids, spotlight) -> the ids best first by the world's hidden truth."""


def load_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Stream a JSONL file lazily, skipping blank lines (as the contract does)."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Ranking quality over ``n`` scored actions (means; 0.0 when ``n`` is 0)."""

    n: int
    hr: float
    ndcg: float
    mrr: float


@dataclass(slots=True)
class _Sums:
    n: int = 0
    hr: float = 0.0
    ndcg: float = 0.0
    mrr: float = 0.0

    def add(self, rank: int | None, k: int) -> None:
        self.n += 1
        if rank is None:
            return
        self.mrr += 1.0 / rank
        if rank <= k:
            self.hr += 1.0
            self.ndcg += 1.0 / math.log2(rank + 1)

    def metrics(self) -> Metrics:
        d = self.n or 1
        return Metrics(self.n, self.hr / d, self.ndcg / d, self.mrr / d)


@dataclass(frozen=True, slots=True)
class _Push:
    user_id: str
    arm: str
    items: tuple[str, ...]


@dataclass(slots=True)
class _Active:
    """A push as it stands for one viewer until their next push in the room."""

    push: _Push
    trigger_id: str
    snapshot: Snapshot
    baselines: dict[str, tuple[str, ...]]
    random: tuple[str, ...] | None = None  # drawn on first use: most pushes see no action
    trigger: str = "showcase"  # the trigger's type, for the by-trigger slices


@dataclass
class EvaluationReport:
    """Per arm (and ``ALL``) and per ranker (``pushed`` plus baselines), with coverage."""

    k: int
    metrics: dict[str, dict[str, Metrics]]
    coverage_mean: float | None
    showcases_with_viewers: int
    showcases_under_covered: int
    enter_coverage: float | None
    counts: dict[str, int] = field(default_factory=dict)
    # asked: arm -> ranker -> action id -> (viewer, hit), for differences on the same actions
    outcomes: dict[str, dict[str, dict[str, tuple[str, float]]]] = field(default_factory=dict)

    def hr(self, arm: str = ALL_ARMS, ranker: str = PUSHED) -> float:
        """Shortcut for the headline number."""
        return self.metrics[arm][ranker].hr if arm in self.metrics else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (metrics nested arm -> ranker -> fields)."""
        return {
            "k": self.k,
            "metrics": {
                arm: {r: asdict(m) for r, m in rankers.items()}
                for arm, rankers in self.metrics.items()
            },
            "coverage_mean": self.coverage_mean,
            "showcases_with_viewers": self.showcases_with_viewers,
            "showcases_under_covered": self.showcases_under_covered,
            "enter_coverage": self.enter_coverage,
            "counts": dict(sorted(self.counts.items())),
        }

    def format_table(self) -> str:
        """A fixed-width table for terminals and CI logs."""
        k = self.k
        lines = [f"{'arm':<24}{'ranker':<17}{'n':>8}{f'HR@{k}':>9}{f'NDCG@{k}':>9}{'MRR':>8}"]
        for arm, rankers in self.metrics.items():
            for ranker, m in rankers.items():
                lines.append(
                    f"{arm:<24}{ranker:<17}{m.n:>8}{m.hr:>9.3f}{m.ndcg:>9.3f}{m.mrr:>8.3f}"
                )
        cov = "n/a" if self.coverage_mean is None else f"{self.coverage_mean:.4f}"
        ent = "n/a" if self.enter_coverage is None else f"{self.enter_coverage:.4f}"
        lines.append(
            f"coverage: mean {cov} over {self.showcases_with_viewers} showcase events with "
            f"viewers, {self.showcases_under_covered} below 1; enter coverage {ent}"
        )
        lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())))
        return "\n".join(lines)


def _index_recs(recs: Iterable[dict[str, Any]], counts: Counter[str]) -> dict[str, list[_Push]]:
    """Group recs by trigger, keeping the first of each ``rec_id`` (as a consumer that
    de-duplicates on it). A later copy that differs (other items or arm) is counted apart,
    ``recs_conflicting``: a resume across a release, or two runs' pushes in one file, which
    ``roomrank evaluate`` says."""
    by_trigger: dict[str, list[_Push]] = {}
    seen: dict[str, _Push] = {}
    for rec in recs:
        counts["recs_in"] += 1
        trigger, user = rec.get("trigger_id"), rec.get("user_id")
        if not isinstance(trigger, str) or not isinstance(user, str):
            counts["recs_malformed"] += 1
            continue
        rid = rec.get("rec_id")
        rid = rid if isinstance(rid, str) else rec_id(trigger, user)
        entries = [i for i in rec.get("items") or () if isinstance(i, dict) and "item_id" in i]
        entries.sort(key=lambda i: i.get("rank", 0))  # stable: missing ranks keep list order
        items = tuple(str(i["item_id"]) for i in entries)
        push = _Push(user, str(rec.get("arm", "")), items)
        first = seen.get(rid)
        if first is not None:
            counts["recs_duplicate" if first == push else "recs_conflicting"] += 1
            continue
        seen[rid] = push
        by_trigger.setdefault(trigger, []).append(push)
    return by_trigger


def _rank_in(item: str, ranking: tuple[str, ...], length: int) -> int | None:
    for n, candidate in enumerate(ranking[:length], start=1):
        if candidate == item:
            return n
    return None


def evaluate(
    events: Iterable[dict[str, Any]],
    recs: Iterable[dict[str, Any]],
    k: int = 3,
    popularity_minutes: float = 5.0,
    seed: int = 0,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    lateness_ms: int = DEFAULT_LATENESS_MS,
    oracle: Oracle | None = None,
    time_bin_ms: int | None = None,
    outcomes: bool = False,
) -> EvaluationReport:
    """Score pushes and baselines on later actions; measure push coverage of present viewers.

    Every peer sees only events before the push's trigger (the replay's order), so it is
    scored on the same (action, push) pairs as the job. ``oracle``, where the world's hidden
    truth is known (the simulator), adds the ceiling: the items ranked by true utility.
    ``time_bin_ms`` adds slices by the action's time since the first event (``ALL|minute=M``,
    M the bin's start in minutes): does a ranker improve as the rooms learn?
    ``outcomes`` keeps every scored action's hit per arm and ranker (``models.offline.paired``
    compares two rankers on them); off by default, as it holds every action in memory.

    >>> evs = [
    ...     {"event_id": "s", "type": "showcase", "ts": 0, "room_id": "r", "spotlight": "c",
    ...      "items": [{"item_id": i, "price": 1, "category": "x"} for i in "abc"]},
    ...     {"event_id": "e", "type": "enter", "ts": 1, "room_id": "r", "user_id": "u"},
    ...     {"event_id": "c", "type": "item_click", "ts": 2, "room_id": "r", "user_id": "u",
    ...      "item_id": "b"},
    ... ]
    >>> recs = [{"rec_id": "x", "trigger_id": "e", "room_id": "r", "user_id": "u", "ts": 1,
    ...          "arm": "m", "items": [{"item_id": "c", "rank": 1}, {"item_id": "b", "rank": 2}]}]
    >>> m = evaluate(evs, recs).metrics["m"]
    >>> m["pushed"].hr, m["pushed"].mrr, m["showcase_order"].mrr, m["spotlight_first"].mrr
    (1.0, 0.5, 0.5, 0.0)
    """
    counts: Counter[str] = Counter()
    pending = _index_recs(recs, counts)
    replay = RoomReplay(timeout_ms=timeout_ms, lateness_ms=lateness_ms)
    window_ms = int(popularity_minutes * 60_000)
    popularity: dict[str, Popularity] = {}
    active: dict[str, dict[str, _Active]] = {}  # room -> user -> latest push
    sums: dict[str, dict[str, _Sums]] = {}
    coverage: list[float] = []
    entered = entered_pushed = 0
    categories: dict[str, str] = {}  # item -> category, from every showcase seen
    acted: dict[tuple[str, str], Counter[str]] = {}  # (room, user) -> categories acted on
    history: Counter[tuple[str, str]] = Counter()  # (room, user) -> actions so far
    first_ts: int | None = None
    kept: dict[str, dict[str, dict[str, tuple[str, float]]]] | None = {} if outcomes else None

    def activate(room: str, trigger: dict[str, Any], snap: Snapshot) -> set[str]:
        pushes = pending.pop(trigger["event_id"], [])
        if not pushes:
            return set()
        room_popularity = popularity.setdefault(room, Popularity(window_ms))
        base = room_baselines(snap, room_popularity, trigger["ts"])
        viewers = active.setdefault(room, {})
        for p in pushes:
            if any(i not in snap.item_set for i in p.items):
                counts["recs_with_foreign_items"] += 1
            mine = dict(base)
            seen = acted.get((room, p.user_id))
            mine["category_count"] = category_count_order(base["popularity"], categories, seen)
            if oracle is not None:
                mine[ORACLE] = tuple(oracle(p.user_id, snap.item_ids, snap.spotlight))
            viewers[p.user_id] = _Active(
                p, trigger["event_id"], snap, mine, trigger=str(trigger["type"])
            )
        counts["recs_matched"] += len(pushes)
        return {p.user_id for p in pushes}

    for step in replay.steps(events):
        ev = step.event
        room = ev["room_id"]
        if first_ts is None:
            first_ts = int(ev["ts"])
        if step.kind == "activity":
            popularity.setdefault(room, Popularity(window_ms)).add(ev["ts"], ev["item_id"])
            history[(room, ev["user_id"])] += 1
            category = categories.get(ev["item_id"])
            if category is not None:
                acted.setdefault((room, ev["user_id"]), Counter())[category] += 1
        elif step.kind == "showcase" and step.snapshot is not None:
            for item in ev.get("items") or ():
                if isinstance(item, dict) and isinstance(item.get("category"), str):
                    categories[str(item.get("item_id"))] = item["category"]
            pushed = activate(room, ev, step.snapshot)
            reached = len(pushed.intersection(step.present))
            counts["recs_to_absent_viewers"] += len(pushed) - reached  # presence too generous?
            if step.present:
                coverage.append(reached / len(step.present))
        elif step.kind == "enter":
            pushed = activate(room, ev, step.snapshot) if step.snapshot else set()
            if step.snapshot is not None:
                entered += 1
                entered_pushed += ev["user_id"] in pushed
        elif step.kind == "action":
            prior = history[(room, ev["user_id"])] - 1  # announced already, this one included
            minute = None
            if time_bin_ms:
                minute = (int(ev["ts"]) - (first_ts or 0)) // time_bin_ms * time_bin_ms // 60_000
            _score(ev, active.get(room, {}).get(ev["user_id"]), k, seed, sums, counts, prior,
                   minute, kept)
        elif step.kind == "close":
            popularity.pop(room, None)
            active.pop(room, None)
            for key in [key for key in acted if key[0] == room]:
                del acted[key]
            for key in [key for key in history if key[0] == room]:
                del history[key]
    counts.update(replay.counts)
    counts["recs_unmatched"] = sum(len(v) for v in pending.values())
    metrics = {
        arm: {ranker: s.metrics() for ranker, s in rankers.items()}
        for arm, rankers in sorted(
            sums.items(), key=lambda kv: (kv[0] != ALL_ARMS, kv[0].startswith(SLICE), kv[0])
        )
    }
    return EvaluationReport(
        k=k,
        metrics=metrics,
        coverage_mean=sum(coverage) / len(coverage) if coverage else None,
        showcases_with_viewers=len(coverage),
        showcases_under_covered=sum(c < 1.0 for c in coverage),
        enter_coverage=entered_pushed / entered if entered else None,
        counts=dict(counts),
        outcomes=kept or {},
    )


def _score(
    ev: dict[str, Any],
    act: _Active | None,
    k: int,
    seed: int,
    sums: dict[str, dict[str, _Sums]],
    counts: Counter[str],
    prior: int = 0,
    minute: int | None = None,
    kept: dict[str, dict[str, dict[str, tuple[str, float]]]] | None = None,
) -> None:
    counts[f"actions_{ev['type']}"] += 1
    if act is None:
        counts["actions_without_push"] += 1
        return
    item = ev["item_id"]
    if item not in act.snapshot.item_set:
        counts["actions_outside_showcase"] += 1
        return
    counts["actions_scored"] += 1
    push = act.push
    length = len(push.items)
    if act.random is None:
        act.random = random_order(seed, act.trigger_id, push.user_id, act.snapshot.item_ids)
    rankings = {PUSHED: push.items, **act.baselines, "random": act.random}
    slices = (
        f"{SLICE}history={history_bucket(prior)}",
        f"{SLICE}trigger={act.trigger}",
        f"{SLICE}action={ev['type']}",
        *((f"{SLICE}minute={minute}",) if minute is not None else ()),
    )
    ranks = {ranker: _rank_in(item, ranking, length) for ranker, ranking in rankings.items()}
    for arm in dict.fromkeys((push.arm, ALL_ARMS, *slices)):
        per_arm = sums.setdefault(arm, {r: _Sums() for r in rankings})
        for ranker, rank in ranks.items():
            per_arm[ranker].add(rank, k)
    if kept is not None:
        for arm in dict.fromkeys((push.arm, ALL_ARMS)):
            mine = kept.setdefault(arm, {})
            for ranker, rank in ranks.items():
                hit = 1.0 if rank is not None and rank <= k else 0.0
                mine.setdefault(ranker, {})[ev["event_id"]] = (push.user_id, hit)
