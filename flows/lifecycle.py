"""A graceful stop: SIGTERM or SIGINT (Ctrl-C) ends the input, not the process.

On either signal the sources stop reading and report end of input; Bytewax then finishes the
items in flight, the sinks flush, the last epoch's snapshot is written, and the process exits
(0 after SIGTERM, as orchestrators expect; 130 after SIGINT, as shells expect). Rooms do not
flush their reorder buffers on such a stop (``RoomLogic.on_eof``): the held events stay in the
snapshot, so a restart continues exactly where an uninterrupted run would. A second signal
while stopping ends the process at once, without that snapshot (a restart resumes from the
previous one).

An output that cannot be written (a full disk, a closed pipe) ends the process from inside
the sink with ``output_failed``: raising there would end in a Rust abort with a hundred lines
of backtrace, and a graceful stop would snapshot an epoch whose outputs were lost.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

log = logging.getLogger("roomrank")

STOP = threading.Event()
_signals: list[int] = []

EXIT_INTERRUPTED = 130


def request_stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
    if _signals and signum in (signal.SIGINT, signal.SIGTERM):
        log.warning("second signal %d: stopping now, without a final snapshot", signum)
        logging.shutdown()
        os._exit(EXIT_INTERRUPTED if signum == signal.SIGINT else 1)
    _signals.append(signum)
    log.info("signal %d: finishing in-flight work, then stopping", signum)
    STOP.set()


def exit_code() -> int:
    """0 unless the job was stopped by SIGINT (130)."""
    return EXIT_INTERRUPTED if signal.SIGINT in _signals[:1] else 0


def install() -> None:
    """Route SIGTERM and SIGINT to a graceful stop (main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)


def output_failed(what: str, err: OSError, stdout: bool = False) -> None:
    """End the process because ``what`` (a flag and path) cannot be written.

    A closed standard output (``roomrank run --output - | head -1``) ends quietly, with
    status 0, like any filter whose reader has had enough; anything else is one line naming
    the output and the OS error, status 2.
    """
    if stdout and err.errno == errno.EPIPE:
        log.debug("standard output closed by its reader; stopping")
        end_now("", 0)
    reason = err.strerror or str(err)
    end_now(f"{what}: {reason} (errno {err.errno})")


def end_now(error: str, status: int = 2) -> NoReturn:
    """End the process at once with ``roomrank run: error: <error>`` (nothing when empty):
    no snapshot of the epoch being written, so a restart with the same store writes it
    again. An output that cannot take writes is the operator's to mend, not a traceback."""
    if error:
        print(f"roomrank run: error: {error}", file=sys.stderr)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(status)
