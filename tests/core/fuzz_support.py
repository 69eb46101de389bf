"""What the fuzz tests (tests/core/test_fuzz_*.py) share: one bounded, deterministic hypothesis
profile, arbitrary JSON values, byte mutations, and a snapshot of a folder to prove nothing changed.

The whole fuzz set is sized to run in about a minute on a CI machine; every run draws the same
examples (``derandomize``), so a failure on CI fails the same way on a laptop.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


_NUMBERS = (
    st.integers()
    | st.sampled_from([0, -1, 1, 2**53, 2**64, -(2**63), 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 1e-320, math.nan, math.inf, -math.inf])
)
_SCALARS = st.none() | st.booleans() | _NUMBERS | st.text(max_size=12)

json_values = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def dumps(value: object) -> str:
    """JSON as a careless or hostile writer makes it: NaN, Infinity and 400-digit numbers included."""
    return json.dumps(value, allow_nan=True)


@st.composite
def mutated(draw, data: bytes, header: int = 64) -> bytes:
    """``data`` with a few bytes flipped, overwritten, inserted or deleted, or cut short; half of
    the edits fall in the first ``header`` bytes, where the format's own fields are."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate")))
        span = min(header, len(buffer)) if draw(st.booleans()) else len(buffer)
        at = draw(st.integers(0, max(span - 1, 0)))
        if kind == "flip" and buffer:
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and buffer:
            buffer[at] = draw(st.sampled_from((0x00, 0xFF, 0x7F, 0x80)) | st.integers(0, 255))
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del buffer[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del buffer[at:]
    return bytes(buffer)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
