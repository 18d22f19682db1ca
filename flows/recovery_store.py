"""Whether a ``--recovery-dir`` is a store this run can resume from, said before it starts.

Bytewax opens the store's partitions (``part-N.sqlite3``) only once the dataflow runs, and
a damaged or incomplete store then ends the run with a Rust panic or a traceback that names
neither the directory nor what to do. The faults an operator meets (a partition overwritten
or truncated, a directory that holds files but no partitions, say after a cleanup) are found
here, each as one line (``ValueError``: exit 2) naming the directory, the file and the way on.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

PARTITIONS = "part-*.sqlite3"


def check_store(path: Path, notes: frozenset[str]) -> None:
    """Refuse a directory that holds something (other than ``notes``, files the job writes
    beside the state) yet no readable partitions."""
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
