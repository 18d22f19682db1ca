"""A stray (or forged) ``room_close`` in the middle of a live show, through the whole job
(``build_flow``): the room is silent only until the host's next showcase (red teams 8 and
10 found it silenced for an hour), and no other room notices."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.flows.helpers import read_jsonl, run_lines, world_lines
from tests.flows.test_operator_faults import quiet, roomrank


@pytest.mark.parametrize("ahead_ms", [0, 9 * 60_000, 3_600_000])
def test_a_stray_close_silences_its_room_only_until_the_next_showcase(ahead_ms: int) -> None:
    """At the room's time; within --max-ahead-ms; an hour ahead with a made-up viewer's
    heartbeat to confirm it (red team 11: the last two silenced the rest of the show)."""
    lines = world_lines(seed=5, rooms=3, viewers=150, minutes=10)
    events = [orjson.loads(line) for line in lines]
    room = events[0]["room_id"]
    showcases = [i for i, e in enumerate(events) if e["room_id"] == room
                 and e["type"] == "showcase"]
    at = showcases[len(showcases) // 2] + 1  # just after a showcase in the middle of the show
    ts = events[at - 1]["ts"] + ahead_ms
    stray = [{"event_id": "stray-close", "type": "room_close", "ts": ts, "room_id": room}]
    if ahead_ms > 600_000:  # past --max-ahead-ms: held until another sender agrees
        stray.append({"event_id": "forged", "type": "heartbeat", "ts": ts, "room_id": room,
                      "user_id": "u-forger", "watch_ms": 0})
    reopen = next(i for i in showcases if i >= at)
    pushes, letters = run_lines([*lines[:at], *map(orjson.dumps, stray), *lines[at:]])
    clean, clean_letters = run_lines(lines)

    # refused: exactly the room's events between the stray close and its next showcase
    between = {e["event_id"] for e in [*stray[1:], *events[at:reopen]] if e["room_id"] == room}
    assert between and clean_letters == []
    assert {orjson.loads(d["raw"])["event_id"] for d in letters} == between
    assert all(d["error"].startswith(f"room {room!r} was closed by room_close 'stray-close'")
               for d in letters)
    # the room pushes again: the showcase that opened it reaches the viewers heard from since
    # (none yet, here), and every later one the viewers present in the new session
    later = {e["event_id"] for e in events[reopen + 1:] if e["room_id"] == room
             and e["type"] == "showcase"}
    assert later and later <= {p["trigger_id"] for p in pushes}
    # the other rooms push exactly as without it
    def others(ps: list[dict]) -> list[tuple]:
        return sorted((p["rec_id"], [i["item_id"] for i in p["items"]]) for p in ps
                      if p["room_id"] != room)
    assert others(pushes) == others(clean)


def test_a_new_show_overtaken_by_the_old_close_pushes_as_if_the_close_came_first() -> None:
    """Red team 11 #8: a room id used for a new show just after the old one's close, which
    arrives late (within --lateness-ms) behind the new show's first showcase and viewers.
    Those were ``closed`` dead letters, and the room silent until its next showcase."""
    lines = world_lines(seed=5, rooms=3, viewers=150, minutes=10)
    events = [orjson.loads(line) for line in lines]
    at, close = next((i, e) for i, e in enumerate(events) if e["type"] == "room_close")
    room, first = close["room_id"], events[0]["ts"]
    shift = close["ts"] + 300 - first  # the room's first three minutes again, as a new show
    show = [{**e, "event_id": f"new-{e['event_id']}", "ts": e["ts"] + shift}
            for e in events if e["room_id"] == room and e["ts"] < first + 180_000]
    early = [e for e in show if e["ts"] <= close["ts"] + 1_700]  # the close is that late
    rest = [e for e in show if e["ts"] > close["ts"] + 1_700]
    assert early[0]["type"] == "showcase" and any(e["type"] == "enter" for e in early)
    before = [*lines[:at], *lines[at + 1:]]
    in_order, in_order_letters = run_lines(
        [*before, orjson.dumps(close), *map(orjson.dumps, early + rest)])
    overtaken, letters = run_lines(
        [*before, *map(orjson.dumps, early), orjson.dumps(close), *map(orjson.dumps, rest)])

    assert letters == in_order_letters == []
    def shown(ps: list[dict]) -> list[tuple]:
        return sorted((p["rec_id"], [(i["item_id"], i["score"]) for i in p["items"]])
                      for p in ps)
    assert shown(overtaken) == shown(in_order)
    opened = {e["event_id"] for e in early}
    assert opened & {p["trigger_id"] for p in overtaken}  # the early ones push


def test_a_file_run_that_ends_at_a_stray_close_resumes_as_if_it_had_not_stopped(
    tmp_path: Path,
) -> None:
    """Red team 13: a file run whose input ended at a room's close dropped the closed room, and
    with it who had left; the resumed run (the file grown) pushed to them again."""
    lines = world_lines(seed=5, rooms=3, viewers=150, minutes=10)
    events = [orjson.loads(line) for line in lines]
    room = events[0]["room_id"]
    showcases = [i for i, e in enumerate(events) if e["room_id"] == room
                 and e["type"] == "showcase"]
    at = showcases[len(showcases) // 2] + 1
    last = {e["user_id"]: e["type"] for e in events[:at] if e["room_id"] == room
            and "user_id" in e and e["ts"] < events[at - 1]["ts"] - 2_000}  # applied by then
    back = {e["user_id"] for e in events[at:] if e["room_id"] == room and e["type"] == "enter"}
    left = sorted(u for u, kind in last.items() if kind == "leave" and u not in back)
    ts = events[at - 1]["ts"]
    close = {"event_id": "stray-close", "type": "room_close", "ts": ts, "room_id": room}
    reopen = next(i for i in showcases if i >= at)
    # the clients of viewers who had left send one more heartbeat after the new session opens
    trailing = [{"event_id": f"trailing-{u}", "type": "heartbeat", "room_id": room,
                 "user_id": u, "ts": events[reopen]["ts"] + 1, "watch_ms": 0} for u in left]
    assert left
    rest = [*lines[at: reopen + 1], *map(orjson.dumps, trailing), *lines[reopen + 1:]]
    first = [*lines[:at], orjson.dumps(close)]
    flags = ["--input", "events.jsonl", "--output", "out.jsonl", "--dead-letters", "dl.jsonl",
             "--recovery-dir", "rec"]

    def run(where: Path) -> list[dict]:
        done = roomrank("run", *flags, cwd=where)
        assert done.returncode == 0 and quiet(done.stderr), done.stderr[-2000:]
        return read_jsonl(where / "out.jsonl")

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir()
    cut.mkdir()
    (whole / "events.jsonl").write_bytes(b"\n".join([*first, *rest]) + b"\n")
    (cut / "events.jsonl").write_bytes(b"\n".join(first) + b"\n")
    run(cut)  # ends at the close: the room is closed when the input ends
    with (cut / "events.jsonl").open("ab") as grown:
        grown.write(b"\n".join(rest) + b"\n")
    resumed = {p["rec_id"]: p for p in run(cut)}  # both runs' pushes: a resume appends
    straight = {p["rec_id"]: p for p in run(whole)}
    assert resumed.keys() == straight.keys()
    assert not {p["user_id"] for p in resumed.values()
                if p["room_id"] == room and p["ts"] > ts} & set(left)
