"""Reading a transaction file one line at a time, never the whole file.

Each line becomes a :class:`Parsed` row (its 1-based line number and its fields) or a
:class:`RowError` (line, field, code, message): a line over :data:`MAX_LINE` bytes
(skipped in chunks, never held), bytes that are not UTF-8, a CSV line with the wrong
number of cells, a JSONL line that is not an object. A bad line never stops the file.
CSV lines are parsed one by one: a quoted cell may not hold a line break.

The CSV header must name the required columns (:data:`REQUIRED`) and only known
ones (:data:`COLUMNS`); otherwise the whole file is refused with one error at line 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE = 64 * 1024
_SKIP_CHUNK = 64 * 1024
REQUIRED = ("merchant_order_no", "channel", "provider_reference", "amount", "currency",
            "status", "paid_at")
COLUMNS = (*REQUIRED, "store_id", "terminal_id", "payer_account")


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Parsed:
    row: int
    fields: dict[str, str]


class FileRefused(Exception):
    """The file as a whole cannot be read (a CSV header with wrong columns)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


def _lines(source: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes without the line end), or None for a line over MAX_LINE."""
    number = 0
    while True:
        line = source.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # drop the rest, chunk by chunk
                line = source.readline(_SKIP_CHUNK)
            yield number, None
            continue
        yield number, line.rstrip(b"\r\n")


def _text(number: int, raw: bytes) -> str | RowError:
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return RowError(number, "line", "BAD_ENCODING", "the line is not UTF-8")


def read(source: BinaryIO, fmt: str) -> Iterator[Parsed | RowError]:
    """The file's rows and row errors, in order (``fmt``: ``CSV`` or ``JSONL``)."""
    header: list[str] | None = None
    for number, raw in _lines(source):
        if raw is None:
            yield RowError(number, "line", "LINE_TOO_LONG",
                           f"the line is over {MAX_LINE} bytes")
            continue
        text = _text(number, raw)
        if isinstance(text, RowError):
            if header is None and fmt == "CSV":
                raise FileRefused(text)
            yield text
            continue
        if not text.strip():
            continue
        if fmt == "JSONL":
            yield _json_row(number, text)
        elif header is None:
            header = _header(number, text)
        else:
            yield _csv_row(number, text, header)


def _header(number: int, text: str) -> list[str]:
    names = [c.strip().lower() for c in next(csv.reader([text]))]
    missing = [c for c in REQUIRED if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        raise FileRefused(RowError(number, "header", "WRONG_COLUMNS",
                                   f"missing {missing}, unknown {unknown[:5]}; the header "
                                   f"names {', '.join(REQUIRED)} (and optionally "
                                   "store_id, terminal_id, payer_account)"))
    return names


def _csv_row(number: int, text: str, header: list[str]) -> Parsed | RowError:
    cells = next(csv.reader([text]), [])
    if len(cells) != len(header):
        return RowError(number, "line", "WRONG_COLUMNS",
                        f"{len(cells)} cells where the header has {len(header)}")
    return Parsed(number, {k: v for k, v in zip(header, cells, strict=True) if v != ""})


def _json_row(number: int, text: str) -> Parsed | RowError:
    try:
        value = json.loads(text)
    except ValueError:
        return RowError(number, "line", "BAD_JSON", "the line is not JSON")
    if not isinstance(value, dict):
        return RowError(number, "line", "BAD_JSON", "the line is not a JSON object")
    unknown = [k for k in value if k not in COLUMNS]
    if unknown:
        return RowError(number, str(unknown[0])[:40], "WRONG_COLUMNS", "an unknown key")
    return Parsed(number, {k: str(v) for k, v in value.items() if v is not None})
