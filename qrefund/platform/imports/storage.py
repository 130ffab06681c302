"""Where uploaded import files and their error reports live: under the export
directory (``QREFUND_EXPORT_DIR``, shared by the API and the workers), beside the
exports, through the same key-to-path rule (:func:`qrefund.platform.exports.files.path_of`).

An upload is copied chunk by chunk (never held in memory) into ``<key>.part`` and
renamed when complete; the copy counts the file's lines on the way, which is the
import's ``rowsTotal`` until the job has read every row.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from qrefund.platform.errors import InvalidInput
from qrefund.platform.exports.files import CHUNK, path_of
from qrefund.platform.imports.errors import TransactionImportError
from qrefund.platform.imports.models import ImportFormat


def upload_key(tenant_id: uuid.UUID, import_id: uuid.UUID, fmt: ImportFormat) -> str:
    return f"imports/{tenant_id}/{import_id}.{fmt.value.lower()}"


def report_key(tenant_id: uuid.UUID, import_id: uuid.UUID) -> str:
    return f"imports/{tenant_id}/{import_id}.errors.csv"


def path(root: Path, key: str) -> Path:
    return path_of(root, key)


@dataclass(frozen=True)
class Stored:
    size: int
    lines: int


def save(source: BinaryIO, target: Path, max_bytes: int) -> Stored:
    """Copy ``source`` to ``target``; :class:`InvalidInput` (FILE_TOO_LARGE) as soon as
    it passes ``max_bytes`` (nothing is left behind)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    size = lines = 0
    last = b"\n"
    try:
        with part.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise InvalidInput(f"the file is over {max_bytes} bytes", field=["file"],
                                       code=TransactionImportError.IMPORT_FILE_TOO_LARGE)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return Stored(size, lines + (last != b"\n"))
