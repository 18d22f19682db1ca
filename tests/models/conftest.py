"""The golden room's run, made once per test module that asks for it."""

from __future__ import annotations

from typing import Any

import pytest

from models.room import Room
from tests.models.golden_room import GOLDEN, run


@pytest.fixture(scope="module")
def golden() -> tuple[Room, list[Any]]:
    return run(GOLDEN)
