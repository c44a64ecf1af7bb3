"""One rule for what an id is: ASCII digits within a bigint."""

from __future__ import annotations

import pytest

from loyaltysite.ids import parse_id


@pytest.mark.parametrize(("value", "expected"), [
    ("1", 1), ("9223372036854775807", 2**63 - 1), (42, 42),
    ("0", None), ("9223372036854775808", None), ("¹", None), ("①", None), ("١٢", None),
    (" 1", None), ("1_0", None), ("+1", None), ("-1", None), ("1\x00", None), ("", None),
    (True, None), (None, None), (1.0, None),
])
def test_only_ascii_digits_within_a_bigint_are_ids(value, expected):
    assert parse_id(value) == expected
