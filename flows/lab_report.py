"""``roomrank lab --report DIR``: the lab's results as an HTML page with PNG plots.

A page people open: HR@3 of the job and every peer per regime; HR@3 by the viewer's history in
the room (a model that does not rise with history is failing); HR@3 over the world's time
(does the online model close on its hindsight bound as the rooms learn?); the calibration of
the choice model's probabilities; the job minus each peer on the same actions, with its
95 % interval; one room's attention over a showcase change; and, with
``--attacks``, how far manipulators moved the other viewers' pushes and what each attack
shape cost those viewers' HR@3. matplotlib
draws the PNGs (Agg backend, no display); it is imported only here, so the job never pays.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flows.lab import COLUMNS, LabRow, format_lab
from models.offline.evaluation import HISTORY_BUCKETS
from models.offline.paired import Z95, Paired, pooled
from models.sim.attacks import ATTACKS

_COLOURS = {
    "attention": "#d62728",
    "control": "#ff7f0e",
    "popularity": "#1f77b4",
    "category_count": "#2ca02c",
    "spotlight_first": "#9467bd",
    "oracle": "#7f7f7f",
    "hindsight": "#8c564b",
    "warm": "#bcbd22",
    "river": "#e377c2",
    "river_fm": "#17becf",
    "population": "#aec7e8",
    "job": "#d62728",
}


LAB_HEADING = "roomrank lab: the job against its peers and the oracle"


def write_report(rows: list[LabRow], directory: str | Path, heading: str = LAB_HEADING,
                 intro: str | None = None) -> Path:
    """Write ``index.html`` and its PNGs into ``directory``; returns the page's path.
    ``intro``: the page's first paragraph (HTML; default: the lab's worlds)."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    regimes = list(dict.fromkeys(r.regime for r in rows))
    _bars(rows, regimes, out / "hr_by_regime.png")
    _history(rows, out / "hr_by_history.png")
    _over_time(rows, out / "hr_over_time.png")
    _calibration(rows, out / "calibration.png")
    paired_columns = [c for c in _PAIRED_PLOTTED if any(c in r.paired for r in rows)]
    if paired_columns:
        _paired(rows, regimes, paired_columns, out / "paired.png")
    attacked = [r for r in rows if r.attacks]
    shares = _shares(attacked) if attacked else []
    if shares:
        _grouped_bars(_regimes(attacked), shares, out / "manipulation.png",
                      "share of the others' pushes holding the item", ylim=(0.0, 1.0),
                      # above the axes: demote's clean bar reaches 0.9
                      legend={"ncols": 6, "loc": "lower left", "bbox_to_anchor": (0.0, 1.0)})
    others = _others_hr(attacked) if attacked else []
    if others:
        top = max((v for _, _, values in others for v in values if v == v), default=0.0)
        _grouped_bars(_regimes(attacked), others, out / "manipulation_hr.png",
                      "the other viewers' HR@3", ylim=(0.0, max(top, 0.05) * 1.4),
                      legend={"ncols": 4, "loc": "upper left"})
    heatmap = next((r.heatmap for r in rows if r.heatmap), None)
    if heatmap is not None:
        _heatmap(heatmap, out / "attention_heatmap.png")
    heat_html = (
        f"""<h2>One room's attention over a showcase change ({html.escape(heatmap["room_id"])},
{html.escape(rows[0].regime)}{f" seed {rows[0].seed}" if rows[0].seed >= 0 else ""})</h2>
<p>Each row is a viewer present before and after the host changed the showcase; each cell the
attention softmax(q&middot;K) of that viewer on that item (rows sum to 1).</p>
<img id="heatmap" src="attention_heatmap.png" alt="attention heat-map over a showcase change">"""
        if heatmap is not None else "<p>No showcase change with enough viewers to draw.</p>"
    )
    table = html.escape(format_lab(rows))
    lab_intro = (
        f"{len(rows)} worlds: {len(regimes)} regimes &times; {len(rows) // max(len(regimes), 1)}"
        " seeds. HR@3 is the share of clicks, carts and purchases whose item was in the viewer's"
        " latest push (or in the peer's top 3 for that push), scored on the same pairs for every"
        " ranker. The <code>held-out</code> regime is for the end of a piece of model work only."
    )
    page = out / "index.html"
    page.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(heading)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
img{{max-width:100%;border:1px solid #ddd}}
pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style>
</head><body>
<h1>{html.escape(heading)}</h1>
<p>{intro or lab_intro}</p>
<h2>HR@3 per regime</h2>
<img id="by-regime" src="hr_by_regime.png" alt="HR@3 per regime and ranker">
<h2>HR@3 by the viewer's earlier actions in the room</h2>
<img id="by-history" src="hr_by_history.png" alt="HR@3 by history bucket">
<h2>HR@3 over the world's time (all arms, every regime and seed)</h2>
<img id="over-time" src="hr_over_time.png" alt="HR@3 over time per ranker">
<h2>Calibration of the choice model (before it learned each choice)</h2>
<p>For every item on show when a viewer chose, the probability the model gave it, in deciles,
against the share of those items that were the one chosen.</p>
<img id="calibration" src="calibration.png" alt="calibration of the choice probabilities">
{_PAIRED_HTML if paired_columns else ""}
{heat_html}
{_manipulation_html(attacked, bool(shares)) if attacked else ""}
<h2>Table</h2>
<pre>{table}</pre>
</body></html>
""",
        encoding="utf-8",
    )
    return page


_PAIRED_HTML = """<h2>The job minus each column, on the same actions</h2>
<p>Per regime, the job's HR@3 minus each column's on the actions both were scored on (attention
arm), averaged over the seeds; the whiskers are the 95 % interval, clustered by viewer
(<code>models/offline/paired.py</code>). Above 0: the job is ahead; a whisker across 0: the
difference may be chance.</p>
<img id="paired" src="paired.png" alt="the job minus each column with 95 % intervals">"""
_PAIRED_PLOTTED = ("hindsight", "warm", "river", "river_fm", "population", "popularity",
                   "category_count")


def _paired(rows: list[LabRow], regimes: list[str], columns: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    width = 0.8 / len(columns)
    for n, column in enumerate(columns):
        both = [pooled([Paired(*r.paired[column]) for r in rows
                        if r.regime == name and column in r.paired]) for name in regimes]
        xs = [i + (n - len(columns) / 2) * width + width / 2 for i in range(len(regimes))]
        ax.bar(xs, [b.diff for b in both], width, yerr=[Z95 * b.se for b in both],
               capsize=2, label=f"job − {column}", color=_COLOURS.get(column))
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(regimes)), regimes, rotation=15)
    ax.set_ylabel("HR@3 difference (attention arm)")
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# What each shape of models/sim/attacks.py does, for the page (a shape not named here is shown
# by its name only).
_SHAPES = {
    "one-vote": "one account clicks the last item of each showcase once and carts it once",
    "click-farm": "one account clicks that item every 3 s, carting every fifth click",
    "sybil": "twenty accounts take turns at that pace",
    "id-squat": "one account sends a heartbeat carrying the next showcase's event_id",
    "clock-jump": "two accounts send heartbeats 599 s ahead of the room's time, every 10 s",
    "clock-hold": "60 accounts send heartbeats stamped with the showcase's own time, every 10 s",
    "poison": "20 fresh accounts per showcase each click a cold item, cart another and click"
              " a third",
    "demote": "20 fresh accounts per showcase click every item on show but the one the room"
              " pushed most",
    "sleeper": "poison's 20 accounts per showcase, each established first: in the showcase"
               " before, it clicked the item the room pushed most there",
    "paying-sleeper": "sleeper's accounts, each buying the item it would cart",
}
# The shapes that vote for the last item of each showcase, (shape, label, colour): their clean
# share is that item's share on the clean stream, the same for all three.
_STEERING = (("one-vote", "one vote", "#2ca02c"), ("click-farm", "click farm", "#d62728"),
             ("sybil", "20 sybils", "#9467bd"))
_SHAPE_COLOURS = {
    "one-vote": "#2ca02c", "click-farm": "#d62728", "sybil": "#9467bd", "id-squat": "#1f77b4",
    "clock-jump": "#17becf", "clock-hold": "#393b79", "poison": "#8c564b", "demote": "#ff7f0e",
    "sleeper": "#e377c2", "paying-sleeper": "#bcbd22",
}
Series = list[tuple[str, str | None, list[float]]]  # (label, colour, a value per regime)


def _regimes(rows: list[LabRow]) -> list[str]:
    return list(dict.fromkeys(r.regime for r in rows))


def _mean(values: Iterable[float]) -> float:
    """The mean, or NaN (no bar) where a regime's rows did not measure it."""
    kept = list(values)
    return statistics.fmean(kept) if kept else float("nan")


def _shapes(rows: list[LabRow]) -> list[str]:
    """The shapes the rows measured: models.sim.attacks' order, then any other in row order."""
    seen = list(dict.fromkeys(shape for r in rows for shape in r.attacks))
    return [a for a in ATTACKS if a in seen] + [a for a in seen if a not in ATTACKS]


def _shares(rows: list[LabRow]) -> Series:
    """Per regime, the share of the other viewers' pushes during an attack holding its item:
    clean, and under each shape that steers one item (the three that vote for it; ``demote``,
    against the item the room pushed most, with that item's own clean share). Empty when the
    rows measured none of them."""
    regimes, shapes = _regimes(rows), _shapes(rows)
    steering = [(a, label, colour) for a, label, colour in _STEERING if a in shapes]

    def share(attack: str, key: str) -> list[float]:
        return [_mean(r.attacks[attack][key] for r in rows
                      if r.regime == name and attack in r.attacks) for name in regimes]

    series: Series = []
    if steering:
        series.append(("clean", "#7f7f7f", share(steering[0][0], "clean_share")))
        series += [(label, colour, share(a, "share")) for a, label, colour in steering]
    if "demote" in shapes:
        series += [("most pushed item, clean", "#ffbb78", share("demote", "clean_share")),
                   ("most pushed item, demote", _SHAPE_COLOURS["demote"],
                    share("demote", "share"))]
    return series


def _others_hr(rows: list[LabRow]) -> Series:
    """Per regime, the other viewers' HR@3 on the clean world and under each shape the rows
    measured (mean over the seeds; a row's clean HR@3 is the same for every shape)."""
    regimes, shapes = _regimes(rows), _shapes(rows)
    if not shapes:
        return []
    clean = [_mean(_mean(a["clean_hr"] for a in r.attacks.values())
                   for r in rows if r.regime == name and r.attacks) for name in regimes]
    return [("clean", "#7f7f7f", clean)] + [
        (shape, _SHAPE_COLOURS.get(shape), [
            _mean(r.attacks[shape]["hr"] for r in rows if r.regime == name and shape in r.attacks)
            for name in regimes])
        for shape in shapes]


_SHARE_HTML = """<h2>Manipulation: the attacked item in the other viewers' pushes</h2>
<p>Per regime, the share of the other viewers' pushes during an attack that hold its item
(<code>models/sim/attacks.py</code>): without the attack, with one account's single vote,
with one account clicking it every 3 s (a click farm), and with twenty accounts taking
turns. A click farm should move them no more than one vote does.{demote}</p>
<img id="manipulation" src="manipulation.png" alt="share of pushes holding the attacked item">
"""
_DEMOTE_HTML = (" <code>demote</code> aims at the item the room pushed most instead: its pair"
                " of bars is that item's share without and with the attack (lower: pushed out).")
_OTHERS_HR_HTML = """<h2>Manipulation: the other viewers' HR@3 under each attack</h2>
<p>Per regime, HR@3 of the other viewers' pushes (the attackers' own pushes and actions left
out) against what those viewers clicked, carted and bought next, over the whole world, mean
over the seeds (the table below gives each shape's range): on the clean world (grey) and under
each attack this run measured. An attack that steers one item should leave it near the grey
bar; <code>poison</code> and <code>demote</code> teach the learner every viewer's pushes
share, and steer no item, so this drop is what they cost everyone else.</p>
<img id="manipulation-hr" src="manipulation_hr.png"
 alt="the other viewers' HR@3, clean and under each attack">
<ul>{shapes}</ul>"""


def _manipulation_html(rows: list[LabRow], shares: bool) -> str:
    """The share section (when drawn) and the others' HR@3 section, naming the shapes run."""
    shapes = _shapes(rows)
    listed = "".join(
        f"<li><code>{html.escape(a)}</code>"
        + (f": {html.escape(_SHAPES[a])}" if a in _SHAPES else "") + "</li>" for a in shapes)
    share = _SHARE_HTML.format(demote=_DEMOTE_HTML if "demote" in shapes else "")
    return (share if shares else "") + _OTHERS_HR_HTML.format(shapes=listed)


def _bars(rows: list[LabRow], regimes: list[str], path: Path) -> None:
    series = [(column, _COLOURS.get(column), [
        statistics.fmean(r.hr.get(column, 0.0) for r in rows if r.regime == name)
        for name in regimes]) for column in COLUMNS]
    _grouped_bars(regimes, series, path, "HR@3", legend={"ncols": 3})


def _grouped_bars(regimes: list[str], series: Series,
                  path: Path, ylabel: str, ylim: tuple[float, float] | None = None,
                  legend: dict[str, Any] | None = None) -> None:
    """One group of bars per regime, one bar per series (label, colour, a value per regime)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    width = 0.8 / len(series)
    for n, (label, colour, values) in enumerate(series):
        xs = [i + (n - len(series) / 2) * width + width / 2 for i in range(len(regimes))]
        ax.bar(xs, values, width, label=label, color=colour)
    ax.set_xticks(range(len(regimes)), regimes, rotation=15)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, **(legend or {}))
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
    _save(fig, ax, path, "the viewer's earlier actions in the room", "HR@3 (all arms)")


def _save(fig: Any, ax: Any, path: Path, xlabel: str, ylabel: str, legend: int = 8) -> None:
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _over_time(rows: list[LabRow], path: Path) -> None:
    import matplotlib.pyplot as plt

    minutes = sorted({int(m) for r in rows for m in r.by_time}, key=int)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for column in ("job", "warm", "hindsight", "popularity", "category_count", "oracle"):
        xs, ys = [], []
        for minute in minutes:
            values = [r.by_time[str(minute)][column] for r in rows
                      if column in r.by_time.get(str(minute), {})]
            if values:
                xs.append(minute)
                ys.append(statistics.fmean(values))
        ax.plot(xs, ys, marker="o", label=column, color=_COLOURS.get(column))
    _save(fig, ax, path, "minutes since the world's first event (3-minute bins)",
          "HR@3 (all arms)")


def _calibration(rows: list[LabRow], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    for name in dict.fromkeys(r.regime for r in rows):
        points = [c for r in rows if r.regime == name for c in r.calibration]
        if points:
            ax.plot([p for p, _, _ in points], [o for _, o, _ in points], ".", label=name)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect")
    top = max([0.05, *(max(p, o) for r in rows for p, o, _ in r.calibration)]) * 1.05
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    _save(fig, ax, path, "predicted P(item is the one chosen)", "observed share chosen", 7)


def _heatmap(heatmap: dict[str, object], path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    before, after = np.array(heatmap["before"]), np.array(heatmap["after"])
    top = float(max(before.max(initial=0.0), after.max(initial=0.0)))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), dpi=100,
                             gridspec_kw={"width_ratios": [before.shape[1], after.shape[1]]})
    for ax, values, items, title in (
        (axes[0], before, heatmap["before_items"], "before the change"),
        (axes[1], after, heatmap["after_items"], "after the change"),
    ):
        image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=top)
        ax.set_title(title)
        ax.set_xticks(range(len(items)), items, rotation=90, fontsize=6)  # type: ignore[arg-type]
        ax.set_yticks(range(len(heatmap["users"])), heatmap["users"], fontsize=6)  # type: ignore[arg-type]
    fig.colorbar(image, ax=axes, label="attention")
    fig.savefig(path, bbox_inches="tight")  # the item ids under the axes too
    plt.close(fig)
