"""The bench's report: machine facts and the printed table (``flows.bench.run`` runs it)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, text=True, capture_output=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "uncommitted_changes": bool(dirty)}


def machine() -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    try:
        import confluent_kafka

        librdkafka: str | None = confluent_kafka.libversion()[0]
    except ImportError:
        librdkafka = None
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "bytewax": _version("bytewax"),
        "river": _version("river"),
        "orjson": _version("orjson"),
        "confluent_kafka": _version("confluent-kafka"),
        "librdkafka": librdkafka,
        "blas": sorted({f"{i.get('internal_api')} {i.get('version')}"
                        for i in threadpool_info() if i.get("user_api") == "blas"}),
        "blas_threads_in_bench": 1,
        "loadavg_start": loadavg(),
        "git": _git(),
    }


def _num(value: Any, fmt: str = ",.0f", none: str = "—") -> str:
    return none if value is None else format(value, fmt)


def format_table(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"roomrank bench ({r['bench']['scale']}), {m['timestamp']}: {m['cpus']} CPUs"
        f" ({m['cpu_model']}), Python {m['python']}, numpy {m['numpy']},"
        f" bytewax {m['bytewax']}, river {m['river']}; load {m['loadavg_start']}",
        "",
    ]
    if "job_eps" in r:
        inp = r["input"]
        lines += [
            f"Throughput over {inp['events']:,} events ({inp['pushes']:,} pushes)"
            "     file        Kafka",
            f"  passthrough events/s {_num(r['passthrough_eps']['file']):>24}"
            f" {_num(r['passthrough_eps']['kafka']):>12}",
            f"  job events/s         {_num(r['job_eps']['file']):>24}"
            f" {_num(r['job_eps']['kafka']):>12}",
            f"  job / passthrough    {_num(r['job_vs_passthrough']['file'], '.3f'):>24}"
            f" {_num(r['job_vs_passthrough']['kafka'], '.3f'):>12}",
        ]
        if "skeleton_eps" in r:
            room = r["room_us_per_event"]
            spent = {m: room[m] and room[m]["measured"] for m in ("file", "kafka")}
            left = {m: room[m] and room[m]["budget_at_target"] for m in ("file", "kafka")}
            lines += [
                f"  skeleton events/s    {_num(r['skeleton_eps']['file']):>24}"
                f" {_num(r['skeleton_eps']['kafka']):>12}"
                "   (the job's wiring, rooms that only count)",
                f"  skeleton / passthrough {_num(r['skeleton_vs_passthrough']['file'], '.3f'):>22}"
                f" {_num(r['skeleton_vs_passthrough']['kafka'], '.3f'):>12}",
                f"  rooms, µs per event  {_num(spent['file'], '.1f'):>24}"
                f" {_num(spent['kafka'], '.1f'):>12}   (job minus skeleton)",
                f"  left them by 0.6x    {_num(left['file'], '.1f'):>24}"
                f" {_num(left['kafka'], '.1f'):>12}   (1/(0.6 x passthrough) - 1/skeleton)",
            ]
        floor = r.get("room_floor_us_per_event")
        if floor:
            lines.append(
                "  rooms without Bytewax, µs per event: dedup + reorder"
                f" {floor['dedup_reorder']:.1f}; + presence and one River update per signal"
                f" (the floor) {floor['floor']:.1f}; the job's Room {floor['room']:.1f}"
            )
            if "choice_arithmetic_free" in floor:  # runs before 2026-12-05 did not time these
                lines.append(
                    "  the job's Room with features_row and Newton steps free"
                    f" {floor['choice_arithmetic_free']:.1f}; without learning from choices"
                    f" {floor['no_choice_step']:.1f}"
                )
        lines.append("")
    if "rank_ms" in r:
        lines.append("Ranking one showcase change    build_push ms   median   matmul ms"
                     "   ratio")
        for key, best in r["rank_ms"].items():
            mm = r["matmul_ms"][key]
            lines.append(f"  {key:>14} viewers x items {best:>10.1f} "
                         f"{r['rank_ms_median'][key]:>8.1f} {mm:>11.2f} {best / mm:>7.0f}x")
        lines.append("")
    if "fanout_ms" in r:
        fan = r["fanout_ms"]
        lines += [
            f"Fanout to {r['fanout_viewers']:,} viewers (read -> pushes written):"
            f" file {_num(fan['file'])} ms, Kafka {_num(fan['kafka'])} ms;"
            f" encode_pushes alone {_num(r.get('encode_ms'))} ms",
            "",
        ]
    if "learn_eps" in r:
        lines += [
            f"Learners over {r['learn_events']:,} updates: RowFunkMF.learn_many"
            f" {_num(r['learn_eps'])}/s ({r.get('learn_waves', 0):,} waves), RowFunkMF.learn"
            f" {_num(r.get('learn_sequential_eps'))}/s, FunkMF.learn_one (ids)"
            f" {_num(r['facade_learn_eps'])}/s, River FunkMF.learn_one"
            f" {_num(r['river_learn_eps'])}/s",
            f"  inside the job (learn_many over the batches Room forms):"
            f" {_num(r.get('learn_job_eps'))}/s, {_num(r.get('learn_job_vs_river'), '.1f')}x River",
            "",
        ]
    if "bytes_per_viewer" in r:
        sd = r["state_detail"]
        lines += [
            f"Room state (pickled snapshot, d=32): {r['bytes_per_viewer']:.0f} B/viewer"
            f" ({sd['viewers']:,} viewers in {sd['viewer_capacity']:,} rows;"
            f" {sd['bytes_per_viewer_with_dedup']:.0f} with the event-id dedup set;"
            f" {sd['bytes_per_viewer_at_capacity']:.0f} with every row in use),"
            f" {r['bytes_per_item']:.0f} B/item",
        ]
        if sd.get("idle_room_bytes"):
            lines.append(
                f"Idle room (one showcase of 8, one viewer): {sd['idle_room_bytes']:,.0f} B held"
                f" in memory, {sd['idle_room_snapshot_bytes']:,} B snapshot; a fresh room"
                f" {sd['fresh_room_bytes']:,.0f} B")
    if "state_bytes_after_churn" in r:
        cd = r["churn_detail"]
        lines.append(
            "State after a day of churn: "
            + ", ".join(f"{k}: {v:,} B in {cd['open_rooms'][k]} rooms"
                        f" ({cd['closed_but_held'][k]} closed but held)"
                        for k, v in r["state_bytes_after_churn"].items())
            + " (room open all day: "
            + ", ".join(f"{v:,}" for v in cd["long_room_bytes"].values()) + " B)"
        )
    lines += ["", "Targets"]
    for name, t in r["targets"].items():
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]]
        value = _num(t["value"], ",.3g") if t["value"] is not None else "not measured"
        lines.append(f"  {verdict}  {t['rule']:<55} measured {value}  [{name}]")
    if r["errors"]:
        lines += ["", "Errors", *(f"  {e}" for e in r["errors"])]
    return "\n".join(lines)
