"""The file source under a partition name that does not depend on how the file is named.

Bytewax keys a source partition's resume state by the partition's name, and ``JsonlSource``
names its one partition after the path it was given. A run resumed with ``--input ./x``
after ``--input x`` (or through a symlink) then finds state under a key it does not list and
panics. Here the partition is always ``file``: the resume state is a line number, valid
whatever the file is called.
"""

from __future__ import annotations

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.connectors.files import JsonlSource, RawRecord

PART = "file"


class StableInput(FixedPartitionedSource[RawRecord, int]):
    def __init__(self, source: JsonlSource) -> None:
        self.source = source

    def list_parts(self) -> list[str]:
        return [PART]

    def build_part(
        self, step_id: str, for_part: str, resume_state: int | None
    ) -> StatefulSourcePartition[RawRecord, int]:
        return self.source.build_part(step_id, self.source.path, resume_state)
