"""What ``roomrank demo`` shows a person running a live room (issue 11)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

from flows.connectors.simulated import ShowcaseTap, _TerminalPartition
from tests.flows.test_cli import roomrank

PRODUCT = re.compile(r"[A-Z][a-z]+ [A-Za-z ]+ \$\d+\.\d\d \(buys \d+\.\d%\)")


def unwrapped(stamps: Iterable[str]) -> list[int]:
    """HH:MM:SS stamps as seconds: the demo's clock starts at the wall time, so a run begun
    before midnight (UTC) wraps them once, and a later stamp must not read as earlier."""
    seconds: list[int] = []
    day = 0
    for stamp in stamps:
        h, m, sec = (int(part) for part in stamp.split(":"))
        if seconds and seconds[-1] - (day + 3_600 * h + 60 * m + sec) > 43_200:
            day += 86_400
        seconds.append(day + 3_600 * h + 60 * m + sec)
    return seconds


def test_stamps_across_midnight_read_in_order_and_disorder_still_shows() -> None:
    assert unwrapped(["23:59:58", "00:00:01"]) == [86_398, 86_401]
    assert unwrapped(["00:00:05", "00:00:01"]) == [5, 1]


def test_demo_names_products_with_prices_and_purchase_probability_in_time_order() -> None:
    started = datetime.now(UTC)
    done = roomrank("demo", "--rooms", "3", "--viewers", "40", "--minutes", "4", "--speed", "3000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) > 10
    for line in lines:
        products = line.split(": ", 1)[1].split(" — ")[0].split(", ")
        assert all(PRODUCT.fullmatch(p) for p in products), line
    stamps = [line[:8] for line in lines]
    seconds = unwrapped(stamps)
    assert seconds == sorted(seconds)
    # the simulated clock starts at the wall clock (minutes of world, from now)
    first = datetime.strptime(stamps[0], "%H:%M:%S").time()
    gap = (datetime.combine(started.date(), first, UTC) - started).total_seconds() % 86_400
    assert gap < 10 * 60, (stamps[0], started)


def _push(ts: int, room: str) -> bytes:
    return orjson.dumps({"ts": ts, "room_id": room, "user_id": "u", "arm": "attention",
                         "trigger": "enter",
                         "items": [{"item_id": "sku-1", "score": 0.1, "propensity": 0.25}]})


def test_terminal_lines_of_a_batch_are_in_time_order_and_titled() -> None:
    tap = ShowcaseTap()
    list(tap(iter([{"type": "showcase", "items": [{"item_id": "sku-1", "price": 9.5,
                                                   "title": "Glow Serum"}]}])))
    out = io.StringIO()
    terminal = _TerminalPartition(out, tap.items, hold_ms=1_000)
    terminal.write_batch([("r-2", [(b"k", _push(2_000, "r-2"))])])
    terminal.write_batch([("r-1", [(b"k", _push(1_000, "r-1"))])])  # an older push, later
    assert out.getvalue().splitlines()[0].split()[1] == "r-1"  # 2,000 waits for r-1's 1,000
    terminal.close()
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["r-1", "r-2"]
    assert lines[0].endswith(": Glow Serum $9.50 (buys 25.0%)")


REACTION = re.compile(
    r"\d\d:\d\d:\d\d r-\d+ ← u-\d+ (opened the push on|bought) [A-Z][a-z]+ [A-Za-z ]+"
    r" \$\d+\.\d\d.*\[closed loop: [\d,]+ pushes, [\d,]+ opened .*\]"
)


def test_closed_loop_demo_shows_the_audience_reacting_and_the_job_takes_the_reactions() -> None:
    done = roomrank("demo", "--closed-loop", "--rooms", "3", "--viewers", "150", "--minutes",
                    "20", "--speed", "3000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    *shown, tally = lines
    pushes = [line for line in shown if " → " in line]
    reactions = [line for line in shown if " ← " in line]
    assert len(pushes) + len(reactions) == len(shown) and pushes
    opened = [line for line in reactions if "opened the push on" in line]
    assert opened and all(REACTION.match(line) for line in opened + [
        line for line in reactions if " bought " in line]), reactions[:5]
    seconds = unwrapped(line[:8] for line in shown)
    assert seconds == sorted(seconds)  # reactions join the pushes in event-time order
    counts = re.fullmatch(r"closed loop: ([\d,]+) pushes, ([\d,]+) opened \(.*%\), ([\d,]+)"
                          r" purchases after an open \(\$[\d,.]+\)", tally)
    assert counts, tally
    n_pushes, n_opened = (int(counts[n].replace(",", "")) for n in (1, 2))
    assert n_pushes == len(pushes) and n_opened == len(opened)
    # The job read every open the audience made (the world's own blind opens are not sent):
    summary = done.stderr.decode()
    assert f"push_open {n_opened:,}" in summary and "0 dead letters" in summary, summary[-600:]


def test_the_endless_demo_keeps_pushing_after_its_first_world() -> None:
    """Until Ctrl-C the demo chains 10-minute worlds in the same rooms; none may close them,
    or every later event would be a dead letter and the screen would go quiet."""
    import itertools

    from flows.jobs import DEMO_CHUNK_MINUTES, _endless_world
    from tests.flows.helpers import run_lines

    start = 1_800_000_000_000
    events = list(itertools.takewhile(
        lambda e: e["ts"] < start + 2.5 * DEMO_CHUNK_MINUTES * 60_000,
        _endless_world(5, 2, 60, start)))
    pushes, letters = run_lines([orjson.dumps(e) for e in events])
    assert not [d for d in letters if d["reason"] != "duplicate"], letters[:2]
    third = start + 2 * DEMO_CHUNK_MINUTES * 60_000
    assert any(p["ts"] >= third for p in pushes)
