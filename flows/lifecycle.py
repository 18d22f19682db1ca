"""A graceful stop: SIGTERM ends the input, not the process.

On SIGTERM the sources stop reading and report end of input; Bytewax then finishes the
items in flight, the sinks flush, the last epoch's snapshot is written, and the process exits
0. Rooms do not flush their reorder buffers on such a stop (``RoomLogic.on_eof``): the held
events stay in the snapshot, so a restart continues exactly where an uninterrupted run would.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger("roomrank")

STOP = threading.Event()


def request_stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
    if not STOP.is_set():
        log.info("signal %d: finishing in-flight work, then stopping", signum)
    STOP.set()


def install() -> None:
    """Route SIGTERM to a graceful stop (main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
