"""The experiment readout's HTML page, from a closed-loop run, opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.flows.test_cli import roomrank
from tests.flows.test_lab_report import PROBE, _run


def test_the_experiment_page_shows_conversion_and_allocation_plots(tmp_path: Path) -> None:
    events, recs, log = (tmp_path / n for n in ("e.jsonl", "r.jsonl", "g.jsonl"))
    done = roomrank(
        "simulate", "--closed-loop", "--seed", "3", "--rooms", "3", "--viewers", "150",
        "--minutes", "10", "--output", str(events), "--recs", str(recs),
        "--experiment-log", str(log),
        "--arms", "attention=0.4,control=0.3,holdout=0.3", "--allocation", "thompson",
        "--allocation-min-pushes", "10",
    )
    assert done.returncode == 0, done.stderr.decode()
    out = tmp_path / "page"
    report = roomrank("experiment", "report", "--events", str(events), "--recs", str(recs),
                      "--experiment-log", str(log), "--html", str(out))
    assert report.returncode == 0, report.stderr.decode()
    page = out / "index.html"
    html = page.read_text()
    assert "Stopping rule" in html and "fixed horizon" in html
    assert all(arm in html for arm in ("attention", "control", "holdout (ghost)"))
    assert "share of assignments" in html  # adaptive allocation: new assignments, not pushes
    probed = page.with_name("probed.html")
    probed.write_text(html.replace("</body>", PROBE))
    dom = _run("--virtual-time-budget=5000", "--dump-dom", probed.as_uri()).stdout
    sizes = dict(probe.split("=") for probe in re.findall(r'<p class="probe">([^<]*)</p>', dom))
    assert set(sizes) == {"conversion", "allocation"}
    assert all(int(size.split("x")[0]) > 300 for size in sizes.values())  # decoded PNGs
    shot = tmp_path / "experiment.png"
    _run(f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri())
    assert shot.stat().st_size > 20_000  # a page with two plots, not a blank one
    shutil.copy(shot, Path("/tmp/roomrank-experiment-report.png"))  # for a person to look at
    for png in ("conversion.png", "allocation.png"):
        shutil.copy(out / png, Path("/tmp") / f"roomrank-experiment-{png}")
