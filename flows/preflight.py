"""What file mode checks before it touches anything, so a mistake costs nothing.

An output that names the input (however spelt: ``./x``, a symlink, a hard link) would
truncate the input; an output that is a directory, or cannot be created or written, would
fail after the other output was already truncated; a metrics port in use or out of range
would fail after both. Each is refused here with one line naming the flag, the path and the
OS error (``ValueError``: the command line prints it and exits 2) before any file is
truncated. What cannot be known in advance (a disk that fills up, a reader that closes a
pipe) is handled where it happens (``flows.lifecycle.output_failed``).
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Mapping
from pathlib import Path


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (by device and inode, or by resolved path).

    >>> same_file("/etc/hostname", "/etc/../etc/hostname"), same_file("-", "-")
    (True, False)
    """
    if a == "-" or b == "-":
        return False
    ida, idb = _identity(a), _identity(b)
    if ida is not None and ida == idb:
        return True
    return Path(a).resolve() == Path(b).resolve()


def _writes_stdout(path: str) -> bool:
    """``-``, or a path that opens what standard output is (``/dev/stdout``, ``/dev/fd/1``,
    or the file the shell redirected it to)."""
    if path == "-":
        return True
    try:
        out = os.fstat(1)
    except OSError:  # stdout closed
        return False
    return _identity(path) == (out.st_dev, out.st_ino)


def stdin_file() -> tuple[int, int] | None:
    """Device and inode of the regular file stdin is redirected from (``< file``), if it is.

    ``--input -`` names no path to compare outputs with, yet ``/dev/stdin`` or
    ``/proc/self/fd/0`` as an output opens that very file and truncates it.
    """
    try:
        info = os.fstat(0)
    except OSError:  # stdin closed
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def check_file_mode(input_path: str, outputs: dict[str, str]) -> None:
    """Refuse outputs that name the input, each other, or that cannot be written.

    ``outputs`` maps a flag to its path. Creates missing parent folders and missing output
    files (empty), truncates nothing.
    """
    if input_path == "-" and not _open(0):
        raise ValueError(
            "--input - reads standard input, which is closed; name a file, or run the job with"
            " its standard input open (a pipe or a file)"
        )
    for flag, path in outputs.items():
        if path == "-" and not _open(1):
            raise ValueError(
                f"{flag} - writes to standard output, which is closed; name a file, or run"
                " the job with its standard output open (a pipe or a file)"
            )
    packed = compression(input_path) if input_path != "-" else None
    if packed is not None:
        raise ValueError(
            f"--input {input_path!r} is {packed}-compressed; the job reads JSON lines: unpack"
            f" it first, or pipe it in (for example: zcat {input_path} | roomrank run --input"
            " - ...)"
        )
    to_stdout = [flag for flag, path in outputs.items() if _writes_stdout(path)]
    if len(to_stdout) > 1:  # e.g. ghost pushes mixed into the pushes a consumer sends
        raise ValueError(
            f"{' and '.join(to_stdout)} {'both' if len(to_stdout) == 2 else 'all'} write to"
            " standard output, where their lines would mix; name a file for all but one"
        )
    named = [(flag, path) for flag, path in outputs.items() if path != "-"]
    stdin = stdin_file() if input_path == "-" else None
    for flag, path in named:
        if same_file(path, input_path):
            raise ValueError(
                f"{flag} {path!r} is the input file ({input_path!r}): writing it would destroy"
                " the input; name another file"
            )
        if stdin is not None and _identity(path) == stdin:
            raise ValueError(
                f"{flag} {path!r} is the file stdin is read from (--input -): writing it would"
                " destroy the input; name another file"
            )
    check_outputs(outputs)


_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2",
          b"\xfd7zXZ\x00": "xz"}


def compression(path: str) -> str | None:
    """The compression a file's first bytes name (a whole file of dead letters otherwise).

    >>> compression("/etc/hostname") is None
    True
    """
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return None  # the reader's own error says why
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def check_outputs(outputs: dict[str, str]) -> None:
    """Refuse outputs that name each other, are directories or cannot be written; creates
    missing parent folders and missing files (empty), truncates nothing."""
    to_stdout = [flag for flag, path in outputs.items() if _writes_stdout(path)]
    if len(to_stdout) > 1:  # e.g. ghost pushes mixed into the pushes a consumer sends
        raise ValueError(
            f"{' and '.join(to_stdout)} {'both' if len(to_stdout) == 2 else 'all'} write to"
            " standard output, where their lines would mix; name a file for all but one"
        )
    named = [(flag, path) for flag, path in outputs.items() if path != "-"]
    for i, (flag, path) in enumerate(named):
        for other, other_path in named[i + 1 :]:
            if same_file(path, other_path):
                raise ValueError(
                    f"{flag} and {other} name the same file ({path!r}); name two files"
                )
    for flag, path in named:
        target = Path(path)
        if target.is_dir():
            raise ValueError(f"{flag} {path!r} is a directory; name a file in it")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("ab"):
                pass
        except OSError as err:
            raise ValueError(f"{flag} {path!r}: {err.strerror or err}") from None


def truncate(paths: list[str]) -> None:
    """Empty the outputs of a fresh run (after every check passed)."""
    for path in paths:
        if path != "-" and Path(path).is_file():
            try:
                os.truncate(path, 0)
            except OSError as err:
                raise ValueError(f"{path!r}: {err.strerror or err}") from None


def check_port(port: int, flag: str = "--metrics-port") -> None:
    """Refuse a port out of range or already in use (0 = off)."""
    if port == 0:
        return
    if not 0 < port < 65536:
        raise ValueError(f"{flag} {port} is out of range; use 1-65535, or 0 for off")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as err:
            raise ValueError(f"{flag} {port}: {err.strerror or err}") from None


API_SWITCH = "BYTEWAX_DATAFLOW_API_ENABLED"
API_PORT = "BYTEWAX_DATAFLOW_API_PORT"


def check_bytewax_api(metrics_port: int, env: Mapping[str, str] | None = None) -> None:
    """Bytewax serves its API whenever ``BYTEWAX_DATAFLOW_API_ENABLED`` is set (to anything),
    on ``BYTEWAX_DATAFLOW_API_PORT`` (3030). On a port in use its server panics and the job
    runs on without it, its scrape target answered by whoever holds the port: refused here,
    before anything starts, as the job's own port is.

    >>> check_bytewax_api(9100, {"BYTEWAX_DATAFLOW_API_ENABLED": "1",  # doctest: +ELLIPSIS
    ...                          "BYTEWAX_DATAFLOW_API_PORT": "9100"})
    Traceback (most recent call last):
    ...
    ValueError: BYTEWAX_DATAFLOW_API_PORT 9100 is the job's metrics port too (Bytewax's API ...)...
    >>> check_bytewax_api(0, {})  # the API off: nothing to check
    """
    env = os.environ if env is None else env
    if API_SWITCH not in env:
        return
    raw = env.get(API_PORT, "3030")
    why = f"(Bytewax's API is on since {API_SWITCH} is set)"
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ValueError(f"{API_PORT} must be a port from 1 to 65535, got {raw!r} {why}")
    if port == metrics_port:
        raise ValueError(f"{API_PORT} {port} is the job's metrics port too {why}: give them"
                         f" different ports, or unset {API_SWITCH}")
    try:
        check_port(port, API_PORT)
    except ValueError as err:
        raise ValueError(f"{err} {why}: free it, set {API_PORT}, or unset {API_SWITCH}") from None


def why_not_a_file(path: Path) -> str:
    """Why an input path cannot be read as a file (a store resumes at a line offset, which a
    pipe cannot seek to)."""
    if path.is_dir():
        return "is a directory, not a file"
    if path.is_fifo():
        return f"is a pipe (FIFO): read it as stdin, --input - < {path}"
    return "no such file" if not path.exists() else "not a regular file"
