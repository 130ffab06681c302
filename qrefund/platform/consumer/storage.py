"""Where evidence bytes live: a small interface and the local-directory store.

Keys are random (``<uuid hex>``), sharded one level by their first two characters;
nothing in a key comes from the consumer (no filename, no path). An S3-compatible
store would implement the same three methods.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

from qrefund.platform.config import Settings

_KEY = re.compile(r"^[0-9a-f]{32}$")


class EvidenceStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store the bytes; their new key."""
        ...

    async def get(self, key: str) -> bytes | None:
        ...

    async def delete(self, key: str) -> None:
        ...


class LocalEvidenceStore:
    """Files under a directory (``QREFUND_UPLOAD_DIR``), written atomically, mode 0600."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("not an evidence key")
        return self.root / key[:2] / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        partial.replace(path)

    async def put(self, data: bytes) -> str:
        key = uuid.uuid4().hex
        await asyncio.to_thread(self._write, key, data)
        return key

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


def evidence_store(settings: Settings) -> EvidenceStore:
    return LocalEvidenceStore(Path(settings.upload_dir))
