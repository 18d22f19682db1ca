"""``roomrank priors``: the starting weights are made by a command, from worlds, not by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from flows.priors import SIMULATOR, fitted_worlds
from models import choice_weights
from models.choice_features import FEATURES

TINY = f"{Path(__file__).parents[1] / 'fixtures' / 'tiny_world.py'}:TinyWorld"
SMALL = ["--seeds", "1", "--rooms", "2", "--viewers", "40", "--minutes", "4"]


def test_the_pooled_weights_are_printed_as_the_literal_and_written_as_a_weights_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pooled.json"
    assert main(["priors", *SMALL, "--world", TINY, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    # one row per world fitted: every tuning regime of the simulator, every variant of the file
    assert "simulator default" in printed and "simulator held-out" not in printed
    assert "TinyWorld picky" in printed and "TinyWorld flat" in printed
    assert "without simulator" in printed and "without TinyWorld" in printed
    literal = printed[printed.index("POOLED: Final = {"):]
    written = dict(zip(FEATURES, choice_weights.read(str(out)), strict=True))
    for name, value in written.items():  # the file and the literal say the same
        assert (f'"{name}": {value},' in literal[:literal.index("PRECISION")]) == (value != 0.0)
    precisions = literal[literal.index("PRECISION: Final = {"):]
    assert all(f'"{name}": ' in precisions for name in FEATURES)


def test_worlds_fitted_in_processes_are_the_same_fits() -> None:
    alone = fitted_worlds((TINY,), (1, 2), 2, 40, 4.0, jobs=1)
    assert fitted_worlds((TINY,), (1, 2), 2, 40, 4.0, jobs=2) == alone
    assert [(f.world, f.seed) for f in alone] == [("picky", 1), ("picky", 2), ("flat", 1),
                                                 ("flat", 2)]
    assert SIMULATOR not in {f.simulator for f in alone}


def test_a_wrong_world_is_one_line_before_any_fit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["priors", *SMALL, "--world", "nowhere.py:W"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--world nowhere.py:W: no file nowhere.py" in err


def test_a_world_with_nothing_to_fit_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["priors", "--seeds", "1", "--rooms", "1", "--viewers", "1", "--minutes", "0.1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "simulator default seed 1: 0 choices" in err, err
    assert "--viewers or --minutes" in err
