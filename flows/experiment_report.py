"""``roomrank experiment report --html DIR``: the readout as an HTML page with PNG plots.

The page states the stopping rule first, then the table of the single read, then how the
experiment got there: cumulative conversion per arm with its 95 % band, and the allocation
over time. matplotlib (Agg) is imported only here, as in flows/lab_report.py.
"""

from __future__ import annotations

import html
from pathlib import Path

from models.experiment.readout import Readout
from models.experiment.timeline import Timeline

_NAMED = {"attention": "#d62728", "control": "#ff7f0e", "holdout": "#7f7f7f"}  # as in the lab
_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def write_experiment_report(readout: Readout, timeline: Timeline, directory: str | Path) -> Path:
    """Write ``index.html`` and its PNGs into ``directory``; returns the page's path."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    others = (arm for arm in readout.arms if arm not in _NAMED)
    colours = {**{arm: _COLOURS[n % len(_COLOURS)] for n, arm in enumerate(others)}, **_NAMED}
    _conversion(timeline, colours, out / "conversion.png")
    _allocation(timeline, colours, out / "allocation.png")
    table = html.escape(readout.format_table())
    page = out / "index.html"
    page.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>roomrank experiment</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
img{{max-width:100%;border:1px solid #ddd}}
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}</style>
</head><body>
<h1>roomrank experiment readout</h1>
<p><strong>Stopping rule:</strong> {html.escape(readout.stopping_rule)}.
The plots show how the experiment got to its end; reading them to stop early inflates
false winners.</p>
<h2>Per arm</h2>
<pre id="table">{table}</pre>
<p>Conversion is pushes followed by a purchase (of amount &gt; 0) of a pushed item / pushes,
Beta(1, 1) prior, 95 % credible intervals. Ghost arms are holdouts scored on the pushes they
would have got. Under an adaptive allocation the last table (assigned viewers with a
converted push) weights each assigned viewer by 1 / the probability of the assignment (an
arm that led late got the late viewers); read it beside the first.</p>
<h2>Conversion over time (cumulative, 95 % band)</h2>
<img id="conversion" src="conversion.png" alt="cumulative conversion per arm with 95% bands">
<h2>Allocation over time (share of {html.escape(timeline.allocation_of)} per arm)</h2>
<img id="allocation" src="allocation.png" alt="allocation share per arm over time">
</body></html>
""",
        encoding="utf-8",
    )
    return page


def _minutes(timeline: Timeline) -> list[float]:
    start = timeline.ends[0] - (timeline.ends[1] - timeline.ends[0] if len(timeline.ends) > 1
                                else 0)
    return [(t - start) / 60_000 for t in timeline.ends]


def _conversion(timeline: Timeline, colours: dict[str, str], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    xs = _minutes(timeline) if timeline.ends else []
    for arm, values in timeline.conversion.items():
        colour = colours.get(arm)
        ax.plot(xs, values, marker=".", label=arm, color=colour)
        ax.fill_between(xs, timeline.low[arm], timeline.high[arm], color=colour, alpha=0.2)
    ax.set_xlabel("minutes since the first push")
    ax.set_ylabel("conversion (push → purchase)")
    if timeline.conversion:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _allocation(timeline: Timeline, colours: dict[str, str], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5), dpi=100)
    xs = _minutes(timeline) if timeline.ends else []
    for arm, values in timeline.allocation.items():
        ax.plot(xs, values, marker=".", label=arm, color=colours.get(arm))
    ax.set_ylim(0, 1)
    ax.set_xlabel("minutes since the first push")
    ax.set_ylabel(f"share of {timeline.allocation_of}")
    if timeline.allocation:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
