"""A damaged or incomplete recovery store, and a closed standard output or input: one line,
exit 2, before anything is touched (they were a Rust panic or a traceback).

Real ``roomrank`` subprocesses, as in ``test_operator_faults``.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.flows.test_operator_faults import error_lines, quiet, roomrank
from tests.flows.test_operator_faults import events as events  # the fixture

FLAGS = ["--output", "out.jsonl", "--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]


@pytest.fixture
def store(tmp_path: Path, events: Path) -> Path:
    """A store a finished run wrote, and what that run wrote; the input is the first half of
    a world, so its rooms are still open (a closed room's state is dropped)."""
    lines = events.read_bytes().splitlines(keepends=True)
    (tmp_path / "in.jsonl").write_bytes(b"".join(lines[: len(lines) // 2]))
    done = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "rec" / "part-0.sqlite3").is_file()
    return tmp_path


def _refused(*args: str, cwd: Path, says: str = "", begins: str = "", **kwargs: object) -> str:
    """``roomrank run ARGS`` refuses: exit 2, no traceback or panic, exactly one error line,
    which is ``says`` or begins with ``begins``; returns that line for further checks."""
    assert says or begins, "name the refusal expected"
    done = roomrank("run", *args, cwd=cwd, **kwargs)
    assert done.returncode == 2 and quiet(done.stderr), done.stderr[-2000:]
    lines = error_lines(done)
    assert len(lines) == 1, lines
    [line] = lines
    assert line == says if says else line.startswith(begins), line
    return line


def _sql(part: Path, statement: str, *values: object) -> None:
    with closing(sqlite3.connect(part)) as db:
        db.execute(statement, values)
        db.commit()


@pytest.mark.parametrize("damage", ["overwritten", "garbled", "truncated", "emptied", "foreign"])
def test_a_damaged_partition_is_one_line_and_nothing_is_touched(store: Path, damage: str) -> None:
    """Emptied (``: > part-0.sqlite3``) or another program's SQLite file is a valid database
    to SQLite: the engine found no partition in it and panicked. Garbled pages past the header
    are found by SQLite's check, whose report spans lines: the error is still one."""
    part = store / "rec" / "part-0.sqlite3"
    data = part.read_bytes()
    if damage == "foreign":
        part.unlink()
        _sql(part, "CREATE TABLE notes (line TEXT)")
    else:
        part.write_bytes({"overwritten": b"garbage!" * 64 + data[512:], "truncated": data[:4096],
                          # page 5, a table's root the engine made first (pages of 4 KiB)
                          "garbled": data[: 4 * 4096] + b"garbage!" * 512 + data[5 * 4096 :],
                          "emptied": b""}[damage])
    written = (store / "out.jsonl").read_bytes()
    line = _refused("--input", "in.jsonl", *FLAGS, cwd=store, begins=(
        "roomrank run: error: --recovery-dir 'rec': part-0.sqlite3 cannot be read as a recovery"
        " partition ("))
    assert ("integrity check: " in line) == (damage == "garbled"), line
    assert line.endswith("restore the store from a copy, or name a new directory to start afresh")
    assert (store / "out.jsonl").read_bytes() == written


def test_garbage_in_a_room_state_sqlite_does_not_check_is_one_line(store: Path) -> None:
    """``PRAGMA quick_check`` reads a database's structure, not what its cells hold: bytes
    that are no pickle in a room's stored state made the engine panic."""
    _sql(store / "rec" / "part-0.sqlite3",
         "UPDATE snaps SET ser_change = ? WHERE step_id = 'roomrank.room'", b"garbage!")
    _refused("--input", "in.jsonl", *FLAGS, cwd=store, begins=(
        "roomrank run: error: --recovery-dir 'rec': part-0.sqlite3 holds a room's state that"
        " cannot be unpickled (UnpicklingError: "))


def test_a_store_missing_one_of_its_partitions_is_one_line(store: Path) -> None:
    """A store of two partitions of which one is here (say part-1.sqlite3 not copied back):
    the engine panicked; so did partitions of two stores mixed."""
    part = store / "rec" / "part-0.sqlite3"
    _sql(part, "UPDATE parts SET part_count = 2")
    _refused("--input", "in.jsonl", *FLAGS, cwd=store, says=(
        "roomrank run: error: --recovery-dir 'rec' holds 1 of its store's 2 partitions;"
        " part-1.sqlite3 missing: restore it (the store must be whole), or name a new"
        " directory to start afresh"))
    (store / "rec" / "part-1.sqlite3").write_bytes(part.read_bytes())
    _sql(part, "UPDATE parts SET part_count = 1")
    _refused("--input", "in.jsonl", *FLAGS, cwd=store, says=(
        "roomrank run: error: --recovery-dir 'rec' holds partitions of stores of 1 and 2"
        " partitions: they were mixed; restore the store from a copy, or name a new directory"
        " to start afresh"))


def test_a_store_whose_partitions_were_removed_is_one_line(store: Path) -> None:
    (store / "rec" / "part-0.sqlite3").unlink()
    (store / "rec" / "notes.txt").write_text("kept by someone")
    _refused("--input", "in.jsonl", *FLAGS, cwd=store, says=(
        "roomrank run: error: --recovery-dir 'rec' holds notes.txt but no recovery partitions"
        " (part-*.sqlite3): it is not a recovery store, or its partitions were removed; restore"
        " them, or name an empty or new directory to start afresh"))


def test_a_store_with_only_the_input_note_starts_afresh(store: Path) -> None:
    """The note of the input is written before the engine makes its partition: a run stopped
    between the two left a store with nothing to resume, which is not a fault (nor is the
    draft of a note a crash left)."""
    (store / "rec" / "part-0.sqlite3").unlink()
    (store / "rec" / ".roomrank-input.json.new").write_text('{"input": "/cut')
    again = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=store)
    assert again.returncode == 0 and quiet(again.stderr), again.stderr[-2000:]
    assert (store / "rec" / "part-0.sqlite3").is_file()


def test_output_to_a_closed_standard_output_is_one_line(tmp_path: Path, events: Path) -> None:
    _refused("--input", str(events), "--output", "-", "--dead-letters", "dl.jsonl",
             cwd=tmp_path, preexec_fn=_close_stdout,  # as `roomrank ... >&-`
             says="roomrank run: error: --output - writes to standard output, which is closed;"
             " name a file, or run the job with its standard output open (a pipe or a file)")
    assert not (tmp_path / "dl.jsonl").exists()


def _close_stdout() -> None:
    os.close(1)


def _close_stdin() -> None:
    os.close(0)


def test_input_from_a_closed_standard_input_is_one_line(tmp_path: Path) -> None:
    """``roomrank run --input - ... <&-`` was a Rust panic (stdin is None in Python)."""
    _refused("--input", "-", "--output", "out.jsonl", "--dead-letters", "dl.jsonl",
             cwd=tmp_path, stdin=None, preexec_fn=_close_stdin,
             says="roomrank run: error: --input - reads standard input, which is closed; name a"
             " file, or run the job with its standard input open (a pipe or a file)")
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--window-ms", "120000", "written with window_ms=300000, this run has window_ms=120000: use"
                              " the same --window-ms, or a new --recovery-dir"),
    ("--dim", "16", "written with dim=32, this run has dim=16: use the same setting, or a new"
                    " --recovery-dir"),
])
def test_a_resume_with_another_layout_is_one_line_without_a_panic(
    store: Path, flag: str, value: str, said: str
) -> None:
    written = (store / "out.jsonl").read_bytes()
    _refused("--input", "in.jsonl", *FLAGS, flag, value, cwd=store, says=(
        f"roomrank run: error: cannot resume from --recovery-dir 'rec': the recovery store was"
        f" {said}"))
    assert (store / "out.jsonl").read_bytes() == written


def test_a_resume_of_an_input_cut_after_its_first_mib_is_refused(tmp_path: Path) -> None:
    """The note's digest covers the first MiB; a file cut (or rewritten shorter) beyond it has
    the same start, and the store would skip lines it no longer holds. A file that grew is a
    log being appended to, and resumes."""
    from tests.flows.helpers import world_lines

    lines = world_lines(3, rooms=2, viewers=1000, minutes=8)
    data = b"\n".join(lines) + b"\n"
    keep = (1 << 20) + (1 << 18)  # past the digest's first MiB
    assert len(data) > keep, len(data)
    (tmp_path / "in.jsonl").write_bytes(data)
    done = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (tmp_path / "in.jsonl").write_bytes(data[:keep])  # the same first MiB, cut
    line = _refused("--input", "in.jsonl", *FLAGS, cwd=tmp_path,
                    begins="roomrank run: error: --recovery-dir 'rec' was written reading ")
    assert f"of {len(data)} bytes; " in line and f"now has {keep}: it was cut" in line, line
    (tmp_path / "in.jsonl").write_bytes(data + lines[-1] + b"\n")  # grown: resumes
    grown = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=tmp_path)
    assert grown.returncode == 0 and quiet(grown.stderr), grown.stderr[-2000:]


def test_a_log_that_grew_then_was_cut_below_what_a_resume_read_is_refused(
    tmp_path: Path, events: Path
) -> None:
    """The note's size is the input's when a run last began reading it, not when the store
    was made: a log that grew, was resumed, and was then rewritten shorter than that second
    run read (yet longer than the first) lost lines the store had counted."""
    lines = events.read_bytes().splitlines(keepends=True)
    half, three_quarters = len(lines) // 2, 3 * len(lines) // 4
    log = tmp_path / "in.jsonl"
    log.write_bytes(b"".join(lines[:half]))
    first = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    log.write_bytes(b"".join(lines))  # grown: resumes
    grown = roomrank("run", "--input", "in.jsonl", *FLAGS, cwd=tmp_path)
    assert grown.returncode == 0 and quiet(grown.stderr), grown.stderr[-2000:]
    log.write_bytes(b"".join(lines[:three_quarters]))
    line = _refused("--input", "in.jsonl", *FLAGS, cwd=tmp_path,
                    begins="roomrank run: error: --recovery-dir 'rec' was written reading ")
    assert f"of {len(b''.join(lines))} bytes; " in line, line
    assert f"now has {len(b''.join(lines[:three_quarters]))}: it was cut" in line, line
