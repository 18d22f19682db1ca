"""Settings the job refuses at start-up, with one line naming where the value came from.

A value outside its meaning used to reach a room and fail there (rc 70 as a room-logic bug,
or rankings quietly wrecked by NaN); each is now refused by ``Settings.load`` before anything
is read or written.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from features.contract.schema import MAX_SHOWCASE_ITEMS
from flows.settings import MAX_DIM, SETTINGS, Settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("top_k", 10**20, f"--top-k must be 1 to {MAX_SHOWCASE_ITEMS}, got 100000000000000000000"),
        ("top_k", MAX_SHOWCASE_ITEMS + 1, "--top-k must be 1 to 500"),
        ("dim", 10**12, f"--dim must be 1 to {MAX_DIM}, got 1000000000000"),
        ("propensity_learning_rate", "nan", "--propensity-learning-rate must be a finite number"),
        ("learning_rate", "inf", "--learning-rate must be a finite number, got inf"),
        ("learning_rate", "-1", "--learning-rate must be 0 to 1, got -1.0"),
        ("learning_rate", "1e308", "--learning-rate must be 0 to 1, got 1e+308"),
        ("choice_prior_scale", "-inf", "--choice-prior-scale must be a finite number"),
        ("allocation_stop_loss", "nan", "--allocation-stop-loss must be a finite number"),
        ("conversion_window_ms", -1, "--conversion-window-ms must be >= 1, got -1"),
        ("quiet_flush_ms", -1, "--quiet-flush-ms must be >= 0, got -1"),
        ("room_idle_ms", -1, "--room-idle-ms must be >= 0, got -1"),
        ("allocation_min_pushes", -1, "--allocation-min-pushes must be >= 0, got -1"),
        ("forget_after_ms", 0, "--forget-after-ms must be >= 1, got 0"),
        ("dedup_max_ids", 0, "--dedup-max-ids must be >= 1, got 0"),
        ("dedup_horizon_ms", 0, "--dedup-horizon-ms must be >= 1, got 0"),
        ("max_ahead_ms", 10**19, "--max-ahead-ms must be at most 253402300799999"),
        ("experiment", "", "--experiment must not be empty"),
        ("input_topic", "", "--input-topic must not be empty"),
        ("recovery_dir", " ", "--recovery-dir is blank (' ')"),
    ],
)
def test_a_flag_outside_its_meaning_is_refused_naming_the_flag(
    name: str, value: object, expected: str
) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.load({name: value}, env={})
    assert str(refused.value).startswith(expected)
    assert "\n" not in str(refused.value)


def test_an_environment_variable_outside_its_meaning_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^ROOMRANK_BACKUP_SECS must be >= 0, got -1"):
        Settings.load(env={"ROOMRANK_BACKUP_SECS": "-1"})
    with pytest.raises(ValueError, match=r"^ROOMRANK_RECOVERY_DIR is blank"):
        Settings.load(env={"ROOMRANK_RECOVERY_DIR": " \t"})
    # the flag wins over the environment, and the value checked is the one used
    assert Settings.load({"backup_secs": 5}, env={"ROOMRANK_BACKUP_SECS": "-1"}).backup_secs == 5
    # even one that is no number (a red team: ROOMRANK_TOP_K=abc refused `--top-k 2`)
    assert Settings.load({"top_k": 2}, env={"ROOMRANK_TOP_K": "abc"}).top_k == 2


def test_zero_is_kept_where_it_means_off_or_frozen() -> None:
    zeros = {"quiet_flush_ms": 0, "room_idle_ms": 0, "allocation_half_life_ms": 0,
             "allocation_min_pushes": 0, "lateness_ms": 0, "backup_secs": 0,
             "propensity_learning_rate": 0.0, "learning_rate": 0.0, "choice_prior_scale": 0.0,
             "metrics_port": 0}  # fmt: skip
    settings = Settings.load(zeros, env={})
    assert all(getattr(settings, name) == 0 for name in zeros)


def test_every_default_is_inside_its_own_range() -> None:
    assert Settings.load(env={}).values == {s.name: s.default for s in SETTINGS}


def test_a_window_of_too_many_buckets_and_an_arm_wider_than_a_showcase_are_refused() -> None:
    with pytest.raises(ValueError, match=r"--window-ms 100000000 / --bucket-ms 1 makes"):
        Settings.load({"window_ms": 100_000_000, "bucket_ms": 1}, env={})
    with pytest.raises(ValueError, match=r"--arms: k=900 is more items than a showcase holds"):
        Settings.load({"arms": "wide=1:k=900"}, env={})


def test_the_ranges_are_documented_where_the_settings_are() -> None:
    assert "| items per push; accepted: 1 to 500 |" in markdown_table()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--help"], cwd=ROOT,
                          capture_output=True, timeout=120, check=True)  # fmt: skip
    assert b"vectors; accepted: 1 to 1024" in b" ".join(done.stdout.split())  # --dim


def test_the_command_line_exits_2_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--input", "x", "--output", "y",
         "--dead-letters", "z", "--propensity-learning-rate", "nan"],
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        "roomrank run: error: --propensity-learning-rate must be a finite number, got nan (SGD"
        " step of the choice model (attention and propensity weights); 0 freezes it)"
    ]


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="roomrank"):
        settings = Settings.load(env={"ROOMRANK_TOPK": "5", "ROOMRANK_INPUT": "events.jsonl"})
    assert settings.top_k == 3  # ignored, and said so
    assert [r.getMessage() for r in caplog.records] == [
        "ROOMRANK_TOPK is not a roomrank setting and is ignored (did you mean ROOMRANK_TOP_K?)"
    ]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"dead_letter_topic": "live.room-events"}, "--input-topic and --dead-letter-topic"),
        ({"experiment_topic": "live.recommendations"}, "--output-topic and --experiment-topic"),
        ({"output_topic": "live.room-events"}, "--input-topic and --output-topic"),
    ],
)
def test_two_roles_on_one_topic_are_refused_in_kafka_mode(given: dict, words: str) -> None:
    # found by a red team: dead letters on the input looped without end, ghost pushes on the
    # output reached viewers the holdout keeps from them, pushes on the input were read back
    with pytest.raises(ValueError, match=f"{words} name the same topic"):
        Settings.load({"brokers": "localhost:9092", **given}, env={})
    with pytest.raises(ValueError, match="name the same topic"):  # from the environment too
        Settings.load({"brokers": "localhost:9092"},
                      env={f"ROOMRANK_{k.upper()}": v for k, v in given.items()})
    assert Settings.load(given, env={}).brokers == ""  # file mode uses no topic


@pytest.mark.parametrize("name", ["bad topic!", "x" * 250, "..", "naïve"])
def test_a_name_kafka_would_refuse_is_refused_before_any_topic_is_made(name: str) -> None:
    # found by a red team: the broker's refusal came as a traceback, after other topics
    with pytest.raises(ValueError, match=r"--input-topic .* is not a Kafka topic name"):
        Settings.load({"brokers": "localhost:9092", "input_topic": name}, env={})
