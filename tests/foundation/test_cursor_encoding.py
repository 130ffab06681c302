"""A cursor's text is the base64url of ``json.dumps`` of its values, whichever way
``encode_cursor`` spells it (directly for plain values, by ``json.dumps`` otherwise):
cursors a client kept stay the same, and every one decodes to its values."""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

from qrefund.platform.pagination import decode_cursor, encode_cursor


def _reference(values: list[object]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def test_cursors_are_the_json_dumps_text_of_their_values() -> None:
    rng = random.Random("cursors")
    values: list[list[object]] = [
        [datetime(2026, 12, 1, 9, 30, tzinfo=UTC), uuid.UUID(int=7)],
        [datetime(2026, 12, 1, 9, 30, 0, 120, tzinfo=timezone(timedelta(hours=8))), None],
        ['say "hi"', "back\\slash"], ["naïve", "退款"], ["tab\t", "\x00"], ["\u2028", ""],
        [12, 3.5],
    ]
    alphabet = [chr(c) for c in (*range(0, 0x80), 0xe9, 0x2028, 0x9000, 0x1f600)]
    values += [["".join(rng.choices(alphabet, k=rng.randint(0, 8))) for _ in range(2)]
               for _ in range(2000)]
    for cursor_values in values:
        cursor = encode_cursor(cursor_values)
        assert cursor == _reference(cursor_values), cursor_values
        assert decode_cursor(cursor, 2) == [
            v.isoformat() if isinstance(v, datetime) else str(v) for v in cursor_values]
