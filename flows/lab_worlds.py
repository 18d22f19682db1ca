"""Where ``roomrank lab``'s worlds come from: the project's simulator, or a user's own.

The job will meet worlds its simulator did not make, so the lab takes any generator that can
say two things: the events of a world (``events()``, contract dicts in arrival order) and,
for the oracle column, its hidden ranking of a showcase for a viewer (``oracle_ranking``).
``--world FILE.py:CLASS`` loads such a class and builds it as ``CLASS(seed=..., rooms=...,
viewers=..., minutes=..., variant=...)``, one per regime name given (``--regimes``; default:
the class's ``VARIANTS``, else its module's, else ``default``) and seed; "yesterday's" world
for the warm start is the same variant at seed + 1000, as for the simulator.

>>> make, names = world_source("", rooms=1, viewers=5, minutes=1.0)
>>> names[0], type(make("default", 1)).__name__
('default', 'World')
>>> world_source("nowhere.py", 1, 5, 1.0)
Traceback (most recent call last):
...
ValueError: --world must be FILE.py:CLASS (a Python file, a class in it), not 'nowhere.py'
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from models.sim.regimes import REGIMES, regime
from models.sim.world import World


@runtime_checkable
class LabWorld(Protocol):
    def events(self) -> Iterator[dict[str, Any]]: ...

    def oracle_ranking(self, user_id: str, item_ids: tuple[str, ...] | list[str],
                       spotlight: str | None) -> list[str]: ...


WorldMaker = Callable[[str, int], LabWorld]  # (regime or variant, seed) -> a world


def world_source(spec: str, rooms: int, viewers: int, minutes: float,
                 names: Sequence[str] = ()) -> tuple[WorldMaker, tuple[str, ...]]:
    """The lab's world maker and the regimes (or variants) to run: the simulator's when
    ``spec`` is empty, else the class ``spec`` names. Every mistake in ``spec`` is a
    ``ValueError`` naming ``--world``, raised before any world is built."""
    if not spec:
        chosen = tuple(names) or tuple(REGIMES)
        for name in chosen:
            regime(name)  # one line naming the known regimes, before any work

        def simulator(name: str, seed: int) -> LabWorld:
            return World(seed, rooms, viewers, minutes, regime=regime(name))

        return simulator, chosen
    cls = _load_class(spec)
    # the class's VARIANTS, else its module's (a dict of variant -> parameters will do)
    variants = getattr(cls, "VARIANTS", None) or getattr(sys.modules.get(cls.__module__),
                                                         "VARIANTS", None)
    chosen = tuple(names) or (tuple(variants) if variants else ("default",))
    if variants and not set(chosen) <= set(variants):
        unknown = sorted(set(chosen) - set(variants))
        raise ValueError(f"--regimes {', '.join(unknown)}: {spec} offers {', '.join(variants)}")

    def foreign(name: str, seed: int) -> LabWorld:
        world = cls(seed=seed, rooms=rooms, viewers=viewers, minutes=minutes, variant=name)
        if not isinstance(world, LabWorld):
            raise ValueError(f"--world {spec}: its worlds need events() and oracle_ranking()")
        return world

    return foreign, chosen


def _load_class(spec: str) -> type:
    path, _, name = spec.rpartition(":")
    if not path or not name or not path.endswith(".py"):
        raise ValueError(
            f"--world must be FILE.py:CLASS (a Python file, a class in it), not {spec!r}"
        )
    if not Path(path).is_file():
        raise ValueError(f"--world {spec}: no file {path}")
    loaded = importlib.util.spec_from_file_location(f"roomrank_world_{Path(path).stem}", path)
    if loaded is None or loaded.loader is None:
        raise ValueError(f"--world {spec}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loaded)
    # Registered before it runs, as an import would: a dataclass (or anything else that
    # looks its own module up) in the user's file needs it.
    sys.modules[loaded.name] = module
    try:
        loaded.loader.exec_module(module)
    except Exception:
        del sys.modules[loaded.name]
        raise
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        raise ValueError(f"--world {spec}: {path} defines no class {name}")
    wanted = {"seed", "rooms", "viewers", "minutes", "variant"}
    params = inspect.signature(cls).parameters
    if not wanted <= set(params) and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        missing = ", ".join(sorted(wanted - set(params)))
        raise ValueError(f"--world {spec}: {name}(...) must accept {missing} by keyword")
    return cls
