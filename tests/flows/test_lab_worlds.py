"""``roomrank lab --world FILE.py:CLASS``: the lab on a world generator that is not the
project's simulator (``tests/fixtures/tiny_world.py``), and one clear line for every way the
flag can be wrong, before any world is built."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from flows.cli import main
from flows.lab import COLUMNS, run_lab
from flows.lab_worlds import world_source

TINY = str(Path(__file__).parents[1] / "fixtures" / "tiny_world.py")


def test_the_lab_runs_the_job_and_its_peers_on_a_users_own_world() -> None:
    rows = run_lab(seeds=(1,), rooms=2, viewers=40, minutes=4.0, world=f"{TINY}:TinyWorld")
    assert [r.regime for r in rows] == ["picky", "flat"]  # the class's VARIANTS, in order
    picky, flat = rows
    assert set(picky.hr) >= set(COLUMNS) - {"control"}
    # The class's own oracle scores the pairs: in ``picky`` it knows every viewer's choice.
    assert picky.hr["oracle"] == 1.0 and flat.hr["oracle"] < 0.6
    # Taste that is there is learned; where choices are uniform nothing is.
    assert picky.hr["attention"] > picky.hr["spotlight_first"] + 0.3
    assert flat.hr["attention"] < 0.6


def test_one_variant_by_name() -> None:
    make, names = world_source(f"{TINY}:TinyWorld", 1, 4, 1.0, ("flat",))
    assert names == ("flat",) and make("flat", 3).variant == "flat"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "regimes", "message"),
    [
        ("tiny_world.py", "", "--world must be FILE.py:CLASS"),
        ("/no/such/world.py:W", "", "--world /no/such/world.py:W: no file /no/such/world.py"),
        (f"{TINY}:Nope", "", "defines no class Nope"),
        (f"{TINY}:TinyWorld", "sunny", "--regimes sunny: .* offers picky, flat"),
        ("", "sunny", "unknown regime"),
    ],
)
def test_a_wrong_world_is_one_line_before_any_work(
    spec: str, regimes: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["lab", "--seeds", "1", "--rooms", "1", "--viewers", "5", "--minutes", "1"]
    assert main([*args, "--world", spec, "--regimes", regimes]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_a_class_whose_worlds_cannot_be_scored_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "eventsonly.py"
    source.write_text(
        "class W:\n"
        "    def __init__(self, seed, rooms, viewers, minutes, variant):\n"
        "        pass\n"
        "    def events(self):\n"
        "        return iter(())\n"
    )
    make, _ = world_source(f"{source}:W", 1, 1, 1.0)
    with pytest.raises(ValueError, match="need events\\(\\) and oracle_ranking\\(\\)"):
        make("default", 1)
    source.write_text("class W:\n    def __init__(self, seed):\n        pass\n")
    with pytest.raises(ValueError, match="must accept minutes, rooms, variant, viewers"):
        world_source(f"{source}:W", 1, 1, 1.0)


def test_a_world_written_with_dataclasses_or_module_variants_loads(tmp_path: Path) -> None:
    """A dataclass looks its module up while the class is made: the file is registered as
    a module before it runs, as an import would, or it fails to load."""
    source = tmp_path / "dataclassy.py"
    source.write_text(
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class Item:\n"
        "    price: float\n"
        "class W:\n"
        "    def __init__(self, seed, rooms, viewers, minutes, variant):\n"
        "        self.item = Item(1.0)\n"
        "    def events(self):\n"
        "        return iter(())\n"
        "    def oracle_ranking(self, user_id, item_ids, spotlight):\n"
        "        return list(item_ids)\n"
    )
    make, names = world_source(f"{source}:W", 1, 1, 1.0)
    assert names == ("default",) and make("default", 1).item.price == 1.0  # type: ignore[attr-defined]
    # variants named by the module (a dict of variant -> parameters), not the class
    source.write_text(source.read_text() + "VARIANTS = {'calm': 1, 'busy': 2}\n")
    assert world_source(f"{source}:W", 1, 1, 1.0)[1] == ("calm", "busy")


WORLDS = Path(__file__).parents[1] / "worlds"


@pytest.mark.parametrize(
    ("spec", "variant"),
    [*(("herd_world.py:HerdWorld", v) for v in ("base", "herding", "two-stage", "quality")),
     *(("foreign_world.py:ForeignWorld", v)
       for v in ("base", "price-driven", "popularity-driven", "niche")),
     *(("bazaar_world.py:BazaarWorld", v) for v in ("bundles", "flash", "pitch", "missions")),
     *(("shelf_world.py:ShelfWorld", v)
       for v in ("novelty", "anchoring", "social", "position")),
     *(("stall_world.py:StallWorld", v)
       for v in ("attr_driven", "persona_match", "noise_attrs", "spotlight_drift")),
     *(("arcade_world.py:ArcadeWorld", v)
       for v in ("clickbait", "hoppers", "churn", "crowded")),
     *(("market_world.py:MarketWorld", v)
       for v in ("bundles", "sated", "persuasion", "cliques")),
     *(("studio_world.py:StudioWorld", v)
       for v in ("budget_drift", "anchor_scarcity", "coupons_ads", "lurkers_repeat"))],
)
def test_the_independent_worlds_speak_the_contract(spec: str, variant: str) -> None:
    """``tests/worlds``, written from the contract alone: every event is usable (no dead
    letter) and the viewers are pushed."""
    from flows.settings import Settings
    from tests.flows.helpers import run_lines

    make, _ = world_source(f"{WORLDS / spec}", 3, 80, 4.0, (variant,))
    lines = [orjson.dumps(e) for e in make(variant, 5).events()]
    pushes, letters = run_lines(lines, Settings.load(env={}))
    assert len(lines) > 300 and len(pushes) > 50
    assert letters == []


@pytest.mark.parametrize(
    "variant", ["budget_drift", "anchor_scarcity", "coupons_ads", "lurkers_repeat"]
)
def test_the_studio_worlds_oracle_ranks_every_showcase_it_is_asked_about(variant: str) -> None:
    """The oracle is a permutation of the showcase for every viewer pushed on it, the same
    world comes from the same seed, and its top three hold the viewers' clicks more often
    than chance does."""
    make, _ = world_source(f"{WORLDS / 'studio_world.py:StudioWorld'}", 3, 80, 4.0, (variant,))
    world = make(variant, 5)
    events = list(world.events())
    assert events == list(make(variant, 5).events())
    current: dict[str, tuple[tuple[str, ...], str | None]] = {}
    hits = clicks = 0
    for e in events:
        if e["type"] == "showcase":
            current[e["room_id"]] = (tuple(i["item_id"] for i in e["items"]), e["spotlight"])
        elif e["type"] in ("enter", "item_click") and e["room_id"] in current:
            ids, spot = current[e["room_id"]]
            ranked = world.oracle_ranking(e["user_id"], ids, spot)
            assert sorted(ranked) == sorted(ids)
            if e["type"] == "item_click":
                clicks += 1
                hits += e["item_id"] in ranked[:3]
    assert clicks > 100
    assert hits / clicks > 1.5 * 3 / 16  # chance is at most 3 of the 16 to 22 items
