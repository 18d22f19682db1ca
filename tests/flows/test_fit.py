"""``roomrank fit`` and ``--choice-weights``: a warm start from past events, as a user runs it."""

from __future__ import annotations

import errno
import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from flows import fit
from flows.settings import Settings
from models import choice_weights
from models.choice_features import FEATURES
from models.room import Room
from tests.flows.test_cli import roomrank


def _world(tmp_path: Path, seed: int) -> Path:
    events = tmp_path / f"world-{seed}.jsonl"
    made = roomrank("simulate", "--seed", str(seed), "--rooms", "3", "--viewers", "150",
                    "--minutes", "8", "--output", str(events))
    assert made.returncode == 0, made.stderr
    return events


def test_fitted_weights_start_the_rooms_of_a_later_run(tmp_path: Path) -> None:
    yesterday, today = _world(tmp_path, 7), _world(tmp_path, 8)
    weights = tmp_path / "weights.json"
    done = roomrank("fit", "--input", str(yesterday), "--output", str(weights),
                    "--min-choices", "50", "--epochs", "5")
    assert done.returncode == 0, done.stderr
    report = done.stderr.decode()
    assert f"fitted {len(FEATURES)} weights on" in report
    assert " of " in report and "spotlight" in report
    body = orjson.loads(weights.read_bytes())
    assert body["fitted_on"]["choices"] >= 50 and body["fitted_on"]["rooms"] == 3
    fitted = choice_weights.read(str(weights))
    assert fitted != tuple(Room("r", Settings.load(env={}).room).model.weights)  # it learned
    # The run's settings carry the file into every new room.
    settings = Settings.load({"choice_weights": str(weights)}, env={})
    assert tuple(Room("r", settings.room).model.weights) == fitted
    pushes = {}
    for tag, extra in (("priors", ()), ("warm", ("--choice-weights", str(weights)))):
        out = tmp_path / f"{tag}.jsonl"
        run = roomrank("run", "--input", str(today), "--output", str(out),
                       "--dead-letters", str(tmp_path / f"{tag}.dead"), *extra)
        assert run.returncode == 0, run.stderr
        pushes[tag] = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    # Same viewers pushed on the same triggers; the warm rooms rank with other weights.
    assert [(p["trigger_id"], p["user_id"]) for p in pushes["priors"]] == [
        (p["trigger_id"], p["user_id"]) for p in pushes["warm"]]
    assert [p["items"] for p in pushes["priors"]] != [p["items"] for p in pushes["warm"]]


def test_a_stream_with_too_few_choices_is_refused_in_one_line(tmp_path: Path) -> None:
    events = _world(tmp_path, 9)
    done = roomrank("fit", "--input", str(events), "--output", str(tmp_path / "w.json"),
                    "--min-choices", "1000000", "--max-choices", "1000000")
    assert done.returncode == 2
    err = done.stderr.decode().strip()
    assert err.startswith("roomrank fit: error: ") and "a fit needs at least 1000000" in err
    assert "\n" not in err and not (tmp_path / "w.json").exists()


def test_a_weights_file_the_job_cannot_use_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    events = _world(tmp_path, 9)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "roomrank-choice-weights", "version": 1, "weights": {"x": 1}}')
    common = ("run", "--input", str(events), "--output", str(tmp_path / "o.jsonl"),
              "--dead-letters", str(tmp_path / "d.jsonl"))
    done = roomrank(*common, "--choice-weights", str(bad))
    assert done.returncode == 2
    assert f"--choice-weights '{bad}': unknown feature 'x'" in done.stderr.decode()
    good = tmp_path / "good.json"
    good.write_bytes(choice_weights.dumps([0.0] * len(FEATURES), {}))
    river = roomrank(*common, "--choice-weights", str(good), "--learner", "river")
    assert river.returncode == 2 and "use --learner fast" in river.stderr.decode()
    env = roomrank(*common, env={"ROOMRANK_CHOICE_WEIGHTS": str(tmp_path / "missing.json")})
    assert env.returncode == 2 and "No such file" in env.stderr.decode()
    assert not (tmp_path / "o.jsonl").exists()


def test_a_long_stream_is_fitted_on_a_bounded_uniform_sample() -> None:
    """A day's choices held whole would not fit in memory: the fit keeps a seeded sample."""
    import numpy as np

    from models.offline.hindsight import replay_rooms
    from tests.flows.helpers import world_lines

    lines = world_lines(seed=2, rooms=2, viewers=80, minutes=6)
    params = Settings.load(env={}).room
    whole = replay_rooms(lines, params, heatmap_viewers=0)
    cap = whole.seen // 3
    sampled = replay_rooms(lines, params, heatmap_viewers=0, max_choices=cap, calibrate=False)
    again = replay_rooms(lines, params, heatmap_viewers=0, max_choices=cap, calibrate=False)
    assert sampled.seen == whole.seen == len(whole.choices) > 30
    assert len(sampled.choices) == cap and not sampled.predicted
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(sampled.choices, again.choices,
                                                          strict=True))
    # A sample of the whole stream, not its first third: some choices from its last third.
    where = {x.tobytes(): n for n, (x, _c, _w) in enumerate(whole.choices)}
    positions = [where[x.tobytes()] for x, _c, _w in sampled.choices]
    assert max(positions) >= 2 * whole.seen // 3 and min(positions) < whole.seen // 3


def test_a_click_farm_in_the_stream_is_fitted_as_one_heavy_viewer() -> None:
    """``roomrank fit`` weighs a viewer's choices beyond the stream's far-out fence at 0, so
    a farm counts as one viewer at the fence; the lab's in-sample bound keeps every choice."""
    import numpy as np

    from models.offline.hindsight import fit, replay_rooms, viewer_weights
    from models.params import RoomParams
    from models.sim.attacks import inject
    from models.sim.world import World

    lines = [orjson.dumps(e) for e in World(5, 2, 80, 6).events()]
    attacked, _ = inject([orjson.loads(line) for line in lines], "click-farm", period_ms=1_000)
    clean = replay_rooms(lines, RoomParams(), heatmap_viewers=0, calibrate=False)
    farmed = replay_rooms([orjson.dumps(e) for e in attacked], RoomParams(), heatmap_viewers=0,
                          calibrate=False)
    cap, weights = viewer_weights(farmed)
    assert 3 <= cap < 100 and viewer_weights(clean)[0] == cap  # two farms leave the fence
    assert len(farmed.choices) - len(clean.choices) > 20 * cap  # the farms' choices
    # every choice within the fence counts, none beyond; the farms keep ``cap`` each
    assert sum(weights) == sum(1 for *_, n in farmed.choices if n <= cap)
    assert len(farmed.choices) - sum(weights) > 10 * cap
    x = np.random.default_rng(3).normal(0, 1, (5, len(FEATURES)))
    assert not np.array_equal(fit([(x, 1, 1)], epochs=2), fit([(x, 1, 1)], epochs=2,
                                                              weights=[0.25]))


def test_the_deployments_weights_variable_neither_blocks_the_fit_nor_hides_its_name(
    tmp_path: Path,
) -> None:
    # found by a red team: ROOMRANK_CHOICE_WEIGHTS naming the file not yet written (or the
    # damaged one being replaced) refused `roomrank fit`, the command the error told to run,
    # and the error named a flag the commands do not have
    events, weights = _world(tmp_path, 7), tmp_path / "w.json"
    weights.write_bytes(b'{"format": "roomrank-choice-weights", "vers')  # cut short
    env = {"ROOMRANK_CHOICE_WEIGHTS": str(weights)}
    refused = roomrank("simulate", "--minutes", "1", "--output", str(tmp_path / "s.jsonl"),
                       env=env)
    assert refused.returncode == 2
    assert refused.stderr.decode().startswith(
        f"roomrank simulate: error: ROOMRANK_CHOICE_WEIGHTS {str(weights)!r}: not JSON")
    done = roomrank("fit", "--input", str(events), "--output", str(weights),
                    "--min-choices", "50", "--epochs", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert len(choice_weights.read(str(weights))) == len(FEATURES)


def test_a_fit_stopped_by_sigterm_or_a_full_disk_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # found by a red team: SIGTERM left a 0-byte weights file, a full disk a 0-byte one too
    events, out = _world(tmp_path, 7), tmp_path / "w.json"
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]

    def stopped(_path: str) -> Iterator[bytes]:
        yield from lines[:100]
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill` would, mid-stream
        yield from lines[100:]

    monkeypatch.setattr(fit, "_lines", stopped)
    settings = Settings.load(env={})
    with pytest.raises(SystemExit) as stop:
        fit.run_fit(settings, str(events), str(out), 2, 50, 100_000, io.StringIO())
    assert stop.value.code == 128 + signal.SIGTERM
    assert not out.exists()
    assert signal.getsignal(signal.SIGTERM) is not fit._stop  # put back

    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fit, "_lines", lambda _path: iter(lines))
    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError, match="No space left"):
        fit.run_fit(settings, str(events), str(out), 2, 50, 100_000, io.StringIO())
    assert list(tmp_path.glob("*w.json*")) == []
    monkeypatch.undo()
    full_disk = roomrank("simulate", "--minutes", "1", "--output", "/dev/full")
    assert full_disk.returncode == 2 and b"Traceback" not in full_disk.stderr
    assert full_disk.stderr.decode().strip() == (
        "roomrank simulate: error: No space left on device; what was written before it is"
        " incomplete")
