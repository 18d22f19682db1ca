"""The recovery store of the cluster entrypoint (``bytewax.run flows.deployed:flow -r DIR``),
held to the rules ``roomrank run`` keeps for its own.

``bytewax.run`` takes the store from its own flags (``-r``, or
``BYTEWAX_RECOVERY_DIRECTORY``) and opens it after the dataflow is built, so the
entrypoint reads those flags itself, and checks the store first, as ``roomrank run`` does:
a store laid out by other settings, one another run holds, or one written reading another
input (a file, or a topic deleted and made again) is refused in one line, before anything
starts. Without that, a resume with another input skips as many of its messages as the
store had read, without a word.

A cluster keeps its partitions on one process's volume (``deploy/k8s``): a process whose
directory holds no partitions has no store to check, and says nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

from bytewax.recovery import init_db_dir

from flows.recovery_store import (
    PARTITIONS,
    check_recovery_dir,
    check_resumed_input,
    claim_store,
    note_input,
    note_or_check_topic,
    resuming,
    topic_id,
)
from flows.resume_split import warn_changed_split
from flows.settings import SETTINGS, Settings

_HELD = contextlib.ExitStack()  # the store's lock, held until the process ends


def bytewax_run_args() -> argparse.Namespace | None:
    """``bytewax.run``'s own arguments, when it is what imports the flow (it parsed them
    already, so they are valid); None under ``bytewax.testing`` or an import."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is None or spec.name != "bytewax.run":
        return None
    from bytewax.run import _parse_args

    return _parse_args()


def store_of(args: argparse.Namespace | None, env: dict[str, str] | None = None) -> str:
    """The store's directory ("" for none). ``ROOMRANK_RECOVERY_DIR`` is ``roomrank run``'s:
    here it is refused unless it names the store ``-r`` gives, rather than ignored."""
    env = dict(os.environ) if env is None else env
    given = str(args.recovery_directory) if args and args.recovery_directory else ""
    ours = env.get("ROOMRANK_RECOVERY_DIR", "")
    if ours and not given:
        raise ValueError(
            f"ROOMRANK_RECOVERY_DIR {ours!r} is roomrank run's and is not read here: bytewax.run"
            " takes its store from -r (or BYTEWAX_RECOVERY_DIRECTORY), and none is given, so"
            " this run would keep no state. Give the store with -r"
        )
    if ours and os.path.abspath(ours) != os.path.abspath(given):
        raise ValueError(
            f"ROOMRANK_RECOVERY_DIR {ours!r} names another store than -r {given!r}: bytewax.run"
            " uses -r. Unset ROOMRANK_RECOVERY_DIR, or make them agree"
        )
    return given


def deployed_settings(store: str) -> Settings:
    """The settings, every one named by its variable (the entrypoint has no flags) and the
    store by ``-r``, so that a refusal names what to change here."""
    settings = Settings.load({"recovery_dir": store} if store else None)
    names = {s.name: s.env for s in SETTINGS}
    return dataclasses.replace(settings, given={**names, "recovery_dir": "-r"})


def check_store(settings: Settings, cluster: bool) -> bool:
    """Check and claim the store; True when this process holds its partitions (it is the
    one that resumes). A single process given an empty or missing directory gets one
    partition, as ``roomrank run`` makes; a cluster's must be made for all processes first
    (``python -m bytewax.recovery DIR N``)."""
    if not settings.recovery_dir:
        return False
    path = Path(settings.recovery_dir)
    held = any(path.glob(PARTITIONS))
    if held or not cluster or (path.exists() and not path.is_dir()):
        check_recovery_dir(settings)  # a file; rooms laid out by other settings; damage
    if not held:
        if cluster:
            return False  # its partitions live on another process's volume (whatever else)
        path.mkdir(parents=True, exist_ok=True)
        init_db_dir(path, 1)
    _HELD.enter_context(claim_store(settings))
    return True


def check_input(settings: Settings, input_path: str) -> None:
    """File mode: the store's note of its input, checked on a resume, written on a start;
    then a resume under another split of viewers is said (``flows.resume_split``)."""
    if resuming(settings):
        check_resumed_input(settings, input_path, "ROOMRANK_INPUT")
        if input_path != "-":
            note_input(settings, input_path)
    else:
        note_input(settings, input_path)
    warn_changed_split(settings)  # once the resume is accepted: said, not refused


def check_topic(settings: Settings) -> None:
    """Kafka mode: the input topic's name and id, checked on a resume, noted on a start;
    then a resume under another split of viewers is said (``flows.resume_split``)."""
    note_or_check_topic(settings, resuming(settings),
                        topic_id(settings.brokers, settings.input_topic))
    warn_changed_split(settings)  # once the resume is accepted: said, not refused

