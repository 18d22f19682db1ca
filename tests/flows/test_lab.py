"""``roomrank lab``: the real job on simulated regimes, scored against peers and the oracle."""

from __future__ import annotations

from flows.lab import COLUMNS, format_lab, run_lab
from models.offline.evaluation import ORACLE


def test_the_lab_scores_the_job_and_every_peer_below_the_oracle() -> None:
    rows = run_lab(seeds=(4,), rooms=3, viewers=80, minutes=6.0, regimes=("default", "held-out"))
    assert [r.regime for r in rows] == ["default", "held-out"]
    for row in rows:
        assert set(row.hr) >= set(COLUMNS) - {"control"}
        assert all(0.0 <= v <= 1.0 for v in row.hr.values())
        # the world's own utility ranks its viewers' actions better than the room's peers
        # (scored on the same pairs; an arm's few pairs may fluke higher in a tiny world)
        assert row.hr[ORACLE] > max(row.hr["popularity"], row.hr["spotlight_first"])
    table = format_lab(rows)
    assert "default" in table and "held-out" in table and "/oracle" in table
