"""The whole job in file mode against hostile input (issue 14's "Done when").

Valid events of two rooms are mixed with hostile numbers, timestamps, ids and encodings, and
run through ``build_flow`` over files. Every input line that is not blank must be either
applied (counted in the rooms' stats), dropped as a redelivery, or exactly one dead letter; the
job must not crash; no output may carry a non-finite number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import orjson
from bytewax.testing import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.connectors.files import JsonlSink, JsonlSource
from flows.dataflow import build_flow
from flows.settings import Settings
from models.room import RoomStats

T0 = 1_764_331_200_000
ROOMS = ["r-1", "r-\x1f2"]
ITEMS = [{"item_id": "s-1", "price": 19.9, "category": "c"},
         {"item_id": "s-2", "price": 5, "category": "d", "attrs": {"w": 1.5}}]  # fmt: skip


def event(n: int, etype: str, room: str, t: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e-{n}", "type": etype, "ts": T0 + t, "room_id": room, **fields}


@st.composite
def valid_event(draw: st.DrawFn, n: int) -> dict[str, Any]:
    room = draw(st.sampled_from(ROOMS))
    t = n * 500 + draw(st.integers(-3_000, 3_000))
    user = draw(st.sampled_from(["u-1", "u-2", "u\x00|3", "u,4"]))
    kind = draw(st.sampled_from(["enter", "showcase", "item_click", "purchase", "heartbeat",
                                 "like", "leave", "room_close"]))  # fmt: skip
    if kind == "showcase":
        return event(n, kind, room, t, items=ITEMS, spotlight="s-1")
    if kind == "room_close":
        return event(n, kind, room, t)
    if kind == "purchase":
        return event(n, kind, room, t, user_id=user, item_id="s-2", amount=5.0)
    if kind == "heartbeat":
        return event(n, kind, room, t, user_id=user, watch_ms=30_000)
    if kind == "item_click":
        return event(n, kind, room, t, user_id=user, item_id="s-1")
    return event(n, kind, room, t, user_id=user, attrs={"spend_tier": 2})


def hostile(draw: st.DrawFn, n: int, obj: dict[str, Any]) -> bytes:
    """One valid event made hostile in one of many ways (or left alone)."""
    how = draw(st.integers(0, 16))
    raw = json.dumps(obj).encode()
    if how == 0:
        obj["ts"] = draw(st.sampled_from([2**63, 2**64 - 1, -1, 253_402_300_800_000,
                                          T0 + 10**12, T0 * 1000]))  # fmt: skip
    elif how == 1:
        obj["amount"] = obj["watch_ms"] = 1e39
        obj["attrs"] = {"x": draw(st.sampled_from([1e39, -1e300, 2**63]))}
    elif how == 2:
        return raw.replace(b'"ts": ', b'"ts": 1, "ts": ', 1)
    elif how == 3:
        return raw.replace(b'"room_id": ', b'"room_id": "r-1", "room_id": ', 1)
    elif how == 4:
        return raw[: draw(st.integers(0, len(raw)))] + b"\xff\xed\xa0\x80"
    elif how == 5:
        return draw(st.sampled_from([b"\x0b", b"\x0c\x0b", b"NaN", b"[1e400]", b"{}"]))
    elif how == 6:
        obj["event_id"] = f"e-{draw(st.integers(0, n))}"  # maybe a reuse, maybe a redelivery
    elif how == 7:
        return raw.replace(b'"ts": ', b'"ts": 1e400, "x": ', 1)
    elif how == 8:
        obj["user_id"] = draw(st.text(st.characters(codec="utf-8"), max_size=130))
    elif how == 9:
        return b'{"pad": "' + b"x" * draw(st.integers(900, 3_000)) + b'"}'
    return json.dumps(obj).encode()


@st.composite
def inputs(draw: st.DrawFn) -> list[bytes]:
    lines = []
    for n in range(draw(st.integers(1, 40))):
        lines.append(hostile(draw, n, draw(valid_event(n))))
    if draw(st.booleans()):
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    return lines


def _read(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(inputs())
def test_every_line_is_applied_or_one_dead_letter_and_outputs_are_finite(
    tmp_path_factory: Any, lines: list[bytes]
) -> None:
    tmp = Path(tmp_path_factory.mktemp("fuzz"))
    source, pushes, letters = tmp / "in.jsonl", tmp / "out.jsonl", tmp / "dead.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    stats: list[RoomStats] = []
    job = Settings.load({"max_message_bytes": 1000}, env={})
    flow = build_flow(
        job,
        JsonlSource(str(source), 7, job.max_message_bytes),
        JsonlSink(str(pushes)),
        JsonlSink(str(letters)),
        lambda x: stats.append(x) if isinstance(x, RoomStats) else None,
    )
    run_main(flow)
    dead = [orjson.loads(line) for line in _read(letters)]
    applied = sum(sum(s.events.values()) for s in stats)
    duplicates = sum(s.duplicates for s in stats)
    assert applied + duplicates + len(dead) == len(lines)
    assert len({(d["topic"], d["offset"]) for d in dead}) == len(dead)
    for line in _read(pushes):
        for item in orjson.loads(line)["items"]:
            for name in ("score", "attention", "propensity"):
                assert isinstance(item[name], float | int) and math.isfinite(item[name])
