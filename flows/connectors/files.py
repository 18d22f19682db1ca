"""JSONL files (or stdin/stdout) as the dataflow's source and sinks.

The source yields ``(Origin, bytes, read_at)`` records with the contract's file-mode
coordinates: topic = the file's name, partition 0, offset = 1-based line number. Lines holding
only JSON whitespace (space, tab, CR) are skipped; any other line is a message (a line of form
feeds is a dead letter, not silence). A UTF-8 byte order mark at the start of the input is
dropped (editors write one; it is not part of the first event). It resumes from its line
offset under Bytewax recovery. A line longer than ``--max-message-bytes`` is not held whole:
its start goes on as a ``CutMessage`` that knows the line's size, for the dead letter.
"""

from __future__ import annotations

import os
import select
import stat
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from features.contract.events import CutMessage, Origin
from features.contract.validation import DEFAULT_MAX_BYTES
from flows.lifecycle import STOP, output_failed

RawRecord = tuple[Origin, bytes, float]
Messages = list[tuple[bytes, bytes]]
_IDLE_WAIT = timedelta(milliseconds=20)
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16
_JSON_SPACE = b" \t\r\n"


class _LinePartition(StatefulSourcePartition[RawRecord, int]):
    """Lines of a regular file, or of a pipe (stdin, a FIFO) as they become available: a
    live pipe must not stall the dataflow waiting to fill a batch."""

    def __init__(
        self,
        stream: BinaryIO,
        topic: str,
        batch_size: int,
        resume: int | None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._stream = stream
        self._topic = topic
        self._batch_size = batch_size
        # A line longer than this is kept only up to it, then skipped to its newline and
        # counted: the decoder sees a CutMessage past --max-message-bytes and makes one
        # too_large dead letter that says the line's own size, and the reader never holds more
        # than this plus one chunk.
        self._max = max_bytes
        self._keep = max_bytes + 2 + len(_BOM)  # a BOM, the body, one byte over, and a "\r"
        self._line = 0
        self._fd = stream.fileno()
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._partial = bytearray()
        self._skipping = False  # inside a pipe line past ``_keep``: drop up to its newline
        self._blank = False  # and all of it so far was JSON whitespace
        self._size = 0  # bytes of the pipe line being read so far
        self._crs = 0  # how many carriage returns end them
        self._idle = False
        # A resume skips as many lines as the store had read. A pipe's are read (and dropped)
        # by the pipe's own reads below as they come: a buffered readline here would take
        # bytes the fd reads never see.
        self._skip = 0 if self._regular else (resume or 0)
        for _ in range((resume or 0) if self._regular else 0):
            if not self._read_line():
                break
            self._line += 1

    def _read_line(self) -> bytes:
        """The next line of a regular file (b"" at its end); one longer than ``_keep`` bytes
        as a ``CutMessage`` of its first ``_keep``, sized without its line ending."""
        line = self._stream.readline(self._keep)
        if len(line) < self._keep or line.endswith(b"\n"):
            return line
        size, crs = len(line), _trailing_crs(line, 0)
        blank = not line.strip(_JSON_SPACE)
        while True:  # too long: skip the rest of it, a chunk at a time, counting
            rest = self._stream.readline(_CHUNK)
            ended = rest.endswith(b"\n")
            piece = rest[:-1] if ended else rest
            size, crs = size + len(piece), _trailing_crs(piece, crs)
            blank = blank and not piece.strip(_JSON_SPACE)
            if ended or not rest:
                return b"\n" if blank else CutMessage(line, size - crs)

    def _lines(self) -> list[bytes] | None:
        """Lines available now (``[]``: none yet); None at the end of the input."""
        if self._regular:
            lines: list[bytes] = []
            while len(lines) < self._batch_size:
                line = self._read_line()
                if not line:
                    break
                lines.append(line)
            return lines or None
        ready, _, _ = select.select([self._fd], [], [], 0)
        if not ready:
            return []
        chunk = os.read(self._fd, _CHUNK)
        if not chunk:
            rest = self._end_line()
            return [rest] if rest else None
        *complete, last = chunk.split(b"\n")
        lines = []
        for piece in complete:
            self._take(piece)
            lines.append(self._end_line())
        self._take(last)
        return lines

    def _take(self, piece: bytes) -> None:
        """Append part of a pipe line, keeping at most ``_keep`` bytes of it, counting all."""
        self._size += len(piece)
        self._crs = _trailing_crs(piece, self._crs)
        if self._skipping:
            self._blank = self._blank and not piece.strip(_JSON_SPACE)
            return
        room = self._keep - len(self._partial)
        self._partial += piece[:room]
        self._skipping = len(piece) > room
        if self._skipping:
            self._blank = not self._partial.strip(_JSON_SPACE) and not piece[room:].strip(
                _JSON_SPACE)

    def _end_line(self) -> bytes:
        """The pipe line taken so far (a ``CutMessage`` if it outgrew ``_keep``); starts the
        next."""
        line = bytes(self._partial)
        if self._skipping:  # a line of only spaces is blank however long: skipped
            line = b"" if self._blank else CutMessage(line, self._size - self._crs)
        self._partial.clear()
        self._skipping = False
        self._size = self._crs = 0
        return line

    def _body(self, line: bytes) -> bytes:
        """A line without its ending, and without the input's BOM on line 1. A cut line keeps
        one byte past the limit, and its size, unless it fits after all (its bytes past
        ``_keep`` were the carriage returns that end it)."""
        if not isinstance(line, CutMessage):
            body = line.rstrip(b"\r\n")
            return body[len(_BOM) :] if self._line == 1 and body.startswith(_BOM) else body
        head, size = bytes(line), line.size
        if self._line == 1 and head.startswith(_BOM):
            head, size = head[len(_BOM) :], size - len(_BOM)
        return head[:size] if size <= self._max else CutMessage(head[: self._max + 1], size)

    def next_batch(self) -> list[RawRecord]:
        if STOP.is_set():
            raise StopIteration
        lines = self._lines()
        if lines is None:
            raise StopIteration
        now = time.monotonic()
        batch: list[RawRecord] = []
        for line in lines:
            self._line += 1
            if self._line <= self._skip:  # a resumed pipe's lines already read before
                continue
            body = self._body(line)
            # a cut line is never blank: a blank one came back as b"" or b"\n"
            if isinstance(body, CutMessage) or body.strip(_JSON_SPACE):
                batch.append((Origin(self._topic, 0, self._line), body, now))
        self._idle = not lines
        return batch

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + _IDLE_WAIT if self._idle else None

    def snapshot(self) -> int:
        return self._line

    def close(self) -> None:
        if self._stream is not sys.stdin.buffer:
            self._stream.close()


def _trailing_crs(piece: bytes, before: int) -> int:
    r"""How many carriage returns end a line whose latest part is ``piece`` (``before``: how
    many ended the parts before it).

    >>> _trailing_crs(b"ab\r", 0), _trailing_crs(b"\r\r", 1), _trailing_crs(b"", 2)
    (1, 3, 2)
    """
    kept = len(piece.rstrip(b"\r"))
    return before + len(piece) if kept == 0 else len(piece) - kept


class JsonlSource(FixedPartitionedSource[RawRecord, int]):
    """One partition per file; ``-`` reads standard input."""

    def __init__(
        self, path: str, batch_size: int = 1000, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.path = path
        self.batch_size = batch_size
        self.max_bytes = max_bytes

    def list_parts(self) -> list[str]:
        return [self.path]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _LinePartition:
        if for_part == "-":  # resumed, it skips what the store read (the warning says so)
            return _LinePartition(sys.stdin.buffer, "stdin", self.batch_size, resume_state,
                                  self.max_bytes)
        stream = Path(for_part).open("rb")  # noqa: SIM115 - closed by close()
        return _LinePartition(
            stream, Path(for_part).name, self.batch_size, resume_state, self.max_bytes
        )


class _LineSinkPartition(StatefulSinkPartition[Messages, None]):
    def __init__(self, stream: IO[bytes], what: str) -> None:
        self._stream = stream
        self._what = what
        self._stdout = stream is sys.stdout.buffer

    def write_batch(self, values: list[Messages]) -> None:
        write = self._stream.write
        try:
            for messages in values:
                for _key, value in messages:
                    write(value)
                    write(b"\n")
            self._stream.flush()
        except OSError as err:
            output_failed(self._what, err, self._stdout)

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        if not self._stdout:
            try:
                self._stream.close()
            except OSError as err:
                output_failed(self._what, err)


class JsonlSink(FixedPartitionedSink[Messages, None]):
    """Writes message values as lines; one partition so N workers write one file.

    The file is opened for appending: a run that resumes from a recovery snapshot keeps
    what the interrupted run wrote (``flows.jobs`` truncates it for a fresh run). A line cut
    by a crash mid-write is removed first; its message is written again, since its epoch
    was never snapshotted. The partition is named ``file``, not after the path, so the same
    file named another way (``./x``, a symlink) resumes the same recovery state.
    """

    def __init__(self, path: str, what: str = "--output") -> None:
        self.path = path
        self.what = what

    def list_parts(self) -> list[str]:
        return ["file"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _LineSinkPartition:
        what = f"{self.what} {self.path!r}"
        if self.path == "-":
            return _LineSinkPartition(sys.stdout.buffer, what)
        try:
            drop_cut_line(self.path)
            stream = Path(self.path).open("ab")  # noqa: SIM115 - closed by close()
        except OSError as err:
            output_failed(what, err)
        return _LineSinkPartition(stream, what)


def drop_cut_line(path: str) -> None:
    """Truncate a regular file back to its last complete line (unreadable files are left)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
            return
        with open(path, "rb") as reader:
            pos = end = info.st_size
            while pos > 0:
                step = min(pos, 1 << 16)
                reader.seek(pos - step)
                chunk = reader.read(step)
                if pos == end and chunk.endswith(b"\n"):
                    return
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    os.truncate(path, pos - step + cut + 1)
                    return
                pos -= step
    except (FileNotFoundError, PermissionError):
        return
    os.truncate(path, 0)
