"""A resume under another ``--experiment`` or other arm shares than its store was written
with: the run goes on (a new experiment from then on may be meant), and says so once, at
start, with the share of viewers that change arm.

A viewer's arm is read off the cumulative shares at a hash of experiment and user
(``models.arms``), so other shares move the viewers of part of the hash space into another
arm, and another name draws every viewer again. Renaming or reordering the arms is refused
(``models.room_state``'s shape); this is the part that may change. What the store was written
with is read from one stored room (``models.room_state.written_split``), as the rest of the
store's check is; a store written before rooms recorded it resumes without a word.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flows.recovery_store import PARTITIONS, one_room
from flows.settings import Settings
from models.arms import Arms, SplitChange, split_change
from models.room_state import written_allocation, written_split

log = logging.getLogger("roomrank")


def warn_changed_split(settings: Settings) -> SplitChange | None:
    """Log one warning when this run splits viewers otherwise than the store's writer did;
    what changed (None: nothing, no store, or one that does not say)."""
    path = Path(settings.recovery_dir) if settings.recovery_dir else None
    if path is None or not path.is_dir():
        return None
    store = settings.named("recovery_dir")
    blob = one_room(path, sorted(path.glob(PARTITIONS)), store)
    if blob is None:
        return None
    _said_allocation(written_allocation(blob), settings)
    written = written_split(blob)
    if written is None:  # no room stored yet, or written before rooms recorded the split
        return None
    params = settings.room
    change = split_change(*written, params.experiment, params.arms)
    if change is not None:
        log.warning("%s", describe(change, settings))
    return change


def _said_allocation(written: str | None, settings: Settings) -> None:
    """Another ``--allocation`` than the store's: said once (red team 13: from ``fixed`` to
    ``thompson``, 14 of 182 viewers pushed before and after changed arm without a word)."""
    allocation = settings.room.allocation
    if written is None or written == allocation:
        return
    flag = settings.named("allocation")
    log.warning(
        "resuming %s %s written with %s %s (this run: %s): viewers new to a room are given"
        " arms %s from now on, and a room keeps the arm of a viewer it holds. Read the"
        " experiment as two (before and after this start), or stop and resume with the"
        " store's value", settings.named("recovery_dir"), settings.recovery_dir, flag, written,
        allocation, "by the hash of experiment and user (fixed shares)" if allocation == "fixed"
        else "drawn at their first push in the room, adaptively")


def describe(change: SplitChange, settings: Settings) -> str:
    """The warning: the stored and the new values, the share of viewers that change arm, and
    what to do."""
    experiment, arms = settings.named("experiment"), settings.named("arms")
    (old_name, new_name), (old, new) = change.experiment, change.arms
    written = []
    if change.renamed:
        written.append(f"{experiment} {old_name!r} (this run: {new_name!r})")
    if change.reshared:
        written.append(f"{arms} shares {_shares(old)} (this run: {_shares(new)})")
    allocation = settings.room.allocation
    if allocation != "fixed":
        drawn = ("start from the new shares (the floors of control and holdout arms)"
                 if change.reshared else "hash the new name")
        moved = (f"under {settings.named('allocation')} {allocation} each room keeps the arm"
                 f" it gave each viewer, and its new draws {drawn}")
    else:
        moved = (f"{'an expected ' if change.renamed else ''}{change.moved * 100:.1f} % of"
                 " viewers change arm from now on"
                 f"{' (the new name draws every viewer again)' if change.renamed else ''};"
                 " a room keeps the arm of a viewer it holds until it forgets them")
    return (
        f"resuming {settings.named('recovery_dir')} {settings.recovery_dir} written with"
        f" {' and '.join(written)}: {moved}. Read the experiment as two (before and after"
        " this start), or stop and resume with the store's values"
    )


def summary_note(change: SplitChange, settings: Settings) -> str:
    """What the run's summary line ends with after that warning.

    >>> change = split_change("exp", Arms.parse("a=0.3,b=0.7"), "exp", Arms.parse("a,b"))
    >>> summary_note(change, Settings.load({}, env={}))
    'resumed with other --arms shares: 20.0 % of viewers hashed to another arm'
    """
    what = [f"another {settings.named('experiment')}"] if change.renamed else []
    what += [f"other {settings.named('arms')} shares"] if change.reshared else []
    said = f"resumed with {' and '.join(what)}"
    if settings.room.allocation != "fixed":  # no share: each room keeps the arms it gave
        return said
    expected = "an expected " if change.renamed else ""
    return f"{said}: {expected}{change.moved * 100:.1f} % of viewers hashed to another arm"


def _shares(arms: Arms) -> str:
    """``a=0.3,b=0.7``: the arms' names and normalised shares.

    >>> _shares(Arms.parse("a=3,b=1"))
    'a=0.75,b=0.25'
    """
    return ",".join(f"{n}={s:.4g}" for n, s in zip(arms.names, arms.shares, strict=True))
