"""The fast steps of ``models.choice_scoring`` against their plain forms."""

from __future__ import annotations

import numpy as np

from models.choice_scoring import _FLOAT16


def test_the_float16_table_is_numpys_cast_for_every_bit_pattern() -> None:
    """Exhaustive: all 65,536 float16 values (NaNs with their payloads, infinities, -0.0,
    subnormals) convert to the same float32 bits as ``astype``."""
    bits = np.arange(2**16, dtype=np.uint16)
    cast = bits.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(_FLOAT16.take(bits).view(np.uint32), cast.view(np.uint32))
