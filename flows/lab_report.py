"""``roomrank lab --report DIR``: the lab's results as an HTML page with PNG plots.

A page people open: HR@3 of the job and every peer per regime, and HR@3 by the viewer's
history in the room (a model that does not rise with history is failing). matplotlib draws the
PNGs (Agg backend, no display); it is imported only here, so the job never pays for it.
"""

from __future__ import annotations

import html
import statistics
from pathlib import Path

from flows.lab import COLUMNS, LabRow, format_lab
from models.offline.evaluation import HISTORY_BUCKETS

_COLOURS = {
    "attention": "#d62728",
    "control": "#ff7f0e",
    "popularity": "#1f77b4",
    "category_count": "#2ca02c",
    "spotlight_first": "#9467bd",
    "oracle": "#7f7f7f",
}


def write_report(rows: list[LabRow], directory: str | Path) -> Path:
    """Write ``index.html`` and its PNGs into ``directory``; returns the page's path."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    regimes = list(dict.fromkeys(r.regime for r in rows))
    _bars(rows, regimes, out / "hr_by_regime.png")
    _history(rows, out / "hr_by_history.png")
    table = html.escape(format_lab(rows))
    page = out / "index.html"
    page.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>roomrank lab</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
img{{max-width:100%;border:1px solid #ddd}}pre{{background:#f6f6f6;padding:1em}}</style>
</head><body>
<h1>roomrank lab: the job against its peers and the oracle</h1>
<p>{len(rows)} worlds: {len(regimes)} regimes &times; {len(rows) // max(len(regimes), 1)} seeds.
HR@3 is the share of clicks, carts and purchases whose item was in the viewer's latest push
(or in the peer's top 3 for that push), scored on the same pairs for every ranker.
The <code>held-out</code> regime is for the end of a piece of model work only.</p>
<h2>HR@3 per regime</h2>
<img id="by-regime" src="hr_by_regime.png" alt="HR@3 per regime and ranker">
<h2>HR@3 by the viewer's earlier actions in the room</h2>
<img id="by-history" src="hr_by_history.png" alt="HR@3 by history bucket">
<h2>Table</h2>
<pre>{table}</pre>
</body></html>
""",
        encoding="utf-8",
    )
    return page


def _bars(rows: list[LabRow], regimes: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    width = 0.8 / len(COLUMNS)
    for n, column in enumerate(COLUMNS):
        values = [
            statistics.fmean(r.hr.get(column, 0.0) for r in rows if r.regime == name)
            for name in regimes
        ]
        xs = [i + (n - len(COLUMNS) / 2) * width + width / 2 for i in range(len(regimes))]
        ax.bar(xs, values, width, label=column, color=_COLOURS.get(column))
    ax.set_xticks(range(len(regimes)), regimes, rotation=15)
    ax.set_ylabel("HR@3")
    ax.legend(ncols=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _history(rows: list[LabRow], path: Path) -> None:
    import matplotlib.pyplot as plt

    buckets = [label for _, label in HISTORY_BUCKETS]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for column in ("pushed", "popularity", "category_count", "oracle"):
        values = [
            statistics.fmean(r.by_history.get(b, {}).get(column, float("nan")) for r in rows)
            for b in buckets
        ]
        ax.plot(buckets, values, marker="o", label=column,
                color=_COLOURS.get("attention" if column == "pushed" else column))
    ax.set_xlabel("the viewer's earlier actions in the room")
    ax.set_ylabel("HR@3 (all arms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
