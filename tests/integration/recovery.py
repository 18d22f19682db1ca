"""Recovery tests' choreography: kill the job mid-stream after a snapshot, restart it.

`sigkill_and_restart` is the whole of it; `resume_offsets` reads where a restart would
resume from Bytewax's recovery store, so a test can place every push before or after the
snapshot it restores.
"""

from __future__ import annotations

import pickle
import signal
import sqlite3
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from tests.integration.harness import (
    DEADLINE,
    JOB_START,
    SOURCE_STEP,
    Job,
    TopicReader,
    Topics,
    content,
    fail_with_logs,
    produce,
    rec_id,
    values,
    wait_for,
)

Records = list[tuple[bytes, bytes]]  # (key, value) in production order


def resume_offsets(recovery_dir: Path, timeout: float = 10.0) -> dict[int, int]:
    """The input offsets a restart would resume from, read from Bytewax's recovery store.

    As Bytewax 0.21.1 computes it (`src/recovery.rs`): the resume epoch is the lowest worker
    frontier of the latest execution (a worker without a frontier yet counts as at that
    execution's own resume epoch), and each state key restores its newest snapshot taken
    before that epoch. For the Kafka source a state key is a partition and its snapshot
    the next offset to read (pickled int). Empty until the first epoch is durable.
    """
    offsets: dict[int, int] = {}
    for path in sorted(recovery_dir.glob("part-*.sqlite3")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)) as db:
            latest = db.execute(
                "SELECT ex_num, worker_count, resume_epoch FROM exs ORDER BY ex_num DESC LIMIT 1"
            ).fetchone()
            if latest is None:
                continue
            ex_num, workers, resume_epoch = latest
            fronts = dict(
                db.execute(
                    "SELECT worker_index, worker_frontier FROM fronts WHERE ex_num = ?", (ex_num,)
                ).fetchall()
            )
            resume_epoch = min(max(resume_epoch, fronts.get(w, 0)) for w in range(workers))
            rows = db.execute(
                "WITH max_epoch_snaps AS (SELECT step_id, state_key, MAX(snap_epoch) AS snap_epoch"
                "  FROM snaps WHERE snap_epoch < ? GROUP BY step_id, state_key)"
                " SELECT state_key, ser_change FROM snaps"
                " JOIN max_epoch_snaps USING (step_id, state_key, snap_epoch)"
                " WHERE step_id = ?",
                (resume_epoch, SOURCE_STEP),
            ).fetchall()
            offsets.update({int(key): pickle.loads(blob) for key, blob in rows if blob})
    return offsets


def wait_for_resume_point(
    recovery_dir: Path, ends: dict[int, int], jobs: Sequence[Job], timeout: float = DEADLINE
) -> dict[int, int]:
    """Wait until a durable snapshot has read every partition up to `ends`."""

    def covered() -> dict[int, int] | None:
        offsets = resume_offsets(recovery_dir)
        return offsets if all(offsets.get(p, 0) >= end for p, end in ends.items()) else None

    return wait_for(covered, f"a snapshot covering input offsets {ends}", timeout, jobs)


def end_offsets(positions: Iterable[tuple[int, int]]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in positions:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


class Feed:
    """The input topic of a recovery test: produces parts of the stream and remembers where
    each event went, to tell whether a restart from a snapshot reads its trigger again."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.where: dict[str, tuple[int, int]] = {}  # event_id -> (partition, offset)
        self.sent: dict[int, int] = {}  # partition -> end offset of what was produced

    def send(self, part: Records) -> None:
        positions = produce(self.bootstrap, self.topic, part)
        for (_key, value), position in zip(part, positions, strict=True):
            # A redelivered event's first copy is the one the room applies (later copies are
            # duplicates), so it is where that event's pushes come from.
            self.where.setdefault(orjson.loads(value)["event_id"], position)
        for partition, end in end_offsets(positions).items():
            self.sent[partition] = max(end, self.sent.get(partition, 0))

    def beyond(self, outputs: list[dict[str, Any]], resume: dict[int, int]) -> list[dict[str, Any]]:
        """Outputs (pushes, experiment records) whose trigger a restart from `resume` reads
        again: they must come again."""
        return [
            o
            for o in outputs
            if self.where[o["trigger_id"]][1] >= resume.get(self.where[o["trigger_id"]][0], 0)
        ]

    def kill_beyond_a_snapshot(
        self, job: Job, readers: Sequence[TopicReader], recovery: Path, records: Records
    ) -> Records:
        """Produce `records` in chunks, the next one only once a snapshot covers all sent
        so far, until every reader has read an output whose trigger lies beyond the
        snapshot a restart would resume from; then SIGKILL the job. It is frozen (SIGSTOP)
        to check that against the store, so no snapshot can land between the check and
        the kill. Returns the records not produced."""
        chunks = [records[n : n + 100] for n in range(0, len(records), 100)]
        deadline = time.monotonic() + DEADLINE

        def everywhere(resume: dict[int, int]) -> bool:
            return all(self.beyond(values(r.records), resume) for r in readers)

        while True:
            job.check()
            if time.monotonic() > deadline:
                fail_with_logs("no output was read before a snapshot covered its trigger", [job])
            resume = resume_offsets(recovery)
            if chunks and all(resume.get(p, 0) >= end for p, end in self.sent.items()):
                self.send(chunks.pop(0))
                continue
            for reader in readers:
                reader.poll(0.05)
            if not everywhere(resume):
                continue
            job.proc.send_signal(signal.SIGSTOP)
            if everywhere(resume_offsets(recovery)):
                job.kill()
                return [record for chunk in chunks for record in chunk]
            job.proc.send_signal(signal.SIGCONT)


@dataclass(frozen=True)
class Restarted:
    """What a kill and a restart left, per topic watched (the output topic first)."""

    feed: Feed
    first_snapshot: dict[int, int]  # input end offsets of part 1, snapshotted before the kill
    resume: dict[int, int]  # the input offsets the restart resumed from
    before: list[list[SimpleNamespace]]  # as the killed run left it
    final: list[list[SimpleNamespace]]  # once the restart had read and snapshotted all input
    second: Job  # the restarted job, still running

    @property
    def records(self) -> list[SimpleNamespace]:
        """The output topic at the end."""
        return self.final[0]

    def after(self, topic: int = 0) -> list[dict[str, Any]]:
        """What the restarted job delivered."""
        delivered = {(r.partition, r.offset) for r in self.before[topic]}
        return values(r for r in self.final[topic] if (r.partition, r.offset) not in delivered)

    def assert_delivered_again(
        self, topic: int = 0, key: Callable[[dict[str, Any]], Hashable] = rec_id
    ) -> int:
        """What the killed run delivered past the snapshot the restart resumed from (its
        trigger is read again) the restart delivered again, identical but for `emitted_at`.
        Returns how many records that was: more than 0 means the kill was mid-stream."""
        must = {key(r): content(r) for r in self.feed.beyond(values(self.before[topic]),
                                                             self.resume)}
        again = {key(r): content(r) for r in self.after(topic)}
        assert {k: again.get(k) for k in must} == must
        return len(must)


def sigkill_and_restart(
    bootstrap: str,
    topics: Topics,
    argv: list[str],
    spawn: Callable[..., Job],
    recovery: Path,
    parts: tuple[Records, Records, Records],
    watch: Sequence[str] = (),
) -> Restarted:
    """Run `argv` (a job with `--recovery-dir recovery`) over the stream in three parts: the
    first is snapshotted, the job is SIGKILLed during the second once a push (and an
    output on each `watch` topic) lies beyond the snapshot, the third is produced only
    after the kill (so the kill is mid-stream by construction). Then the job is started
    again and runs until a snapshot covers the whole input: every output of it is then in
    Kafka (the sinks flush before an epoch's snapshot), whether or not it is right."""
    part1, part2, part3 = parts
    feed = Feed(bootstrap, topics.input)
    feed.send(part1)
    first = spawn("recovery-1", argv)
    watched = (topics.output, *watch)
    readers = [TopicReader(bootstrap, topic, [first]) for topic in watched]
    try:
        readers[0].wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)
        # Part 1 read and durably snapshotted: the learners' state after it is what restores.
        first_snapshot = wait_for_resume_point(recovery, dict(feed.sent), [first])
        rest = feed.kill_beyond_a_snapshot(first, readers, recovery, part2)
    finally:
        for reader in readers:
            reader.close()
    before = [read_all(bootstrap, topic) for topic in watched]  # what the first run delivered
    resume = resume_offsets(recovery)
    feed.send(rest + part3)  # the rest of the stream
    second = spawn("recovery-2", argv)
    wait_for_resume_point(recovery, dict(feed.sent), [second], JOB_START + DEADLINE)
    final = [read_all(bootstrap, topic) for topic in watched]
    return Restarted(feed, first_snapshot, resume, before, final, second)


def read_all(bootstrap: str, topic: str) -> list[SimpleNamespace]:
    with TopicReader(bootstrap, topic) as reader:
        return reader.read_to_end()
