"""The dataflow as ``bytewax.run`` deploys it, configured from ``ROOMRANK_*`` variables.

    python -m bytewax.run flows.deployed:flow -w 1 -i 0 -a "host0:2101;host1:2101" \
        -r /var/lib/roomrank/recovery -s 30 -b 60

Kafka mode when ``ROOMRANK_BROKERS`` is set; otherwise file mode from ``ROOMRANK_INPUT``,
``ROOMRANK_OUTPUT`` and ``ROOMRANK_DEAD_LETTERS`` (used by the multi-process tests), and
optionally ``ROOMRANK_EXPERIMENT_LOG`` (ghost pushes of holdout arms). The store ``-r`` names
is checked and claimed as ``roomrank run`` does its own (``flows.deployed_store``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from bytewax.dataflow import Dataflow

from flows.deployed_store import (
    bytewax_run_args,
    check_input,
    check_store,
    check_topic,
    deployed_settings,
    store_of,
)
from flows.jobs import file_flow, kafka_flow, prepare
from flows.preflight import check_file_mode, truncate, why_not_a_file
from flows.recovery_store import check_topic_name, resuming


def _build() -> Dataflow:
    args = bytewax_run_args()
    store = store_of(args)
    settings = deployed_settings(store)
    prepare(settings)
    holds = check_store(settings, cluster=bool(args and args.addresses))
    if args is not None and args.addresses:  # else a peer that never comes is a silent wait
        peers = args.addresses.split(";")
        logging.getLogger("roomrank").info(
            "process %s of %d: waiting for the cluster (%s); the dataflow starts when every"
            " process has joined", args.process_id, len(peers), args.addresses)
    if settings.brokers:
        if holds:
            check_topic_name(settings, resuming(settings))  # before any topic is made
        flow = kafka_flow(settings)  # makes the topics that are missing
        if holds:
            check_topic(settings)
        return flow
    paths = [
        os.environ.get(name, "")
        for name in ("ROOMRANK_INPUT", "ROOMRANK_OUTPUT", "ROOMRANK_DEAD_LETTERS")
    ]
    if not all(paths):
        raise SystemExit(
            "flows.deployed: set ROOMRANK_BROKERS (Kafka mode) or ROOMRANK_INPUT,"
            " ROOMRANK_OUTPUT and ROOMRANK_DEAD_LETTERS (file mode)"
        )
    input_path, output, dead_letters = paths
    given = Path(input_path)
    if input_path != "-" and not (given.is_file() or given.is_fifo()):  # a pipe: read as it comes
        raise ValueError(f"ROOMRANK_INPUT {input_path!r}: {why_not_a_file(given)}")
    experiment_log = os.environ.get("ROOMRANK_EXPERIMENT_LOG") or None
    # As ``roomrank run`` does: an output naming the input would be appended to it.
    outputs = {"ROOMRANK_OUTPUT": output, "ROOMRANK_DEAD_LETTERS": dead_letters}
    if experiment_log:
        outputs["ROOMRANK_EXPERIMENT_LOG"] = experiment_log
    check_file_mode(input_path, outputs)
    if holds:
        check_input(settings, input_path)
    # One process starting afresh empties its outputs, as `roomrank run` does. In a cluster
    # a process with no partitions cannot tell a start from a resume: it appends.
    if args is not None and not args.addresses and not resuming(settings):
        truncate(list(outputs.values()))
    return file_flow(settings, input_path, output, dead_letters, experiment_log)


def _flow() -> Dataflow:
    """A bad setting is one line and exit 2, as from ``roomrank run`` (the runbook's promise),
    not the traceback ``bytewax.run`` would print around it."""
    try:
        return _build()
    except (ValueError, OSError) as err:
        print(f"flows.deployed: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


flow = _flow()
