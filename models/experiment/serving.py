"""Serving one trigger to an experiment's arms: rank per variant, apply the push policy,
and split real pushes from the ghost pushes of holdout viewers.

Viewers of arms that share a ranking family (temperature, ``k``) are ranked by one call, as
in contract v1 (the ``control`` ranker is an override inside it). A holdout viewer is ranked
and passed through the policy exactly like an exposed one, so that their ghost push is the
push they *would* have received; it leaves the room as ``Ghosts``, never as a ``PushBatch``,
so that nothing downstream of the recommendations topic can mistake it for a push.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from features.contract.events import Event
from features.contract.messages import PushBatch
from models.experiment.policy import FREQUENCY_CAP, SAME_ITEMS, policy_keep
from models.push import PushContext, build_push, build_push_one


@dataclass(slots=True)
class Ghosts:
    """The would-be pushes of holdout viewers for one trigger (experiment log only)."""

    batch: PushBatch


@dataclass(slots=True)
class Served:
    pushes: list[PushBatch] = field(default_factory=list)
    ghosts: list[Ghosts] = field(default_factory=list)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (arm, reason)


def take(batch: PushBatch, keep: np.ndarray) -> PushBatch:
    """The pushes of ``batch`` at positions ``keep`` (an index array)."""
    return replace(
        batch,
        user_ids=[batch.user_ids[i] for i in keep.tolist()],
        arms=[batch.arms[i] for i in keep.tolist()],
        top=batch.top[keep],
        score=batch.score[keep],
        attention=batch.attention[keep],
        propensity=batch.propensity[keep],
        why=batch.why[keep],
    )


def _ranked(ctx: PushContext, rows: np.ndarray, arms: np.ndarray, event: Event,
            room_id: str) -> PushBatch:
    if rows.size == 1:  # an enter: the one-viewer path
        return build_push_one(ctx, int(rows[0]), int(arms[0]), event, room_id)
    return build_push(ctx, rows, arms, event, room_id)


def _family_context(ctx: PushContext, temperature: float, k: int) -> PushContext:
    """An arm's temperature divides the attention logits: softmax(taste / T)."""
    params = ctx.params if k == ctx.params.top_k else replace(ctx.params, top_k=k)
    return replace(ctx, params=params, temperature=temperature)


def serve(
    ctx: PushContext,
    rows: np.ndarray,
    arms: np.ndarray,
    event: Event,
    room_id: str,
    pushed_at: np.ndarray,
    pushed_items: np.ndarray,
    push_converted: np.ndarray,
) -> Served:
    """Rank ``rows`` (viewer rows, ``arms`` their arm indices) for ``event``; record what is
    sent (or ghost-sent) in ``pushed_at`` / ``pushed_items``, and clear ``push_converted``
    for it (updated in place: a new push has converted nothing yet)."""
    showcase = ctx.showcase
    assert showcase is not None
    spec_of = ctx.params.arms.specs
    served = Served()
    if ctx.params.arms.plain:  # contract v1: one call, every viewer pushed
        batch = _ranked(ctx, rows, arms, event, room_id)
        _record(rows, batch, showcase.rows, event.ts, pushed_at, pushed_items)
        push_converted[rows] = 0
        served.pushes.append(batch)
        return served
    families: dict[tuple[float, int], list[int]] = {}
    for index, spec in enumerate(spec_of):
        families.setdefault(spec.family(ctx.params.top_k), []).append(index)
    for (temperature, k), members in families.items():
        mask = np.isin(arms, members)
        if not mask.any():
            continue
        sub_rows, sub_arms = rows[mask], arms[mask]
        batch = _ranked(_family_context(ctx, temperature, k), sub_rows, sub_arms, event, room_id)
        width = pushed_items.shape[1]
        new_items = np.full((len(sub_rows), width), -1, np.int64)
        new_items[:, : batch.top.shape[1]] = showcase.rows[batch.top]
        keep = np.ones(len(sub_rows), bool)
        for index in members:
            spec = spec_of[index]
            mine = sub_arms == index
            if not spec.has_policy or not mine.any():
                continue
            ok, same, capped = policy_keep(
                spec, event.ts, pushed_at[sub_rows[mine]], pushed_items[sub_rows[mine]],
                new_items[mine],
            )
            keep[mine] = ok
            if same:
                served.skipped[(spec.name, SAME_ITEMS)] += same
            if capped:
                served.skipped[(spec.name, FREQUENCY_CAP)] += capped
        holdout = np.array([spec_of[a].holdout for a in sub_arms.tolist()], bool)
        sent = np.flatnonzero(keep)
        pushed_at[sub_rows[sent]] = event.ts
        pushed_items[sub_rows[sent]] = new_items[sent]
        push_converted[sub_rows[sent]] = 0
        real, ghost = np.flatnonzero(keep & ~holdout), np.flatnonzero(keep & holdout)
        if real.size:
            served.pushes.append(batch if real.size == len(sub_rows) else take(batch, real))
        if ghost.size:
            served.ghosts.append(Ghosts(take(batch, ghost)))
    return served


def _record(rows: np.ndarray, batch: PushBatch, showcase_rows: np.ndarray, ts: int,
            pushed_at: np.ndarray, pushed_items: np.ndarray) -> None:
    pushed_at[rows] = ts
    pushed_items[rows] = -1
    pushed_items[rows, : batch.top.shape[1]] = showcase_rows[batch.top]
