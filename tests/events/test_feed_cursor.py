"""The feed's cursor holds a position per tenant followed: an agency's is long."""

from __future__ import annotations

import uuid

import pytest

from qrefund.platform.errors import InvalidInput
from qrefund.platform.outbox.feed import MAX_FEED_CURSOR_LENGTH, Cursor


def test_an_agency_cursor_over_many_merchants_round_trips() -> None:
    # Given positions in 1,000 merchants' streams (a large agency's feed)
    positions = {uuid.uuid4(): n * 7919 + 1 for n in range(1000)}
    encoded = Cursor(positions).encode()
    assert len(encoded) > 512  # far beyond a list's keyset cursor
    # Then the cursor handed out is accepted back as it was
    parsed = Cursor.parse(encoded)
    assert parsed is not None and parsed.positions == positions


def test_an_oversized_cursor_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Cursor.parse("A" * (MAX_FEED_CURSOR_LENGTH + 1))
