"""``roomrank fit``: choice-model weights from a past stream, for new rooms to start from.

Reads events as ``roomrank run`` does (JSONL, a file or stdin; dead letters skipped and
counted), replays them through the job's own rooms with the run's settings (the vectors and
statistics a feature reads depend on them), fits the weights
(``models.offline.hindsight.fit_stream``) and writes the file ``--choice-weights`` reads
(``models.choice_weights``). The usual loop: fit nightly on yesterday's input topic dumped to
a file, deploy the file with the next restart; rooms already open keep what they started
from (it is in their snapshot), new rooms start from the file.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from flows.evaluate_inputs import check_exists
from flows.preflight import check_file_mode
from flows.settings import Settings
from models import choice_weights
from models.choice_features import FEATURES, PRIORS
from models.offline.hindsight import fit_stream


def _lines(path: str) -> Iterator[bytes]:
    if path == "-":
        yield from (line for line in sys.stdin.buffer if line.strip())
        return
    check_exists("--input", path)
    with open(path, "rb") as fh:
        yield from (line for line in fh if line.strip())


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _write_whole(path: Path, data: bytes) -> None:
    """The file whole or not at all: written beside it, then renamed over it, so a full disk
    leaves the last good weights (or nothing), never a cut file the next deploy would load.
    A symlink's target is replaced, not the link."""
    path = path.resolve()
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def run_fit(settings: Settings, source: str, output: str, epochs: int, min_choices: int,
            max_choices: int, report: IO[str]) -> int:
    if epochs < 1 or min_choices < 1 or max_choices < min_choices:
        raise ValueError("--epochs and --min-choices must be > 0, --max-choices ≥ --min-choices")
    if output != "-" and Path(output).is_dir():
        raise ValueError(f"--output {output!r} is a directory; name the weights file")
    # Before the minutes of fitting: an output naming the input would overwrite the events,
    # one that cannot be written would lose the fit. The check creates a missing file,
    # which a failed fit removes again.
    made = output != "-" and not Path(output).exists()
    check_file_mode(source, {"--output": output})
    # SIGTERM as an exception, so that a fit stopped by it cleans up as Ctrl-C does (by
    # default the signal ends the process at once, leaving the empty file the check made).
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        weights, meta = fit_stream(_lines(source), settings.room, epochs, min_choices,
                                   max_choices)
        data = choice_weights.dumps(weights.tolist(), {**meta, "input": source})
        choice_weights.loads(data)  # a fit the job would refuse is refused here, not at deploy
        if output == "-":
            sys.stdout.write(data.decode())
        else:
            _write_whole(Path(output), data)
    except BaseException:
        if made:
            Path(output).unlink(missing_ok=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(
        f"fitted {len(FEATURES)} weights on {meta['fitted_on_choices']:,} of"
        f" {meta['choices']:,} choices in {meta['rooms']} rooms ({meta['events']:,} events,"
        f" {meta['unusable_lines']:,} unusable lines skipped)",
        file=report,
    )
    for name, value in zip(FEATURES, weights.tolist(), strict=True):
        print(f"  {name:<18}{value:>8.3f}  (prior {PRIORS.get(name, 0.0):g})", file=report)
    return 0
