"""Whether a ``--recovery-dir`` is a store this run can resume from, said before it starts.

Bytewax opens the store's partitions (``part-N.sqlite3``) only once the dataflow runs, and
a damaged or incomplete store then ends the run with a Rust panic or a traceback that names
neither the directory nor what to do. The faults an operator meets (a partition overwritten
or truncated or emptied, a directory that holds files but no partitions, say after a cleanup,
a store missing one of its partitions) are found here, each as one line (``ValueError``: exit
2) naming the directory, the file and the way on. So are rooms laid out by other settings (one
stored room is read), and another input than the store began reading: it would skip as many
of any input as it read (the note ``INPUT_RECORD`` beside the partitions says which).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import pickle
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from features.state.codec import SnapshotError
from flows.settings import Settings
from models.params import RoomParams

log = logging.getLogger("roomrank")
INPUT_RECORD = "roomrank-input.json"
"""File mode's note, in the recovery directory, of the input its store was written reading."""
_DRAFT = f".{INPUT_RECORD}.new"  # the note being written, until it replaces the last one
LOCK = "roomrank.lock"
"""Held (``flock``) by the one run that uses the store; it names that run's pid."""
NOTES = frozenset({INPUT_RECORD, _DRAFT, LOCK})
"""The files the job keeps beside a store's partitions: no state."""
HEAD_BYTES = 1 << 20
"""How much of the input's start the note's digest covers: a resume skips the lines the
store says were read, so another file would lose its first lines without a word. A file that
grew since (appended to) has the same start."""
PARTITIONS = "part-*.sqlite3"
_SIDE_FILES = "part-*.sqlite3-*"  # SQLite's write-ahead log and shared memory beside one
ROOM_STEP = "roomrank.room"  # flows.dataflow's stateful step, as Bytewax names it in the store


def check_store(path: Path, notes: frozenset[str], params: RoomParams, flag: str) -> None:
    """Refuse a directory that holds something (other than ``notes``, files the job writes
    beside the state) yet no readable partitions, or rooms laid out by other settings than
    ``params`` (``models.room_state``: checked on one room, as one run wrote them all)."""
    held = sorted(p.name for p in path.iterdir()
                  if p.name not in notes and p.name != "lost+found")  # a fresh volume's
    if not held:
        return  # empty: a fresh store is made there
    parts = sorted(path.glob(PARTITIONS))
    if not parts:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise ValueError(
            f"{flag} {str(path)!r} holds {shown} but no recovery partitions"
            f" ({PARTITIONS}): it is not a recovery store, or its partitions were removed;"
            " restore them, or name an empty or new directory to start afresh"
        )
    indexes: dict[int, set[int]] = {}  # the store's partition count: the indexes found
    for part in parts:
        read = _partition(part)
        if isinstance(read, str):
            raise ValueError(
                f"{flag} {str(path)!r}: {part.name} cannot be read as a recovery"
                f" partition ({read}); restore the store from a copy, or name a new directory"
                " to start afresh"
            )
        indexes.setdefault(read[1], set()).add(read[0])
    _check_complete(path, indexes, flag)
    blob = one_room(path, parts, flag)
    if blob is not None:
        from models.room import Room

        try:
            Room.restore(blob, params)
        except SnapshotError as err:
            raise ValueError(f"cannot resume from {flag} {str(path)!r}: {err}") from None


def _partition(part: Path) -> tuple[int, int] | str:
    """The partition's index and its store's partition count, as the engine wrote them in it;
    else why they cannot be read. Opened read-only: the check must not create, lock or repair
    anything."""
    try:
        with closing(sqlite3.connect(f"file:{part}?mode=ro", uri=True)) as db:
            rows = db.execute("PRAGMA quick_check").fetchall()
            if [tuple(r) for r in rows] != [("ok",)]:
                return f"integrity check: {_one_line(rows)}"
            rows = db.execute("SELECT part_index, part_count FROM parts").fetchall()
    except sqlite3.Error as err:  # an empty file is a valid database without the tables
        if "no such table" in str(err):
            return f"{err}: the file is empty, or a SQLite file the engine did not write"
        return str(err)
    if len(rows) != 1:
        return f"{len(rows)} partition records, not 1"
    index, count = rows[0]
    return int(index), int(count)


def _one_line(rows: list[Any]) -> str:
    r"""SQLite's report of a damaged file (rows of lines, each page named) as the start of one
    line: the error is one line, and its first finding says enough.

    >>> _one_line([("*** in database main ***\nPage 5: btreeInitPage() returns error code 11",)])
    'Page 5: btreeInitPage() returns error code 11'
    """
    said = " ".join(" ".join(str(r[0]).split()) for r in rows) or "no answer"
    said = said.removeprefix("*** in database main *** ")
    return said if len(said) <= 120 else said[:117] + "..."


def _check_complete(path: Path, indexes: dict[int, set[int]], flag: str) -> None:
    """Refuse partitions of stores of several sizes, or a store with some missing: the job
    runs as one process, which must see them all (the engine would panic)."""
    if len(indexes) > 1:
        sizes = " and ".join(str(n) for n in sorted(indexes))
        raise ValueError(
            f"{flag} {str(path)!r} holds partitions of stores of {sizes} partitions:"
            " they were mixed; restore the store from a copy, or name a new directory to start"
            " afresh"
        )
    [(count, found)] = indexes.items()
    missing = sorted(set(range(count)) - found)
    if missing:
        shown = ", ".join(f"part-{n}.sqlite3" for n in missing[:3])
        raise ValueError(
            f"{flag} {str(path)!r} holds {len(found)} of its store's {count} partitions;"
            f" {shown}{', ...' if len(missing) > 3 else ''} missing: restore"
            f" {'it' if len(missing) == 1 else 'them'} (the store must be whole), or name a new"
            " directory to start afresh"
        )


class _NamesAClass(Exception):
    """A stored state that is a pickle naming a class: the engine's restore may read it."""


class _BytesOnly(pickle.Unpickler):
    """Bytewax pickles what a step's snapshot returns; the rooms' is plain bytes. Anything
    naming a class (a pickled room of an old release) is left to the engine's own restore."""

    def find_class(self, module: str, name: str) -> Any:
        raise _NamesAClass(f"{module}.{name}")


def one_room(path: Path, parts: list[Path], flag: str) -> bytes | None:
    """The newest stored snapshot of one room, as the room wrote it (None: none, or one the
    engine's own restore must read). Bytes that are no pickle at all are refused: the engine
    would panic on them."""
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
        except _NamesAClass:
            return None
        except Exception as err:  # garbage in a cell SQLite's check does not read into
            raise ValueError(
                f"{flag} {str(path)!r}: {part.name} holds a room's state that cannot be"
                f" unpickled ({type(err).__name__}: {err}); restore the store from a copy, or"
                " name a new directory to start afresh"
            ) from None
        return blob if isinstance(blob, bytes) else None
    return None


def holds_state(path: Path) -> bool:
    """Whether a recovery directory holds state a run resumes from: a partition that records
    an execution, or anything else but the notes. Partitions just made (the runbook's
    ``python -m bytewax.recovery DIR N``, or a run stopped before its first snapshot) hold
    none: a run there starts afresh and empties its outputs."""
    if not path.is_dir():
        return False
    return any(p.name not in NOTES and not p.match(_SIDE_FILES)
               and (not p.match(PARTITIONS) or _executions(p) != 0) for p in path.iterdir())


def _executions(part: Path) -> int:
    """How many executions a partition records (−1: it cannot be read; ``check_store`` says
    why)."""
    try:
        with closing(sqlite3.connect(f"file:{part}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM exs").fetchone()[0])
    except sqlite3.Error:
        return -1


def check_recovery_dir(settings: Settings) -> None:
    """Refuse a ``--recovery-dir`` that names something other than a directory, before any
    file is touched (Bytewax would fail later with a traceback)."""
    store = settings.named("recovery_dir")  # the flag or variable that named it
    path = Path(settings.recovery_dir)
    if settings.recovery_dir and path.exists() and not path.is_dir():
        raise ValueError(
            f"{store} {settings.recovery_dir!r} is a file, not a directory: name a"
            " directory (it is created when missing)"
        )
    if settings.recovery_dir and path.is_dir():
        check_store(path, NOTES, settings.room, settings.named("recovery_dir"))


@contextmanager
def claim_store(settings: Settings) -> Iterator[None]:
    """Hold the store for this run alone, until the run ends: a second run on the same
    directory would resume from the first one's snapshots while it writes more, and both
    would write the same pushes. Refused in one line naming the run that holds it. The lock
    is the kernel's (``flock``), so a crashed run leaves none behind."""
    store = settings.named("recovery_dir")  # the flag or variable that named it
    if not settings.recovery_dir:
        yield
        return
    path = Path(settings.recovery_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ValueError(
            f"{store} {settings.recovery_dir!r}: cannot write in it ({err.strerror});"
            " give the job's user write access, or name another directory"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise ValueError(
                f"{store} {settings.recovery_dir!r} is in use by another run (pid"
                f" {holder}): one store serves one run at a time; stop that run, or name"
                " another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def resuming(settings: Settings) -> bool:
    """Whether this run resumes from a recovery store that holds state."""
    if not settings.recovery_dir:
        return False
    return holds_state(Path(settings.recovery_dir))


def _input_note(input_path: str) -> dict[str, Any]:
    """What identifies the input a store is written reading: its path, and a digest of its
    first ``HEAD_BYTES`` (the path alone would miss a file replaced under the same name)."""
    if input_path == "-":
        return {"input": "-"}
    with open(input_path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return {"input": os.path.abspath(input_path), "head_bytes": len(head),
            "head_sha256": hashlib.sha256(head).hexdigest(),
            "size": os.path.getsize(input_path)}


def note_input(settings: Settings, input_path: str) -> None:
    """Record, in a store about to be created or resumed, which input it is written reading
    (replaced whole: a note cut by a crash would leave the next resume unchecked)."""
    if not settings.recovery_dir:
        return
    _write_note(Path(settings.recovery_dir), _input_note(input_path))


def _write_note(path: Path, note: dict[str, Any]) -> None:
    """Replace the store's note whole: a note cut by a crash would leave a resume unchecked."""
    path.mkdir(parents=True, exist_ok=True)
    draft = path / _DRAFT
    draft.write_text(json.dumps(note) + "\n")
    os.replace(draft, path / INPUT_RECORD)


def check_resumed_input(settings: Settings, input_path: str, input_flag: str = "--input") -> None:
    """Refuse to resume a store with another input than the one it was written reading, or
    with that file now shorter than when a run last began reading it: the store holds how many
    lines were read, and would skip as many of any file."""
    store = settings.named("recovery_dir")  # the flag or variable that named it
    try:
        noted = json.loads((Path(settings.recovery_dir) / INPUT_RECORD).read_text())
        written, size, digest = noted["input"], noted.get("head_bytes"), noted.get("head_sha256")
    except (OSError, ValueError, KeyError, TypeError):
        log.warning(
            f"{store} %s does not say which input it was written reading (written before"
            f" roomrank recorded it): resuming without checking that {input_flag} is that file",
            settings.recovery_dir,
        )
        return
    if input_path == "-" or written == "-":
        log.warning(
            f"resuming {store} %s, written reading %s, with {input_flag} %s: stdin cannot be"
            " checked; if it is not the same input, as many of its first lines are skipped as"
            " the store has read", settings.recovery_dir, _shown(written), _shown(input_path),
        )
        return
    with open(input_path, "rb") as fh:
        head = fh.read(int(size))
    here = os.path.abspath(input_path)
    now, then = os.path.getsize(input_path), noted.get("size")
    shorter = isinstance(then, int) and now < then  # cut, or rewritten past the digest's reach
    if hashlib.sha256(head).hexdigest() != digest and not (shorter and here == written):
        which = "which now starts differently" if here == written else "another file"
        raise ValueError(
            f"{store} {settings.recovery_dir!r} was written reading {written!r}; this run"
            f" reads {here!r} ({which}), and resuming would skip its first lines: give the same"
            f" {input_flag}, or a new {store} to start afresh"
        )
    if shorter:
        raise ValueError(
            f"{store} {settings.recovery_dir!r} was written reading {written!r} of"
            f" {then} bytes; {here!r} now has {now}: it was cut or rewritten, and resuming"
            " would skip lines it no longer holds. Give the input the store began reading, or"
            f" a new {store} to start afresh"
        )


def topic_id(brokers: str, topic: str, timeout: float = 30.0) -> str:
    """The broker's id of ``topic``: a topic deleted and made again under the same name has
    another, and its offsets start again from 0."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": brokers})
    try:
        [future] = admin.describe_topics(TopicCollection([topic])).values()
        return str(future.result(timeout).topic_id)
    except Exception as err:  # a broker too old to say: the name alone is checked
        log.warning("could not learn topic %s's id (%s): a resume checks its name only",
                    topic, err)
        return ""


def note_or_check_topic(settings: Settings, resumed: bool, current_id: str) -> None:
    """Kafka mode's twin of the input note. The store holds an offset per partition of the
    input topic: resumed with another ``--input-topic``, or with the topic made anew, those
    offsets would skip as many messages of it, without a word. Refused instead; a fresh
    store is noted."""
    store = settings.named("recovery_dir")  # the flag or variable that named it
    topic_flag = settings.named("input_topic")
    if not settings.recovery_dir:
        return
    path = Path(settings.recovery_dir)
    here = {"input_topic": settings.input_topic, "topic_id": current_id}
    if not resumed:
        _write_note(path, here)
        return
    noted = _noted_topic(settings)
    if noted is None:
        log.warning(f"{store} %s does not say which topic it was written reading (written"
                    " before roomrank recorded it, or in file mode): resuming without checking"
                    f" that {topic_flag} is that topic", settings.recovery_dir)
        return
    topic, written_id = noted
    check_topic_name(settings, resumed)
    if written_id and current_id and written_id != current_id:
        raise ValueError(
            f"topic {topic!r} was deleted and made again since {store}"
            f" {settings.recovery_dir!r} was written reading it (id {written_id}, now"
            f" {current_id}): its offsets started again, and resuming would skip as many of its"
            f" messages as the store read of the old one. Use a new {store}"
        )


def _noted_topic(settings: Settings) -> tuple[str, str] | None:
    try:
        noted = json.loads((Path(settings.recovery_dir) / INPUT_RECORD).read_text())
        return str(noted["input_topic"]), str(noted["topic_id"] or "")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_topic_name(settings: Settings, resumed: bool) -> None:
    """The name half of ``note_or_check_topic``, which needs no broker: asked before the
    job makes its missing topics, so that a refused resume makes none."""
    store = settings.named("recovery_dir")  # the flag or variable that named it
    topic_flag = settings.named("input_topic")
    noted = _noted_topic(settings) if settings.recovery_dir and resumed else None
    if noted is not None and noted[0] != settings.input_topic:
        raise ValueError(
            f"{store} {settings.recovery_dir!r} was written reading topic {noted[0]!r};"
            f" this run reads {settings.input_topic!r}, and resuming would skip as many of its"
            f" messages as the store read of the other: give the same {topic_flag}, or a new"
            f" {store} to start afresh"
        )


def _shown(input_path: str) -> str:
    return "stdin" if input_path == "-" else repr(input_path)
