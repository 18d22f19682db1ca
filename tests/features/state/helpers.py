"""Hypothesis settings shared by the property tests of the per-room state primitives."""

from __future__ import annotations

from hypothesis import settings

PROPERTY = settings(max_examples=150, deadline=None, database=None)
