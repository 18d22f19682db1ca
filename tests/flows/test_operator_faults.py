"""An operator's mistakes and the machine's faults in file mode: refused before anything is
touched, or ended with one line; a resumed run keeps what the interrupted one wrote.

Real ``roomrank`` subprocesses: exit statuses, stderr and signals are what is under test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from flows.preflight import check_file_mode, check_port
from tests.flows.helpers import run_lines, world_lines

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "flows.cli"]


def roomrank(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    # This checkout's code whatever the cwd (a relative PYTHONPATH, or an installed copy of
    # the package, would otherwise win in another directory).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*CLI, *args], cwd=kwargs.pop("cwd", ROOT), capture_output=True, timeout=300, env=env,
        **kwargs,
    )


def quiet(stderr: bytes) -> bool:
    """No traceback, no Rust panic in what the job wrote to stderr."""
    return b"Traceback" not in stderr and b"panicked" not in stderr


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("world") / "events.jsonl"
    path.write_bytes(b"\n".join(world_lines(5, rooms=2, viewers=40, minutes=3)) + b"\n")
    return path


def error_lines(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [
        line for line in done.stderr.decode().splitlines() if " INFO " not in line and line.strip()
    ]


# --------------------------------------------------------------------------- 13. input as output


@pytest.mark.parametrize("spell", ["same", "dot", "symlink", "hardlink", "dead_letters"])
def test_an_output_naming_the_input_is_refused_and_nothing_is_touched(
    tmp_path: Path, events: Path, spell: str
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(events.read_bytes())
    other = tmp_path / "dl.jsonl"
    other.write_bytes(b"kept\n")
    names: dict[str, Callable[[], str]] = {
        "same": lambda: str(data),
        "dot": lambda: "./in.jsonl",
        "symlink": lambda: (tmp_path / "link").symlink_to(data) or str(tmp_path / "link"),
        "hardlink": lambda: os.link(data, tmp_path / "hard") or str(tmp_path / "hard"),
        "dead_letters": lambda: "./in.jsonl",
    }
    target = names[spell]()
    out, dead = (str(other), target) if spell == "dead_letters" else (target, str(other))
    done = roomrank("run", "--input", str(data), "--output", out, "--dead-letters", dead,
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    [line] = error_lines(done)
    assert "is the input file" in line
    assert data.read_bytes() == events.read_bytes()
    assert other.read_bytes() == b"kept\n"


def test_two_outputs_naming_one_file_are_refused(tmp_path: Path, events: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(ValueError, match="name the same file"):
        check_file_mode(
            str(events), {"--output": str(out), "--dead-letters": f"{tmp_path}/./out.jsonl"}
        )


@pytest.mark.parametrize(
    ("command", "outputs"),
    [
        ("run", ["--output", "-", "--dead-letters", "dl.jsonl", "--experiment-log", "-"]),
        ("run", ["--output", "-", "--dead-letters", "/dev/stdout"]),
        ("run", ["--output", "out.jsonl", "--dead-letters", "-", "--experiment-log", "/dev/fd/1"]),
        ("simulate", ["--closed-loop", "--output", "-", "--recs", "-"]),
    ],
)
def test_two_outputs_on_standard_output_are_refused(
    tmp_path: Path, events: Path, command: str, outputs: list[str]
) -> None:
    # found by a red team: `--output - --experiment-log -` mixed ghost pushes into the pushes
    # a consumer sends, exit 0
    given = (["--input", str(events)] if command == "run" else
             ["--seed", "1", "--rooms", "1", "--viewers", "5", "--minutes", "1"])
    done = roomrank(command, *given, *outputs, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = error_lines(done)
    assert "write to standard output, where their lines would mix" in line
    assert done.stdout == b""


# --------------------------------------------------------------------------- 14. output faults


def test_a_full_disk_ends_with_one_line_not_an_abort(tmp_path: Path, events: Path) -> None:
    done = roomrank("run", "--input", str(events), "--output", "/dev/full",
                    "--dead-letters", str(tmp_path / "dl.jsonl"))  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert error_lines(done) == [
        "roomrank run: error: --output '/dev/full': No space left on device (errno 28)"
    ]


def test_an_output_that_is_a_directory_truncates_nothing(tmp_path: Path, events: Path) -> None:
    dead = tmp_path / "dl.jsonl"
    dead.write_bytes(b"from the last run\n")
    (tmp_path / "adir").mkdir()
    done = roomrank("run", "--input", str(events), "--output", str(tmp_path / "adir"),
                    "--dead-letters", str(dead))  # fmt: skip
    assert done.returncode == 2 and quiet(done.stderr)
    [line] = error_lines(done)
    assert str(tmp_path / "adir") in line and "is a directory" in line
    assert dead.read_bytes() == b"from the last run\n"


def test_an_output_that_cannot_be_created_is_one_line(tmp_path: Path, events: Path) -> None:
    with pytest.raises(ValueError, match=r"--output '/proc/nonexistent/x': No such file"):
        check_file_mode(str(events), {"--output": "/proc/nonexistent/x"})


def test_a_metrics_port_in_use_or_out_of_range_truncates_nothing(
    tmp_path: Path, events: Path
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"from the last run\n")
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = roomrank("run", "--input", str(events), "--output", str(out), "--dead-letters",
                        str(tmp_path / "dl.jsonl"), "--metrics-port", str(port))  # fmt: skip
    assert done.returncode == 2 and quiet(done.stderr)
    assert error_lines(done) == [
        f"roomrank run: error: --metrics-port {port}: Address already in use"
    ]
    assert out.read_bytes() == b"from the last run\n"
    with pytest.raises(ValueError, match="out of range"):
        check_port(70000)


def test_the_bytewax_api_port_and_an_env_port_are_checked_and_named(
    tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # found by a red team: Bytewax's API on a port in use panicked and the job ran on without
    # it; the job's own port in use from ROOMRANK_METRICS_PORT was called --metrics-port
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"from the last run\n")
    flags = ("run", "--input", str(events), "--output", str(out), "--dead-letters",
             str(tmp_path / "dl.jsonl"))
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("BYTEWAX_DATAFLOW_API_ENABLED", "1")
        monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(port))
        api_taken = roomrank(*flags)
        monkeypatch.setenv("BYTEWAX_DATAFLOW_API_PORT", str(port + 1))
        monkeypatch.setenv("ROOMRANK_METRICS_PORT", str(port))
        env_taken = roomrank(*flags)
    monkeypatch.setenv("ROOMRANK_METRICS_PORT", str(port + 1))
    same = roomrank(*flags)
    for done in (api_taken, env_taken, same):
        assert done.returncode == 2 and quiet(done.stderr), done.stderr[-2000:]
        assert len(error_lines(done)) == 1, done.stderr[-2000:]
    assert error_lines(api_taken)[0].startswith(
        f"roomrank run: error: BYTEWAX_DATAFLOW_API_PORT {port}: Address already in use"
        " (Bytewax's API is on since BYTEWAX_DATAFLOW_API_ENABLED is set)")
    assert error_lines(env_taken) == [
        f"roomrank run: error: ROOMRANK_METRICS_PORT {port}: Address already in use"]
    assert "is the job's metrics port too" in error_lines(same)[0]
    assert out.read_bytes() == b"from the last run\n"


# --------------------------------------------------------------------------- 12. resume


def test_a_resumed_run_keeps_what_the_first_wrote_whatever_the_paths_are_called(
    tmp_path: Path, events: Path
) -> None:
    lines = events.read_bytes().splitlines(keepends=True)
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(lines[: len(lines) // 2]))
    flags = ["--recovery-dir", str(tmp_path / "rec"), "--snapshot-secs", "1"]
    first = roomrank("run", "--input", "in.jsonl", "--output", "out.jsonl",
                     "--dead-letters", "dl.jsonl", *flags, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "out.jsonl").read_bytes()
    assert before.count(b"\n") > 5
    with data.open("ab") as more:  # the input goes on; the run resumes at its line offset
        more.write(b"".join(lines[len(lines) // 2 :]))
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "out.jsonl")
    second = roomrank("run", "--input", "./in.jsonl", "--output", "link.jsonl",
                      "--dead-letters", "./dl.jsonl", *flags, cwd=tmp_path)  # fmt: skip
    assert second.returncode == 0 and quiet(second.stderr), second.stderr[-2000:]
    after = (tmp_path / "out.jsonl").read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    assert all(orjson.loads(line)["rec_id"] for line in after.splitlines())


def test_a_line_cut_by_a_crash_is_dropped_before_appending(tmp_path: Path) -> None:
    from flows.connectors.files import drop_cut_line

    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":')
    drop_cut_line(str(path))
    assert path.read_bytes() == b'{"a":1}\n'
    drop_cut_line(str(path))
    assert path.read_bytes() == b'{"a":1}\n'
    path.write_bytes(b'{"b":')
    drop_cut_line(str(path))
    assert path.read_bytes() == b""


# --------------------------------------------------------------------------- 15. signals, pipes


def test_ctrl_c_stops_like_sigterm_with_130_and_one_line(tmp_path: Path, events: Path) -> None:
    job = subprocess.Popen(
        [*CLI, "run", "--input", "-", "--output", str(tmp_path / "out.jsonl"),
         "--dead-letters", str(tmp_path / "dl.jsonl"), "--recovery-dir", str(tmp_path / "rec")],
        cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert job.stdin is not None and job.stderr is not None
    job.stdin.write(events.read_bytes())
    job.stdin.flush()  # stdin stays open: the job waits for more, as a live pipe would
    deadline = time.monotonic() + 120
    while not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").stat().st_size:
        assert job.poll() is None and time.monotonic() < deadline, job.stderr.read()
        time.sleep(0.1)  # poll for the first push, bounded by the deadline
    job.send_signal(signal.SIGINT)
    assert job.wait(120) == 130
    stderr = job.stderr.read()
    job.stdin.close()
    assert quiet(stderr), stderr.decode()[-3000:]
    assert stderr.count(b"signal 2") == 1
    assert any((tmp_path / "rec").iterdir())


def test_ctrl_c_stops_the_lab_with_130_and_one_line(tmp_path: Path) -> None:
    """Found by a red team: a lab stopped by Ctrl-C read the part its inner run had written
    and ended in a KeyError traceback, status 1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lab = subprocess.Popen([*CLI, "lab", "--seeds", "1", "--regimes", "default"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert lab.stderr is not None
    deadline = time.monotonic() + 120
    said = b""
    while b"file mode:" not in said:  # an inner run began (the log is line-buffered)
        assert lab.poll() is None and time.monotonic() < deadline, said[-2000:]
        said += lab.stderr.readline()
    lab.send_signal(signal.SIGINT)
    out, rest = lab.communicate(timeout=300)
    said += rest
    assert lab.returncode == 130 and quiet(said), said.decode()[-3000:]
    assert b"roomrank lab: stopped before it finished; nothing is reported" in said
    assert not out  # no table of a part


def test_a_closed_stdout_ends_quietly(events: Path, tmp_path: Path) -> None:
    job = subprocess.Popen(
        [*CLI, "run", "--input", str(events), "--output", "-",
         "--dead-letters", str(tmp_path / "dl.jsonl")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert job.stdout is not None and job.stderr is not None
    job.stdout.close()  # `| head -0`: the reader is gone before the first push
    stderr = job.stderr.read()
    assert job.wait(120) == 0
    assert quiet(stderr) and b"Exception ignored" not in stderr, stderr.decode()[-3000:]


# --------------------------------------------------------------------------- 16. evaluate


def test_evaluate_refuses_missing_or_wrong_files_with_one_line(
    tmp_path: Path, events: Path
) -> None:
    missing = roomrank("evaluate", "--events", str(tmp_path / "nope"), "--recs", str(events))
    assert missing.returncode == 2 and quiet(missing.stderr)
    assert error_lines(missing) == [
        f"roomrank evaluate: error: --events {str(tmp_path / 'nope')!r}: no such file"
    ]
    swapped = roomrank("evaluate", "--events", str(events), "--recs", str(events))
    assert swapped.returncode == 2 and quiet(swapped.stderr) and not swapped.stdout
    [line] = error_lines(swapped)
    assert f"--recs {str(events)!r} line 1: not one of pushes" in line
    (tmp_path / "junk").write_bytes(b"{}\nnot json\n")
    junk = roomrank("evaluate", "--events", str(tmp_path / "junk"), "--recs", str(events))
    assert junk.returncode == 2 and quiet(junk.stderr)
    [line] = error_lines(junk)
    assert "line 1" in line or "line 2" in line


def test_evaluate_refuses_pushes_of_another_input_a_bad_k_and_a_report_file(
    tmp_path: Path, events: Path
) -> None:
    """Found by a red team: pushes made from another input printed an empty table with status
    0 (and with --report, a KeyError); --k 0 printed HR@0; --report naming a file ended in a
    FileExistsError."""
    pushes, _ = run_lines(events.read_bytes().splitlines())
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_bytes(b"".join(
        orjson.dumps({**p, "trigger_id": "elsewhere-" + p["trigger_id"]}) + b"\n"
        for p in pushes))  # fmt: skip
    given = ["--events", str(events), "--recs", str(foreign)]
    for extra, said in (
        ([], f"none of its {len(pushes):,} pushes names a showcase or enter of --events"),
        (["--report", str(tmp_path / "page")], "they were made from another input"),
        (["--k", "0"], "--k must be at least 1, got 0"),
        (["--report", str(events)], f"--report {str(events)!r} is a file; name a directory"),
    ):
        done = roomrank("evaluate", *given, *extra)
        assert done.returncode == 2 and quiet(done.stderr) and not done.stdout, extra
        [line] = error_lines(done)
        assert said in line, line


# --------------------------------------------------------------------------- 17. resume, input


def test_a_resume_with_another_input_is_refused_naming_both_and_nothing_is_touched(
    tmp_path: Path, events: Path
) -> None:
    lines = events.read_bytes().splitlines(keepends=True)
    first, other = tmp_path / "first.jsonl", tmp_path / "other.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    other.write_bytes(b"".join(lines[len(lines) // 2 :]))
    flags = ["--output", "out.jsonl", "--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]
    done = roomrank("run", "--input", "first.jsonl", *flags, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    written = (tmp_path / "out.jsonl").read_bytes()
    again = roomrank("run", "--input", "other.jsonl", *flags, cwd=tmp_path)
    assert again.returncode == 2 and quiet(again.stderr)
    assert error_lines(again) == [
        f"roomrank run: error: --recovery-dir 'rec' was written reading {str(first)!r}; this run"
        f" reads {str(other)!r} (another file), and resuming would skip its first lines: give"
        " the same --input, or a new --recovery-dir to start afresh"
    ]
    assert (tmp_path / "out.jsonl").read_bytes() == written
    # the same name, but the file was replaced: its start is what counts
    first.write_bytes(b"".join(reversed(lines[: len(lines) // 2])))
    replaced = roomrank("run", "--input", "first.jsonl", *flags, cwd=tmp_path)
    assert replaced.returncode == 2 and b"which now starts differently" in replaced.stderr
    # replaced by a shorter file: cut or rewritten, the note cannot tell which
    first.write_bytes(other.read_bytes()[:1000])
    shorter = roomrank("run", "--input", "first.jsonl", *flags, cwd=tmp_path)
    assert shorter.returncode == 2 and b"now has 1000: it was cut or rewritten" in shorter.stderr


def test_a_store_without_a_note_of_its_input_and_stdin_resume_with_a_warning(
    tmp_path: Path, events: Path
) -> None:
    flags = ["--output", "out.jsonl", "--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]
    assert roomrank("run", "--input", str(events), *flags, cwd=tmp_path).returncode == 0
    note = tmp_path / "rec" / "roomrank-input.json"
    assert str(events) in note.read_text()
    note.unlink()  # what a store written before the note looks like
    old = roomrank("run", "--input", str(events), *flags, cwd=tmp_path)
    assert old.returncode == 0 and quiet(old.stderr), old.stderr[-2000:]
    assert b"WARNING roomrank --recovery-dir rec does not say which input" in old.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert roomrank("run", "--input", str(events), *flags, cwd=fresh).returncode == 0
    with events.open("rb") as stdin:
        piped = roomrank("run", "--input", "-", *flags, cwd=fresh, stdin=stdin)
    assert piped.returncode == 0 and quiet(piped.stderr), piped.stderr[-2000:]
    assert b"stdin cannot be checked" in piped.stderr


def test_a_store_made_by_the_runbooks_init_step_is_a_fresh_start(
    tmp_path: Path, events: Path
) -> None:
    """Found by a red team: partitions made with ``python -m bytewax.recovery DIR 1`` and no
    execution counted as a store to resume: the run appended to the last run's output (every
    push twice) and warned that the store predated the input note."""
    flags = ["--output", "out.jsonl", "--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]
    plain = roomrank("run", "--input", str(events), "--output", "plain.jsonl",
                     "--dead-letters", "dl0.jsonl", cwd=tmp_path)
    assert plain.returncode == 0
    (tmp_path / "out.jsonl").write_bytes((tmp_path / "plain.jsonl").read_bytes())  # yesterday's
    (tmp_path / "rec").mkdir()
    made = subprocess.run([sys.executable, "-m", "bytewax.recovery", "rec", "1"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    done = roomrank("run", "--input", str(events), *flags, cwd=tmp_path)
    assert done.returncode == 0 and quiet(done.stderr), done.stderr[-2000:]
    assert b"does not say which input" not in done.stderr

    def rec_ids(name: str) -> list[str]:
        lines = (tmp_path / name).read_bytes().splitlines()
        return [orjson.loads(line)["rec_id"] for line in lines]

    assert rec_ids("out.jsonl") == rec_ids("plain.jsonl")  # emptied first, not appended to


def test_a_second_run_on_a_store_in_use_is_refused_naming_the_first(
    tmp_path: Path, events: Path
) -> None:
    """Found by a red team: two runs on one --recovery-dir both ran, the second resuming from
    the first one's snapshots, and the output held every push twice."""
    flags = ["--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([*CLI, "run", "--input", "-", "--output", "a.jsonl", *flags],
                             cwd=tmp_path, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)  # fmt: skip
    assert first.stdin is not None and first.stderr is not None
    try:
        first.stdin.write(events.read_bytes())
        first.stdin.flush()  # kept open: the first run waits for more
        lock = tmp_path / "rec" / "roomrank.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = roomrank("run", "--input", str(events), "--output", "b.jsonl", *flags,
                          cwd=tmp_path)
        assert second.returncode == 2 and quiet(second.stderr)
        assert second.stderr.decode().strip().endswith(
            f"--recovery-dir 'rec' is in use by another run (pid {first.pid}): one store"
            " serves one run at a time; stop that run, or name another directory")
        assert not (tmp_path / "b.jsonl").exists()
    finally:
        first.stdin.close()
        assert first.wait(timeout=120) == 0, first.stderr.read()[-2000:]
    again = roomrank("run", "--input", "-", "--output", "a.jsonl", *flags, cwd=tmp_path,
                     stdin=subprocess.DEVNULL)
    assert again.returncode == 0  # the first run's end released the store


@pytest.mark.parametrize("spell", ["/dev/stdin", "/proc/self/fd/0"])
def test_an_output_naming_the_file_stdin_reads_is_refused(
    tmp_path: Path, events: Path, spell: str
) -> None:
    victim = tmp_path / "victim.jsonl"
    victim.write_bytes(events.read_bytes())
    with victim.open("rb") as stdin:
        done = roomrank("run", "--input", "-", "--output", spell, "--dead-letters",
                        str(tmp_path / "dl.jsonl"), stdin=stdin)  # fmt: skip
    assert done.returncode == 2 and quiet(done.stderr)
    assert error_lines(done) == [
        f"roomrank run: error: --output {spell!r} is the file stdin is read from (--input -):"
        " writing it would destroy the input; name another file"
    ]
    assert victim.read_bytes() == events.read_bytes()


def test_a_recovery_dir_that_is_a_file_and_too_many_workers_are_one_line(
    tmp_path: Path, events: Path
) -> None:
    from flows.jobs import run_files
    from flows.settings import Settings

    (tmp_path / "rec").write_bytes(b"not a directory")
    out, dead = str(tmp_path / "out.jsonl"), str(tmp_path / "dl.jsonl")
    settings = Settings.load({"recovery_dir": str(tmp_path / "rec")}, env={})
    with pytest.raises(ValueError, match=r"^--recovery-dir '.*rec' is a file, not a directory"):
        run_files(settings, str(events), out, dead)
    with pytest.raises(ValueError, match=r"^--workers must be 1 to 64, got 1000: they are thr"):
        run_files(Settings.load(env={}), str(events), out, dead, workers=1000)
    assert not (tmp_path / "out.jsonl").exists()


def test_simulate_into_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    assert main(["simulate", "--output", str(tmp_path), "--minutes", "1"]) == 2
    assert capsys.readouterr().err == (
        f"roomrank simulate: error: --output {str(tmp_path)!r} is a directory; name a file in"
        " it\n"
    )


def test_an_input_that_is_not_a_file_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipe cannot be resumed at a line offset: it is read as stdin, and the error says how."""
    from flows.cli import main

    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    outputs = ["--output", str(tmp_path / "o"), "--dead-letters", str(tmp_path / "d")]
    for given, said in ((fifo, f"is a pipe (FIFO): read it as stdin, --input - < {fifo}"),
                        (tmp_path, "is a directory, not a file"),
                        (tmp_path / "nope", "no such file")):
        assert main(["run", "--input", str(given), *outputs]) == 2
        assert capsys.readouterr().err == f"roomrank run: error: --input {str(given)!r}: {said}\n"


def test_bench_refuses_a_json_file_it_cannot_write_before_measuring(tmp_path: Path) -> None:
    """Found by a red team: ``bench --json`` under a path that cannot exist failed after the
    measurements, and they were lost."""
    (tmp_path / "file").write_text("")
    done = roomrank("bench", "--quick", "--json", str(tmp_path / "file" / "b.json"))
    assert done.returncode == 2 and quiet(done.stderr) and not done.stdout
    [line] = error_lines(done)
    assert line.startswith(f"roomrank bench: error: --json {str(tmp_path / 'file' / 'b.json')!r}")


def test_fit_refuses_an_output_naming_its_input_before_fitting(
    tmp_path: Path, events: Path
) -> None:
    """Found by a red team: ``fit --output`` naming its ``--input`` replaced the events with
    the weights."""
    before = events.read_bytes()
    done = roomrank("fit", "--input", str(events), "--output", str(events))
    assert done.returncode == 2 and quiet(done.stderr)
    assert b"is the input file" in done.stderr
    assert events.read_bytes() == before


def test_a_compressed_input_is_refused_saying_how_to_read_it(
    tmp_path: Path, events: Path
) -> None:
    """Found by a red team: a gzip file became a dead letter per line, the first saying the
    bytes looked like UTF-16. It is refused before anything is written."""
    import gzip

    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(events.read_bytes()))
    with pytest.raises(ValueError, match=r"is gzip-compressed; .* zcat "):
        check_file_mode(str(packed), {"--output": str(tmp_path / "o")})
    assert not (tmp_path / "o").exists()


FILE_MODE = {"ROOMRANK_OUTPUT": "o", "ROOMRANK_DEAD_LETTERS": "d"}


@pytest.mark.parametrize(("env", "said"), [
    ({"ROOMRANK_TOP_K": "abc"},
     "flows.deployed: error: ROOMRANK_TOP_K / --top-k='abc': expected int"),
    ({"ROOMRANK_INPUT": "/nonexistent/e.jsonl", **FILE_MODE},
     "flows.deployed: error: ROOMRANK_INPUT '/nonexistent/e.jsonl': no such file"),
    # found by a red team: the pushes were appended to the input
    ({"ROOMRANK_INPUT": "e.jsonl", **FILE_MODE, "ROOMRANK_OUTPUT": "./e.jsonl"},
     "flows.deployed: error: ROOMRANK_OUTPUT './e.jsonl' is the input file ('e.jsonl'):"
     " writing it would destroy the input; name another file"),
])
def test_the_deployed_entrypoint_says_a_bad_setting_in_one_line(
    env: dict[str, str], said: str, tmp_path: Path
) -> None:
    """What Kubernetes and compose run (``bytewax.run flows.deployed:flow``): exit 2 and one
    line, as ``roomrank run`` does, not bytewax.run's traceback around it."""
    (tmp_path / "e.jsonl").write_bytes(b"{}\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ROOMRANK_")}
    done = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "flows.deployed:flow", "-w", "1"],
        cwd=tmp_path, capture_output=True, timeout=120,
        env={**clean, **env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [said]
    assert (tmp_path / "e.jsonl").read_bytes() == b"{}\n"  # untouched
