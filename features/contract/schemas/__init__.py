"""JSON Schemas of contract v1's three message kinds, shipped for downstream consumers."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

NAMES = ("room-event", "recommendation", "dead-letter")


@cache
def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of ``NAMES``) as a dict."""
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r}; schemas are: {', '.join(NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")
    return dict(json.loads(text))
