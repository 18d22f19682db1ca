"""The lab's HTML report, opened in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.lab import LabRow
from flows.lab_report import write_report

ROWS = [
    LabRow(
        regime,
        seed,
        {"attention": 0.3 + d, "hindsight": 0.33, "river": 0.29, "control": 0.26,
         "popularity": 0.25, "category_count": 0.27, "spotlight_first": 0.22, "oracle": 0.57},
        {b: {"pushed": 0.25 + 0.02 * n + d, "popularity": 0.24, "category_count": 0.25,
             "oracle": 0.56} for n, b in enumerate(("0", "1-2", "3-9", "10+"))},
        by_time={str(m): {"job": 0.3 + 0.004 * m, "hindsight": 0.36, "popularity": 0.25,
                          "category_count": 0.26, "oracle": 0.57} for m in range(0, 15, 3)},
        calibration=[(0.02 * n + 0.01, 0.021 * n + 0.008, 100) for n in range(10)],
        heatmap={"room_id": "r-001", "users": [f"u-{n}" for n in range(10)],
                 "before_items": [f"sku-{j}" for j in range(8)],
                 "after_items": [f"sku-{j}" for j in range(4, 14)],
                 "before": [[1 / 8] * 8 for _ in range(10)],
                 "after": [[0.3, 0.2, *([0.5 / 8] * 8)] for _ in range(10)]}
        if seed == 1 else None,
        paired={"hindsight": (-0.03 + d, 0.006, 1900, 310), "river": (0.01 + d, 0.005, 1900, 310),
                "popularity": (0.1, 0.008, 1900, 310)},
    )
    for regime, d in (("default", 0.0), ("item-taste", 0.01))
    for seed in (1, 2)
]

# After load, print each image's natural width into the DOM, for --dump-dom to show.
PROBE = """<script>window.addEventListener('load', () => {
  for (const img of document.images) {
    const p = document.createElement('p');
    p.className = 'probe';
    p.textContent = img.id + '=' + img.naturalWidth + 'x' + img.naturalHeight;
    document.body.appendChild(p);
  }
});</script></body>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: deploy/dev test installs it (apt-get install "
                    "chromium)", pytrace=False)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_report_page_loads_its_plots_in_a_browser(tmp_path: Path) -> None:
    page = write_report(ROWS, tmp_path / "report")
    html = page.read_text()
    assert "default" in html and "item-taste" in html and "held-out" in html
    assert "Manipulation" not in html  # only with --attacks
    assert "same actions" in html
    _every_plot_decodes_in_a_browser(page, "roomrank-lab-report.png", {"paired"})


def test_the_attacks_get_their_plot(tmp_path: Path) -> None:
    from dataclasses import replace

    from models.sim.attacks import ATTACKS

    attacks = {a: {"clean_share": 0.15, "share": 0.35 + 0.25 * n, "clean_hr": 0.35,
                   "hr": 0.34, "pushes": 600.0} for n, a in enumerate(ATTACKS)}
    page = write_report([replace(r, attacks=attacks) for r in ROWS], tmp_path / "report")
    assert "Manipulation" in page.read_text()
    _every_plot_decodes_in_a_browser(page, "roomrank-lab-attacks.png",
                                     {"manipulation", "paired"})


def _every_plot_decodes_in_a_browser(page: Path, screenshot: str,
                                     extra: frozenset[str] | set[str] = frozenset()) -> None:
    """Chromium loads the page, every image decodes to a real plot, and a screenshot is
    kept in /tmp for a person to look at."""
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE))
    dom = _run("--virtual-time-budget=5000", "--dump-dom", probed.as_uri()).stdout
    widths = dict(
        probe.split("=") for probe in re.findall(r'<p class="probe">([^<]*)</p>', dom)
    )
    assert set(widths) == {"by-regime", "by-history", "over-time", "calibration", "heatmap",
                           *extra}
    assert all(int(size.split("x")[0]) > 300 for size in widths.values())  # decoded PNGs
    shot = page.with_name("report.png")
    _run(f"--screenshot={shot}", "--window-size=1280,4200", page.as_uri())
    assert shot.stat().st_size > 20_000  # a page with plots, not a blank one
    shutil.copy(shot, Path("/tmp") / screenshot)


def test_evaluate_writes_the_same_page_for_a_users_own_pushes(tmp_path: Path) -> None:
    """``roomrank evaluate --report``: the user's pushes against the peers, by history and
    over time, with the calibration and a heat-map from replaying their events."""
    from tests.flows.test_cli import roomrank

    events, recs = tmp_path / "events.jsonl", tmp_path / "recs.jsonl"
    assert roomrank("simulate", "--seed", "3", "--rooms", "3", "--viewers", "150", "--minutes",
                    "8", "--output", str(events)).returncode == 0
    assert roomrank("run", "--input", str(events), "--output", str(recs), "--dead-letters",
                    str(tmp_path / "dead.jsonl")).returncode == 0
    done = roomrank("evaluate", "--events", str(events), "--recs", str(recs), "--report",
                    str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    assert "HR@3" in done.stdout.decode()  # the table is still printed
    page = tmp_path / "report" / "index.html"
    html = page.read_text()
    assert "roomrank evaluate" in html and "events.jsonl" in html and "seed -1" not in html
    _every_plot_decodes_in_a_browser(page, "roomrank-evaluate-report.png")
