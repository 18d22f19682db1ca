"""The documented range of every numeric field of contract v1, checked at decode time.

One table, read by both the readable validation and the fast path, so a range is stated once.
The bounds keep every number inside what the job's arithmetic holds: event times fit int64
and are exact in float64, money and attrs fit float32 (the learners' dtype) with room to
spare, so no valid event can overflow a weight into inf or NaN downstream.

>>> MAX_TS > 4_102_444_800_000  # 2100-01-01 in epoch ms is inside the range
True
>>> MAX_TS < 2**53
True
"""

from __future__ import annotations

from typing import Final

MAX_TS: Final = 253_402_300_799_999
"""Largest ``ts``: 9999-12-31T23:59:59.999Z in epoch ms (exact in float64, far inside int64)."""
MAX_WATCH_MS: Final = 86_400_000
"""Largest ``watch_ms`` of one heartbeat: a day."""
MAX_QTY: Final = 1_000_000
"""Largest ``qty`` of one purchase."""
MAX_MONEY: Final = 1e12
"""Largest ``amount`` or ``price``: the learners take logs and ratios of money in float32."""
MAX_ATTR: Final = 1e30
"""Largest magnitude of an ``attrs`` number (float32 holds about 3.4e38)."""
MAX_NESTING: Final = 128
"""Most levels of arrays and objects inside one another in a message, the message's own object
being the first. Extra fields are the producer's own, but checking a message walks its nesting,
and a few hundred levels exhaust the stack (Python's recursion limit) long before the size
limit: refused with a message that says so, rather than an opaque decoder failure."""
