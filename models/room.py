"""One live room: the state behind its pushes, advanced one event at a time.

``Room.accept`` is the whole per-room behaviour of the job, free of any engine: its inbox
(``features.state.inbox``) turns what arrives into what to apply, in event-time order, and
dead letters; the room applies it (presence, showcase, windows, learners: test-then-learn) and
ranks every present viewer when a trigger is applied. The dataflow keys rooms and calls it;
tests call it directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from features.contract.events import DeadLetter, Event
from features.contract.ids import room_seed, unit_hash
from features.contract.messages import PushBatch
from features.state.catalog import ItemTable, Showcase
from features.state.choices import RoomChoices, record_choice, record_engagement, seconds
from features.state.clock import AgreedClock, ClockBound, RecentSources
from features.state.dedup import source_of
from features.state.inbox import Verdict, superseded_letter
from features.state.referrals import remember_named
from features.state.viewers import ViewerTable
from features.state.votes import cast_vote, chose_before, learning_weight, paid, vote_bit
from features.state.windows import CARTS, CLICKS, ENGAGEMENT, PURCHASES, WATCH_MIN, ItemWindow
from models import room_state
from models.choice_columns import ColumnCache
from models.choice_features import POWER, PRECISION, PRIORS, TASTE
from models.compaction import housekeep, reopen, shed
from models.experiment.allocation import Assignments, new_allocator
from models.experiment.attribution import score_last_push
from models.experiment.serving import Ghosts
from models.learners.choice import choice_learner, vector_learner
from models.learners.factorization import stable_norm
from models.learners.judged import JudgedNewton
from models.learners.listwise import ListwiseSoftmax
from models.params import FEEDBACK, RoomParams
from models.push import PushContext, choice_features
from models.room_outputs import RoomStats
from models.room_push import push

_HEARTBEAT_MS = 30_000
_ENGAGEMENT = frozenset({"like", "comment", "share", "gift"})
_CHANNEL = {"item_click": CLICKS, "add_to_cart": CARTS, "purchase": PURCHASES}  # momentum
Output = PushBatch | Ghosts | Assignments | DeadLetter | RoomStats


def _viewer_column(name: str) -> property:
    """``room.<name>`` is ``room.viewers.<name>``, read and assigned."""
    return property(lambda room: getattr(room.viewers, name),
                    lambda room, value: setattr(room.viewers, name, value))


class Room:
    """All state of one room. Picklable; ``snapshot`` gives immutable bytes for recovery."""

    def __init__(self, room_id: str, params: RoomParams) -> None:
        self.room_id = room_id
        self.params = params
        self.inbox = params.inbox(room_id)
        self.viewers = ViewerTable(params.presence_timeout_ms, params.forget_after_ms,
                                   params.push_width)
        self.items = ItemTable()
        self.window = ItemWindow(params.window_ms, params.bucket_ms)
        self.mf = vector_learner(
            params.learner,
            params.dim,
            params.lr,
            params.l2,
            params.init_sigma,
            seed=room_seed(room_id),
            clip_gradient=params.clip_gradient,
            max_norm=stable_norm(params.lr),  # no step overshoots: nothing grows unbounded
        )
        self.choices = RoomChoices()
        scale = params.choice_prior_scale
        self.model = choice_learner(params.learner, TASTE, POWER, params.propensity_lr, PRIORS,
                                    prior_precision={n: scale * p for n, p in PRECISION.items()}
                                    if scale > 0 else 0.0, top=params.top_k)
        if params.choice_weights or params.choice_off:
            assert isinstance(self.model, ListwiseSoftmax), "warm starts: listwise"
            self.model.start_from(params.choice_weights, params.choice_off)
        # Vector updates wait until a push, a sweep or the call's end reads them: ``learn_many``.
        self.pending: tuple[list[int], list[int], list[float]] = ([], [], [])
        self.showcase: Showcase | None = None
        self.columns = ColumnCache()  # what the showcase alone decides (derived, not state)
        self.allocator = new_allocator(params, room_id)  # None: arms by hash, fixed shares
        self.target_scale = math.sqrt(params.dim) if params.scale_targets else 1.0
        # What decides what is old (forgetting, momentum): a time a majority of the room's
        # newest sources have reached (features.state.clock), never a few accounts' clocks,
        self.agreed = AgreedClock(params.presence_timeout_ms)
        # and at most half a presence timeout past the majority of everyone heard lately.
        self.bound = ClockBound(params.presence_timeout_ms, params.presence_timeout_ms // 2)
        self.recent = RecentSources()  # who spoke last: whether a trigger came late
        self.clock, self.last_sweep = 0, 0
        self.present_now = 0  # present viewers at the last sweep or trigger (for metrics)
        self.refused_seen = 0  # learners' refused updates already reported in stats
        self.closed = self.shed_done = False  # its room_close applied: what it learned is shed
        self.closed_at = -1  # that close's ts: stragglers, or a new session's events, follow
        self.departed: dict[str, int] = {}  # who had left at a close, and when: gone still

    # The viewer table owns these per-viewer columns (grown, forgotten, compacted and
    # snapshotted with the others); the room reads and writes them by these names.
    arm = _viewer_column("arm")
    pushed_at = _viewer_column("pushed_at")
    pushed_items = _viewer_column("pushed_items")
    push_converted = _viewer_column("push_converted")

    # -- persistence -------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """Versioned plain state for recovery (``models.room_state``), never pickled objects."""
        return room_state.dumps(self)

    @staticmethod
    def restore(blob: bytes, params: RoomParams) -> Room:
        """The room a ``snapshot`` holds, under the running job's ``params``; raises
        ``SnapshotError`` (one line) for bytes it cannot read."""
        return room_state.loads(blob, params)

    # -- input ---------------------------------------------------------------------------
    def accept(self, events: Iterable[Event], read_at: float = 0.0) -> list[Output]:
        """Take arriving events (arrival order); return pushes, dead letters and stats.

        The rules (``docs/contract-notes.md``, ``features.state.inbox``) depend on arrival
        order alone, never on how arrivals are batched."""
        stats = RoomStats(self.room_id)
        verdicts, stats.duplicates = self.inbox.arrive(events)
        return self._finish(self._apply_all(verdicts, stats, read_at), stats)

    def census(self) -> RoomStats:
        """What the room holds now, applying nothing: a room restored from a snapshot says
        it is open, and with how many viewers, before its next event (it may have none)."""
        return RoomStats(self.room_id, present=0 if self.closed else self.present_now,
                         closed=self.closed)

    @property
    def holding(self) -> bool:
        """Whether events wait in the reorder buffer (for a quiet-room flush)."""
        return len(self.inbox) > 0

    def flush(self, read_at: float = 0.0, final: bool = True) -> list[Output]:
        """Apply everything still held back: the input ended (``final``), or the room went
        quiet for a while (not ``final``: ``Inbox.flush``)."""
        stats = RoomStats(self.room_id)
        return self._finish(self._apply_all(self.inbox.flush(final), stats, read_at), stats)

    def _apply_all(self, verdicts: list[Verdict], stats: RoomStats,
                   read_at: float) -> list[Output]:
        out: list[Output] = []
        for verdict in verdicts:
            if isinstance(verdict, DeadLetter):
                out.append(verdict)
            elif self.closed and (self.closed_at - self.params.lateness_ms <= verdict.ts
                                  <= self.closed_at):  # a straggler: counted, no more
                stats.events[verdict.type] += 1
            else:
                if self.closed:  # the inbox let it through: a showcase opened a new session
                    stats.reopened = reopen(self)
                self._apply(verdict, out, stats, read_at)
        return out

    def _finish(self, out: list[Output], stats: RoomStats) -> list[Output]:
        self.apply_learning()
        refused = self.mf.refused + self.model.refused
        stats.refused, self.refused_seen = max(refused - self.refused_seen, 0), refused
        stats.closed = self.closed
        stats.clock = self.clock
        stats.present = self.present_now if not self.closed else 0
        out.append(stats)
        if self.closed:
            shed(self)
        return out

    # -- applying one event in event-time order -------------------------------------------
    def _apply(self, event: Event, out: list[Output], stats: RoomStats, read_at: float) -> None:
        ts = event.ts
        source = source_of(event.type, event.user_id)
        self.recent.observe(ts, source)
        agreed = self.agreed.observe(ts, source)
        if agreed > self.clock:
            if agreed > self.bound.limit:  # past the audience's majority and the slack?
                agreed = self._bounded(agreed, event)
            self.clock = max(self.clock, agreed)
        if self.clock - self.last_sweep >= self.params.sweep_every_ms:
            housekeep(self, self.clock)
        etype = event.type
        shown = self.showcase
        if etype == "showcase" and shown is not None and ts < shown.ts:  # an older one, late
            out.append(superseded_letter(self.room_id, event, shown.event_id, shown.ts))
            return
        # A trigger the room's (agreed) time passed by more than the lateness would be ranked
        # from what came after it: no push (room_push), if its audience passed it (clock.py).
        late = ts < self.clock - self.params.lateness_ms and self.recent.late(
            ts + self.params.lateness_ms, self.viewers.last_seen[: self.viewers.rows.high_water],
            self.agreed.platform, ts - self.params.presence_timeout_ms)
        stats.events[etype] += 1
        if etype == "showcase":
            self._show(event)
            assert self.showcase is not None
            rows = self.viewers.present_rows(ts)
            self.present_now = int(rows.size)
            push(self, rows, event, out, read_at, stats, late)
        elif etype == "room_close":
            self.closed, self.closed_at = True, ts
        elif etype == "enter":
            assert event.user_id is not None
            row = self._viewer(event.user_id, ts)
            self.viewers.enter(event.user_id, ts, event.attrs)
            remember_named(self.viewers, self.items, row, event.attrs, ts)
            if self.showcase is not None:  # one shown after the enter: late too
                push(self, np.array([row]), event, out, read_at, stats,
                     late or self.showcase.ts > ts)
        elif etype == "leave":
            assert event.user_id is not None
            self._viewer(event.user_id, ts)
            self.viewers.leave(event.user_id, ts)
        else:
            assert event.user_id is not None
            self._interaction(event, self._viewer(event.user_id, ts), stats)

    def _bounded(self, agreed: int, event: Event) -> int:
        """``agreed`` held to the audience's bound (``ClockBound``), this event counted."""
        viewers, user, platform = self.viewers, event.user_id, self.agreed.platform
        seen = viewers.last_seen[: viewers.rows.high_water]
        if user is None:  # the platform's: already in ``platform``
            return self.bound.cap(agreed, self.clock, seen, platform)
        return self.bound.cap_viewer(agreed, self.clock, seen, platform, viewers.rows.get(user),
                                     event.ts)

    def _viewer(self, user_id: str, ts: int) -> int:
        row, new = self.viewers.touch(user_id, ts)
        if new:
            self.mf.init_user(row)
            self.arm[row] = (
                self.params.arms.index(user_id, self.params.experiment)
                if self.allocator is None
                else -1  # decided at the viewer's first push in this room
            )
            self.pushed_at[row], self.pushed_items[row] = -1, -1
            left = self.departed.pop(user_id, None) if self.departed else None
            if left is not None:  # left before a close (red team 11 #7): only a newer enter
                self.viewers.present[row] = False
                self.viewers.last_seen[row] = max(ts, left)
        return row

    def _item(self, item_id: str) -> int:
        row, new = self.items.ensure(item_id)
        if new:
            self.mf.init_item(row)
            self.window.reserve(self.items.rows.capacity)
        return row

    def _show(self, event: Event) -> None:
        for item in event.items:
            self._item(item.item_id)
        self.showcase = self.items.show(
            event.event_id, event.ts, event.items, event.spotlight, self.showcase
        )

    def _spotlight_row(self) -> int | None:
        sc = self.showcase
        if sc is None or sc.spotlight < 0:
            return None
        return int(sc.rows[sc.spotlight])

    def _interaction(self, event: Event, row: int, stats: RoomStats) -> None:
        etype, ts, viewers = event.type, event.ts, self.viewers
        if etype == "heartbeat":
            spot = self._spotlight_row()
            if spot is not None and event.watch_ms > 0:  # momentum, not the viewer's taste:
                self._momentum(spot, WATCH_MIN, event.watch_ms / 60_000.0, ts)
            return
        item_id = event.item_id
        # Engagement with the room (no item_id) counts for the item on stage's momentum but
        # teaches nothing about the viewer's taste: watching and liking the stream is not a
        # choice among the items on show (the lab measured it: docs/evaluation.md).
        if item_id is None:
            spot = self._spotlight_row()
            if spot is None:
                return
            item = spot
        else:
            item = self._item(item_id)
        if etype not in ("item_click", "add_to_cart", "purchase", "push_open"):
            self._momentum(item, ENGAGEMENT, 1.0, ts)
            if etype in _ENGAGEMENT:
                record_engagement(viewers, row, item, ts)
            if FEEDBACK[etype] and item_id is not None:
                self._learn(row, item, FEEDBACK[etype])
            return
        target = FEEDBACK[etype]
        # What everyone is shown moves by one vote per (viewer, item), however often the
        # viewer repeats it (features.state.votes): a click farm is one voice.
        vote = cast_vote(viewers.voted, row, vote_bit(item_id)) if item_id is not None else 1.0
        on_time = id(event) not in self.inbox.late  # late: stands for nothing (votes.py)
        if etype == "push_open":  # a choice among the pushed items: taste, not the funnel
            self._record_choice(row, item, etype, ts, vote, on_time)
            self._learn(row, item, target)
            return
        negative = self._negative(event, item)  # one blake2b per action, used twice
        score_last_push(self, row, item, etype, ts, stats, event.amount)
        self._learn_choice(row, item, ts, stats, etype == "purchase" and paid(
            event.amount, event.qty, float(self.items.price[item])))
        self._record_choice(row, item, etype, ts, vote, on_time)
        self._learn(row, item, target)
        if negative is not None:
            self._learn(row, negative, 0.0)
        if vote:
            self._momentum(item, _CHANNEL[etype], vote, ts)

    def _momentum(self, item: int, channel: int, amount: float, ts: int) -> None:
        """At the event's time, no later than the room's agreed clock: one account's clock
        ahead must not move the window and age everyone's counts (it counts, from now)."""
        self.window.add(item, channel, amount, min(ts, self.clock))

    def _record_choice(self, row: int, item: int, etype: str, ts: int, vote: float,
                       on_time: bool) -> None:
        sc, shown = self.showcase, None
        if sc is not None:  # a first choice among the items on show, on time: standing
            columns = self.columns.get(self.items, sc)
            if on_time and not self.viewers.standing[row] and item in columns.position:
                self.viewers.standing[row] = max(1, seconds(max(ts, sc.ts)))
            shown = columns.exposure
        record_choice(self.viewers, self.items, self.choices, row, item, sc, etype, ts, shown,
                      vote)

    def _learn(self, row: int, item: int, target: float) -> None:
        """Feedback targets are scaled by √d so that the attention logits q·k/√d land on
        the feedback's own scale (otherwise attention stays near uniform)."""
        users, items, ys = self.pending
        users.append(row)
        items.append(item)
        ys.append(target * self.target_scale)

    def apply_learning(self) -> None:
        """The waiting vector updates, in one ``learn_many``: before anything reads vectors."""
        users, items, ys = self.pending
        if users:
            self.mf.learn_many(users, items, ys)
            self.pending = ([], [], [])

    def vectors_for(self, row: int) -> None:
        """Apply the waiting updates before viewer ``row``'s vectors feature is read. A cold
        viewer with none waiting reads no vector (the feature is zero until their first
        update), so their updates keep waiting for a bigger ``learn_many``: the same updates
        in the same order, the same vectors when they are next read."""
        if self.mf.user_updates[row] > 0 or row in self.pending[0]:
            self.apply_learning()

    def _negative(self, event: Event, item: int) -> int | None:
        """A showcase item the viewer did not act on, chosen by the event id (replayable)."""
        sc = self.showcase
        if sc is None or len(sc) < 2:
            return None
        pick = int(unit_hash("negative", event.event_id) * len(sc))
        row = int(sc.rows[pick])
        return row if row != item else int(sc.rows[(pick + 1) % len(sc)])

    def _learn_choice(self, row: int, item: int, ts: int, stats: RoomStats,
                      purchase: bool) -> None:
        """Test-then-learn on a choice among the items on show: the chosen item's probability
        (and one other's), then one listwise step. ``purchase``: a paid one (the judge's)."""
        sc = self.showcase
        if sc is None or len(sc) < 2:
            return
        chosen = self.columns.get(self.items, sc).position.get(item)
        if chosen is None:  # acted on an item of an earlier showcase: not a choice among these
            return
        self.vectors_for(row)
        # The room's weights are everyone's: a viewer's pull on them grows like the log of
        # their choices in a category (features.state.votes), so no one account trains them.
        earlier = float(self.viewers.cat_chosen[row, self.items.category[item]])
        if isinstance(self.model, JudgedNewton):  # judged by who stood before the showcase
            before = sc.ts - self.params.lateness_ms  # (beyond doubt), and by purchases
            self.model.next_choice_by(chose_before(self.viewers, row, before), purchase)
        p = self.model.learn_matrix(choice_features(self.context(ts), row), chosen,
                                    learning_weight(earlier))
        if p is not None:
            stats.propensity.append((float(p[chosen]), True))
            stats.propensity.append((float(p[(chosen + 1) % len(sc)]), False))

    # -- triggers ------------------------------------------------------------------------
    def context(self, now: int) -> PushContext:
        """What ranking at ``now`` reads (the push, the choice step, the offline tools alike),
        so that all of them read the same state."""
        return PushContext(
            viewers=self.viewers,
            items=self.items,
            room=self.choices,
            window=self.window.totals(min(now, self.clock)),  # the window ages on agreed time
            showcase=self.showcase,
            mf=self.mf,
            model=self.model,
            params=self.params,
            now=now,
            columns=self.columns,
        )
