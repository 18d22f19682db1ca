"""Whether a ``--recovery-dir`` is a store this run can resume from, said before it starts.

Bytewax opens the store's partitions (``part-N.sqlite3``) only once the dataflow runs, and
a damaged or incomplete store then ends the run with a Rust panic or a traceback that names
neither the directory nor what to do. The faults an operator meets (a partition overwritten
or truncated, a directory that holds files but no partitions, say after a cleanup) are found
here, each as one line (``ValueError``: exit 2) naming the directory, the file and the way on.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from features.state.codec import SnapshotError
from models.params import RoomParams

PARTITIONS = "part-*.sqlite3"
ROOM_STEP = "roomrank.room"  # flows.dataflow's stateful step, as Bytewax names it in the store


def check_store(path: Path, notes: frozenset[str], params: RoomParams) -> None:
    """Refuse a directory that holds something (other than ``notes``, files the job writes
    beside the state) yet no readable partitions, or rooms laid out by other settings than
    ``params`` (``models.room_state``: checked on one room, as one run wrote them all)."""
    held = sorted(p.name for p in path.iterdir() if p.name not in notes)
    if not held:
        return  # empty: a fresh store is made there
    parts = sorted(path.glob(PARTITIONS))
    if not parts:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise ValueError(
            f"--recovery-dir {str(path)!r} holds {shown} but no recovery partitions"
            f" ({PARTITIONS}): it is not a recovery store, or its partitions were removed;"
            " restore them, or name an empty or new directory to start afresh"
        )
    for part in parts:
        why = _unreadable(part)
        if why:
            raise ValueError(
                f"--recovery-dir {str(path)!r}: {part.name} cannot be read as a recovery"
                f" partition ({why}); restore the store from a copy, or name a new directory"
                " to start afresh"
            )
    blob = _one_room(parts)
    if blob is not None:
        from models.room import Room

        try:
            Room.restore(blob, params)
        except SnapshotError as err:
            raise ValueError(f"cannot resume from --recovery-dir {str(path)!r}: {err}") from None


def _unreadable(part: Path) -> str:
    """Why SQLite cannot read ``part`` ("" when it can), opened read-only: the check must
    not create, lock or repair anything."""
    try:
        with closing(sqlite3.connect(f"file:{part}?mode=ro", uri=True)) as db:
            row = db.execute("PRAGMA quick_check").fetchone()
    except sqlite3.Error as err:
        return str(err)
    if row is None or row[0] != "ok":
        return f"integrity check: {row[0] if row else 'no answer'}"
    return ""


class _BytesOnly(pickle.Unpickler):
    """Bytewax pickles what a step's snapshot returns; the rooms' is plain bytes. Anything
    naming a class (a pickled room of an old release) is left to the engine's own restore."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name}")


def _one_room(parts: list[Path]) -> bytes | None:
    """The newest stored snapshot of one room, as the room wrote it (None: none readable)."""
    for part in parts:
        with closing(sqlite3.connect(f"file:{part}?mode=ro", uri=True)) as db:
            try:
                row = db.execute(
                    "SELECT ser_change FROM snaps WHERE step_id = ? AND ser_change IS NOT NULL"
                    " ORDER BY snap_epoch DESC LIMIT 1", (ROOM_STEP,)).fetchone()
            except sqlite3.Error:  # another layout: the engine's restore decides
                return None
        if row is None:
            continue
        try:
            blob = _BytesOnly(io.BytesIO(row[0])).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
            return None
        return blob if isinstance(blob, bytes) else None
    return None
