"""Where export files live (``QREFUND_EXPORT_DIR``), and how they are written.

A file is written as ``<key>.part`` and renamed when complete, so a reader never gets
half a file and a job that died mid-file leaves no finished-looking export. Rows go
out batch by batch through a buffered writer: memory stays flat however many rows.

CSV is UTF-8 with a byte-order mark (Excel, in China and elsewhere, reads BOM-less
UTF-8 as the local code page) and a header row; text cells that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) get a leading ``'``. JSONL is one
JSON object per line, UTF-8, no BOM.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from qrefund.platform.exports.models import ExportFormat

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = frozenset({"amount", "refunded_amount", "requested_amount", "approved_amount",
                      "escalation_level", "policy_version"})
CHUNK = 64 * 1024


def storage_key(tenant_id: uuid.UUID, export_id: uuid.UUID, fmt: ExportFormat) -> str:
    return f"{tenant_id}/{export_id}.{'csv' if fmt == ExportFormat.CSV else 'jsonl'}"


def path_of(root: Path, key: str) -> Path:
    """The file of a storage key, refusing anything that would leave the root (keys are
    made here, but the check costs nothing)."""
    path = (root / key).resolve()
    if root.resolve() not in path.parents:
        raise ValueError("storage key outside the export directory")
    return path


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and column not in _NUMERIC and value.startswith(_FORMULA):
        return "'" + value
    return value


class RowWriter:
    """Rows to a file, CSV or JSONL; use as a context manager, then :meth:`commit`."""

    def __init__(self, path: Path, fmt: ExportFormat, columns: tuple[str, ...]) -> None:
        self.path, self.format, self.columns = path, fmt, columns
        self.part = path.with_name(path.name + ".part")
        self.rows = 0
        self._file: io.TextIOWrapper | None = None
        self._csv: Any = None

    def __enter__(self) -> RowWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.part, "w", encoding="utf-8", newline="",
                          buffering=CHUNK)
        if self.format == ExportFormat.CSV:
            self._file.write(BOM)
            self._csv = csv.writer(self._file, lineterminator="\r\n")
            self._csv.writerow(self.columns)
        return self

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        assert self._file is not None
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([_cell(c, row.get(c)) for c in self.columns])
            else:
                self._file.write(json.dumps({c: row.get(c) for c in self.columns},
                                            ensure_ascii=False, separators=(",", ":")))
                self._file.write("\n")
            self.rows += 1

    def commit(self) -> int:
        """Close, move into place; the file's size in bytes."""
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self.part, self.path)
        return self.path.stat().st_size

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file is not None:  # not committed: drop the partial file
            self._file.close()
            self.part.unlink(missing_ok=True)
