"""The backup archive: a tar holding ``manifest.json`` first, then one JSONL file per table.

The manifest names the format and the schema revision it was taken at, the tenants,
the encryption key ids its ciphertexts need, and for every table file its row count,
size and SHA-256. Tables are written to spool files while their rows stream from the
database (a tar member's size comes before its body), so memory stays flat.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = "qrefund-tenant-backup"
VERSION = 1
MANIFEST = "manifest.json"
MAX_LINE = 16 * 1024 * 1024  # one row; far above any real one


class BackupRefused(ValueError):
    """The archive is not one this deployment can restore (format, schema, checksum)."""


@dataclass
class TableFile:
    name: str
    rows: int = 0
    size: int = 0
    sha256: str = ""

    @property
    def member(self) -> str:
        return f"tables/{self.name}.jsonl"


@dataclass
class Manifest:
    tenant_id: str
    tenant_ids: list[str]
    schema_revision: str
    created_at: str
    ancestors: list[dict[str, Any]] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)
    tables: list[TableFile] = field(default_factory=list)

    def to_json(self) -> bytes:
        body = {"format": FORMAT, "version": VERSION, **self.__dict__,
                "tables": [t.__dict__ for t in self.tables]}
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.pop("format") != FORMAT or body.pop("version") != VERSION:
                raise BackupRefused("not a qrefund tenant backup of a known version")
            body["tables"] = [TableFile(**t) for t in body["tables"]]
            return cls(**body)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, BackupRefused):
                raise
            raise BackupRefused(f"unreadable manifest: {exc}") from None


class TableWriter:
    """One table's JSONL spool: lines written, counted and hashed as they go."""

    def __init__(self, folder: Path, name: str) -> None:
        self.file = TableFile(name)
        self.path = folder / f"{name}.jsonl"
        self._out: IO[bytes] = self.path.open("wb")
        self._hash = hashlib.sha256()

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._out.write(line)
        self._hash.update(line)
        self.file.rows += 1
        self.file.size += len(line)

    def close(self) -> TableFile:
        self._out.close()
        self.file.sha256 = self._hash.hexdigest()
        return self.file


def write_archive(out: Path, manifest: Manifest, folder: Path) -> None:
    """The tar: manifest first (an importer checks it before reading anything else)."""
    with tarfile.open(out, "w") as tar:
        raw = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        for table in manifest.tables:
            tar.add(folder / f"{table.name}.jsonl", arcname=table.member, recursive=False)


def spool_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="qrefund-backup-")


class ArchiveReader:
    """Reads an archive; :meth:`verify` checks every table file against the manifest."""

    def __init__(self, path: Path) -> None:
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 (closed by close())
        except (OSError, tarfile.TarError) as exc:
            raise BackupRefused(f"not a readable tar archive: {exc}") from None
        self.manifest = Manifest.from_json(self._member(MANIFEST).read())

    def _member(self, name: str) -> IO[bytes]:
        try:
            found = self._tar.extractfile(name)
        except KeyError:
            found = None
        if found is None:
            raise BackupRefused(f"the archive has no {name}")
        return found

    def verify(self) -> None:
        for table in self.manifest.tables:
            digest, size = hashlib.sha256(), 0
            stream = self._member(table.member)
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            if digest.hexdigest() != table.sha256 or size != table.size:
                raise BackupRefused(f"{table.member}: checksum mismatch")

    def rows(self, table: TableFile) -> Iterator[dict[str, Any]]:
        stream = self._member(table.member)
        for number, line in enumerate(iter(lambda: stream.readline(MAX_LINE), b""), 1):
            try:
                row = json.loads(line)
            except ValueError:
                raise BackupRefused(f"{table.member}:{number}: not JSON") from None
            if not isinstance(row, dict):
                raise BackupRefused(f"{table.member}:{number}: not an object")
            yield row

    def close(self) -> None:
        self._tar.close()
