"""``roomrank experiment report`` in file mode: what it reads, skips and refuses."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flows.cli import main


def _write(path: Path, records: list[dict], extra: bytes = b"") -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + extra)
    return str(path)


PUSHES = [{"rec_id": f"p{n}", "room_id": "r", "user_id": f"u{n}", "trigger_id": "t", "ts": 1_000,
           "arm": "attention" if n % 2 else "control", "items": [{"item_id": "i", "rank": 1}]}
          for n in range(6)]
EVENTS = [{"event_id": f"e{n}", "type": "purchase", "ts": 2_000, "room_id": "r",
           "user_id": f"u{n}", "item_id": "i", "amount": 10.0} for n in range(3)]
EVENTS.append({"event_id": "t", "type": "enter", "ts": 1_000, "room_id": "r",
               "user_id": "u0"})  # the pushes' trigger


def test_lines_the_job_would_dead_letter_are_skipped_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write(tmp_path / "e.jsonl", EVENTS, b'{"event_id":"x","type":"purchase"}\nzz\n')
    recs = _write(tmp_path / "r.jsonl", PUSHES, b'{"rec_id":"q"}\n')
    assert main(["experiment", "report", "--events", events, "--recs", recs, "--json"]) == 0
    out, err = capsys.readouterr()
    arms = orjson.loads(out)["arms"]
    assert (arms["attention"]["pushes"], arms["attention"]["purchases"]) == (3, 1)
    assert (arms["control"]["pushes"], arms["control"]["purchases"]) == (3, 2)
    assert f"--events {events}: skipped 2 of 6 (line 5: missing required field 'ts')" in err
    assert f"--recs {recs}: skipped 1 of 7 (line 7: 'room_id' missing" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--events", "E"], "file mode needs both --events and --recs"),
        ([], "give --events and --recs (files), or --brokers (Kafka topics)"),
        (["--events", "E", "--recs", "R", "--brokers", "localhost:1"], "not both"),
        (["--brokers", "localhost:1", "--kafka-timeout", "0"], "--kafka-timeout must be > 0"),
    ],
)
def test_a_wrong_mix_of_inputs_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROOMRANK_BROKERS", raising=False)
    named = {"E": _write(tmp_path / "e.jsonl", EVENTS), "R": _write(tmp_path / "r.jsonl", PUSHES)}
    assert main(["experiment", "report", *(named.get(a, a) for a in argv)]) == 2
    assert message in capsys.readouterr().err


def test_events_given_as_pushes_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write(tmp_path / "e.jsonl", EVENTS)
    assert main(["experiment", "report", "--events", events, "--recs", events]) == 2
    assert f"--recs {events}: none of its 4 records is a push" in capsys.readouterr().err


def test_coverage_runs_the_closed_loop_over_the_seeds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["experiment", "coverage", "--seeds", "1-2,5", "--truth-seeds", "", "--rooms", "2",
            "--viewers", "60", "--minutes", "4", "--arms", "a=0.5,b=0.5", "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    result = orjson.loads(out)
    assert result["runs"] == 3 and [a["arm"] for a in result["arms"]] == ["a", "b"]
    assert all(0 <= a["covered"] <= 3 and 0 < a["truth"] < 1 for a in result["arms"])
    assert "3 closed-loop runs of 2 rooms, 60 viewers, 4 min" in err
    assert main(argv) == 0 and orjson.loads(capsys.readouterr().out) == result  # seeded


@pytest.mark.parametrize(("seeds", "message"), [
    ("x", "--seeds: 'x' is not a seed or a range like 1-20"),
    ("5-1", "--seeds: the range '5-1' is empty"),
    (",", "--seeds names no seed"),
])
def test_coverage_refuses_seeds_it_cannot_read(
    capsys: pytest.CaptureFixture[str], seeds: str, message: str
) -> None:
    assert main(["experiment", "coverage", "--seeds", seeds]) == 2
    assert message in capsys.readouterr().err


def test_purchases_after_a_rooms_close_are_skipped_as_the_job_refuses_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    close = {"event_id": "z", "type": "room_close", "ts": 10_000, "room_id": "r"}
    late = [{**e, "event_id": f"late-{e['event_id']}", "ts": 9_000} for e in EVENTS[:3]]
    events = _write(tmp_path / "e.jsonl", [*EVENTS, close, *late])
    recs = _write(tmp_path / "r.jsonl", PUSHES)
    argv = ["experiment", "report", "--events", events, "--recs", recs, "--json"]
    assert main([*argv, "--lateness-ms", "500"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out)["arms"]["control"]["purchases"] == 2  # u0, u2 as before the close
    assert (f"--events {events}: skipped 3 of 8 (line 6: the job's dead letter 'closed' (room"
            " 'r' was closed by room_close 'z' (ts 10000) and event 'late-e0' (ts 9000)") in err
    assert main([*argv, "--lateness-ms", "2000"]) == 0  # 1 s before the close: stragglers
    assert orjson.loads(capsys.readouterr().out)["arms"]["control"]["purchases"] == 4


def test_pushes_with_an_unknown_kind_are_pushes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contract ignores unknown fields: ``"kind": "push"`` changes nothing."""
    events = _write(tmp_path / "e.jsonl", EVENTS)
    plain = _write(tmp_path / "r.jsonl", PUSHES)
    kinded = _write(tmp_path / "k.jsonl", [{**p, "kind": "push"} for p in PUSHES])
    argv = ["experiment", "report", "--events", events, "--json", "--recs"]
    assert main([*argv, plain]) == 0
    expected = orjson.loads(capsys.readouterr().out)
    assert main([*argv, kinded]) == 0
    assert orjson.loads(capsys.readouterr().out) == expected
    assert expected["arms"]["control"]["pushes"] == 3


def test_recs_and_log_swapped_are_refused_naming_the_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write(tmp_path / "e.jsonl", EVENTS)
    pushes = _write(tmp_path / "r.jsonl", PUSHES[1::2])
    ghosts = _write(tmp_path / "x.jsonl", [{**p, "kind": "ghost_push", "arm": "holdout"}
                                            for p in PUSHES[::2]])
    argv = ["experiment", "report", "--events", events]
    assert main([*argv, "--recs", ghosts, "--experiment-log", pushes]) == 2
    err = capsys.readouterr().err
    assert f"--experiment-log {pushes} holds pushes (line 1: no 'kind')" in err
    assert "are --recs and --experiment-log" in err and len(err.splitlines()) == 1
    assert main([*argv, "--recs", ghosts]) == 2
    err = capsys.readouterr().err
    assert f"--recs {ghosts} holds the experiment log's records (line 1: kind 'ghost_push')" in err
    assert main([*argv, "--recs", pushes, "--experiment-log", ghosts]) == 0


def test_no_events_no_pushes_or_another_runs_pushes_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty table with status 0 looks like a readout of nothing happening."""
    events = _write(tmp_path / "e.jsonl", EVENTS)
    recs = _write(tmp_path / "r.jsonl", PUSHES)
    empty = _write(tmp_path / "empty.jsonl", [])
    foreign = _write(tmp_path / "f.jsonl", [{**p, "trigger_id": "elsewhere"} for p in PUSHES])
    report = ["experiment", "report", "--json", "--events"]
    assert main([*report, events, "--recs", recs]) == 0
    capsys.readouterr()
    for argv, message in [
        ([empty, "--recs", recs], f"--events {empty}: no event to read out"),
        ([events, "--recs", empty], f"--recs {empty}: no push to read out"),
        ([events, "--recs", foreign],
         f"--recs {foreign}: none of its 6 pushes names an event of --events {events}"),
    ]:
        assert main([*report, *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and message in err and len(err.splitlines()) == 1


def test_a_push_at_ts_2_to_the_63_is_skipped_and_the_page_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write(tmp_path / "e.jsonl", EVENTS)
    recs = _write(tmp_path / "r.jsonl", [*PUSHES, {**PUSHES[0], "rec_id": "far", "ts": 2**63}])
    page = tmp_path / "page"
    argv = ["experiment", "report", "--events", events, "--recs", recs, "--html", str(page)]
    assert main(argv) == 0
    assert f"--recs {recs}: skipped 1 of 7 (line 7: 'ts' 9223372036854775808 outside" in (
        capsys.readouterr().err)
    assert (page / "index.html").exists()


def test_the_conversion_window_is_the_jobs_flag_and_window_ms_its_alias(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Purchases 1 s after the pushes: a 500 ms window converts none, the default all."""
    events = _write(tmp_path / "e.jsonl", EVENTS)
    recs = _write(tmp_path / "r.jsonl", PUSHES)
    argv = ["experiment", "report", "--events", events, "--recs", recs, "--json"]

    def bought(*more: str) -> int:
        assert main([*argv, *more]) == 0
        return int(orjson.loads(capsys.readouterr().out)["arms"]["control"]["purchases"])

    assert bought() == 2
    assert bought("--conversion-window-ms", "500") == bought("--window-ms", "500") == 0
    monkeypatch.setenv("ROOMRANK_CONVERSION_WINDOW_MS", "500")  # as the job reads it
    assert bought() == 0
    assert main([*argv, "--window-ms", "0"]) == 2
    assert "--conversion-window-ms must be >= 1, got 0" in capsys.readouterr().err
    assert main([*argv, "--window-ms", "2000000000"]) == 0  # not the momentum window's bound
