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


def _attacks(shapes: tuple[str, ...], d: float = 0.0) -> dict[str, dict[str, float]]:
    """What ``flows.lab.attacked`` gives, a different HR@3 under each shape."""
    return {a: {"clean_share": 0.9 if a == "demote" else 0.15,
                "share": 0.3 if a == "demote" else 0.35 + 0.1 * n,
                "clean_hr": 0.36 + d, "hr": 0.34 - 0.02 * n + d, "pushes": 600.0}
            for n, a in enumerate(shapes)}


def test_the_attacks_get_their_plots(tmp_path: Path) -> None:
    from dataclasses import replace

    from models.sim.attacks import ATTACKS

    rows = [replace(r, attacks=_attacks(ATTACKS)) for r in ROWS]
    page = write_report(rows, tmp_path / "report")
    html = page.read_text()
    assert "Manipulation: the attacked item" in html
    assert "Manipulation: the other viewers' HR@3" in html
    assert all(f"<code>{a}</code>: " in html for a in ATTACKS)  # every shape run is named
    _every_plot_decodes_in_a_browser(page, "roomrank-lab-attacks.png",
                                     {"manipulation", "manipulation-hr", "paired"},
                                     height=5600)


def test_the_others_hr_is_drawn_for_the_shapes_measured_only(tmp_path: Path) -> None:
    """Rows of an older run (or a subset): only the shapes in them, their means per regime;
    no share plot when no shape in them steers an item."""
    from dataclasses import replace

    from flows.lab_report import _others_hr, _shares

    rows = [replace(r, attacks=_attacks(("poison", "click-farm"), d=0.01 * r.seed))
            for r in ROWS]
    series = _others_hr(rows)
    assert [label for label, _, _ in series] == ["clean", "click-farm", "poison"]
    clean, farm, poison = (values for _, _, values in series)
    # per regime (default, item-taste), the mean over seeds 1 and 2 (d = 0.01, 0.02)
    assert clean == pytest.approx([0.375, 0.375])
    assert poison == pytest.approx([0.355, 0.355])
    assert farm == pytest.approx([0.335, 0.335])
    assert [label for label, _, _ in _shares(rows)] == ["clean", "click farm"]

    only = [replace(r, attacks=_attacks(("poison",))) for r in ROWS]
    assert _shares(only) == []
    page = write_report(only, tmp_path / "report")
    html = page.read_text()
    assert (tmp_path / "report" / "manipulation_hr.png").stat().st_size > 10_000
    assert not (tmp_path / "report" / "manipulation.png").exists()
    assert 'id="manipulation"' not in html and 'id="manipulation-hr"' in html
    assert "<code>poison</code>: " in html and "<code>demote</code>: " not in html


def _every_plot_decodes_in_a_browser(page: Path, screenshot: str,
                                     extra: frozenset[str] | set[str] = frozenset(),
                                     height: int = 4200) -> None:
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
    _run(f"--screenshot={shot}", f"--window-size=1280,{height}", page.as_uri())
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


def test_every_attack_shape_has_a_colour_of_its_own() -> None:
    """A shape drawn in another's colour, or in the clean bars' grey, reads as that one."""
    from dataclasses import replace

    from flows.lab_report import _SHAPE_COLOURS, _others_hr
    from models.sim.attacks import ATTACKS

    rows = [replace(r, attacks=_attacks(ATTACKS)) for r in ROWS]
    colours = [colour for _, colour, _ in _others_hr(rows)]  # the clean bars first
    assert set(ATTACKS) <= set(_SHAPE_COLOURS) and None not in colours
    assert len(set(colours)) == len(colours) == len(ATTACKS) + 1
