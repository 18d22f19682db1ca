"""A crash in a room's logic, reported without the room's or a viewer's id.

Bytewax names the key in its error (``error calling StatefulBatchLogic.on_batch ... for key
r-123``) and an exception's message often quotes an id (``KeyError('u-42')``); both would
land in logs and crash reports that are kept longer and read more widely than the data.
``Guarded`` wraps the room logic: on an exception it logs one line with the exception's
type and where it happened (files, lines, functions; never a message or a local), and ends
the process with status 70 (EX_SOFTWARE). A restart resumes from the last snapshot, as
after any crash.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from bytewax.operators import StatefulBatchLogic

log = logging.getLogger("roomrank")

EXIT_CRASH = 70
T = TypeVar("T")


def scrubbed(err: BaseException) -> str:
    """The exception's type and the frames it passed, without message or values.

    >>> try:
    ...     {}["u-secret"]
    ... except KeyError as e:
    ...     text = scrubbed(e)
    >>> "KeyError" in text and "u-secret" not in text
    True
    """
    frames = traceback.extract_tb(err.__traceback__)
    where = " <- ".join(
        f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames[-6:])
    )
    return f"{type(err).__module__}.{type(err).__qualname__} at {where}"


def crash(what: str, err: BaseException) -> NoReturn:
    log.critical(
        "%s failed: %s (message withheld: it may hold room or user ids); exiting",
        what,
        scrubbed(err),
    )
    logging.shutdown()
    sys.stderr.flush()
    os._exit(EXIT_CRASH)


class Guarded(StatefulBatchLogic[Any, Any, Any]):
    """Delegates to a room's logic; a crash ends the process through ``crash``."""

    def __init__(self, inner: StatefulBatchLogic[Any, Any, Any]) -> None:
        self.inner = inner

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as err:  # every crash is reported the same way
            crash("a room's step", err)

    def on_batch(self, values: list[Any]) -> tuple[Iterable[Any], bool]:
        return self._call(lambda: self.inner.on_batch(values))

    def on_notify(self) -> tuple[Iterable[Any], bool]:
        return self._call(self.inner.on_notify)

    def on_eof(self) -> tuple[Iterable[Any], bool]:
        return self._call(self.inner.on_eof)

    def notify_at(self) -> datetime | None:
        return self._call(self.inner.notify_at)

    def snapshot(self) -> Any:
        return self._call(self.inner.snapshot)
