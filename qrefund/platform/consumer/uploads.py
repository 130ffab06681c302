"""Evidence files from receipt holders: judged by content, cleaned, stored, attached.

* At most :data:`MAX_FILES` files per upload and :data:`MAX_FILE_BYTES` each; at most
  :data:`MAX_FILES_PER_RECEIPT` uploaded on one receipt in all.
* Only JPEG, PNG, WebP and PDF, judged by the bytes (``filetype``'s magic numbers);
  the name and the declared type do not count, so a renamed ``.exe`` is refused.
* Images are decoded and re-encoded with Pillow: EXIF (GPS position, camera serial),
  XMP and text chunks are dropped, the EXIF orientation is applied to the pixels first,
  and anything Pillow cannot decode whole is refused. PDFs are kept as sent.
* ``sha256`` is of the stored bytes, recorded with the size and content type.

Stable signatures (the page and the API call these):

* ``upload(uow, token, files: list[Upload], store) -> list[StoredFile]``
* ``evidence_for(uow, held, file_ids) -> list[intake.Evidence]`` (used by the service)
* ``upload_link(uow, token, *, base_url) -> tuple[str, datetime]``
* ``download_link(tenant_id, file_id, *, base_url) -> str``
* ``download(uow, tenant_id, file_id, store) -> Download | None``
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.consumer import links
from qrefund.platform.consumer.errors import ConsumerError
from qrefund.platform.consumer.holding import HeldReceipt, hold_receipt
from qrefund.platform.consumer.models import EvidenceFile
from qrefund.platform.consumer.repository import EvidenceFileRepository
from qrefund.platform.consumer.storage import EvidenceStore
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.refunds import intake
from qrefund.platform.vocabulary import EvidenceType

MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_PER_RECEIPT = 20
MAX_PIXELS = 40_000_000  # a 5 MB file may still unpack into gigabytes: refuse those
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
PDF = "application/pdf"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    tenant_id: uuid.UUID
    id: uuid.UUID
    type: str
    content_type: str
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Download:
    content_type: str
    filename: str
    data: bytes


def _refuse(index: int, message: str, code: ConsumerError) -> InvalidInput:
    return InvalidInput(message, field=["files", str(index)], code=code)


def _reencoded(data: bytes, fmt: str, index: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != fmt:
                raise _refuse(index, "the image is not what its content says",
                              ConsumerError.FILE_TYPE_NOT_ALLOWED)
            if image.width * image.height > MAX_PIXELS:
                raise _refuse(index, "the image has too many pixels",
                              ConsumerError.FILE_TOO_LARGE)
            image.load()
            upright = ImageOps.exif_transpose(image)
            if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            out = io.BytesIO()
            # No exif=, no pnginfo=: Pillow writes none of the metadata it read.
            upright.save(out, format=fmt, **({"quality": 90} if fmt != "PNG" else {}))
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            SyntaxError):
        raise _refuse(index, "the image cannot be read",
                      ConsumerError.FILE_TYPE_NOT_ALLOWED) from None


def cleaned(upload: Upload, index: int) -> tuple[str, bytes]:
    """(content type, the bytes to store) of an acceptable file; a coded refusal else."""
    if not upload.data:
        raise _refuse(index, "the file is empty", ConsumerError.FILE_TYPE_NOT_ALLOWED)
    if len(upload.data) > MAX_FILE_BYTES:
        raise _refuse(index, f"a file may have at most {MAX_FILE_BYTES} bytes",
                      ConsumerError.FILE_TOO_LARGE)
    kind = filetype.guess(upload.data)
    mime = kind.mime if kind is not None else None
    if mime == PDF and upload.data.startswith(b"%PDF-"):
        return PDF, upload.data
    if mime not in _FORMATS:
        raise _refuse(index, "only JPEG, PNG, WebP and PDF files are accepted",
                      ConsumerError.FILE_TYPE_NOT_ALLOWED)
    return mime, _reencoded(upload.data, _FORMATS[mime], index)


def _filename(name: str, index: int) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = validation.text(base, "filename", max_len=200, required=False)
    return text or f"evidence-{index + 1}"


async def upload(uow: UnitOfWork, token: str, files: Sequence[Upload], store: EvidenceStore
                 ) -> list[StoredFile]:
    """Store files for the receipt's payment (not yet attached to a case)."""
    if not files:
        raise InvalidInput("no files", field=["files"], code=CommonError.REQUIRED)
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files at once", field=["files"],
                           code=CommonError.TOO_MANY)
    held = await hold_receipt(uow, token)
    txn = held.txn
    repo = EvidenceFileRepository(uow)
    if await repo.count_of_transaction(txn.tenant_id, txn.id) + len(files) \
            > MAX_FILES_PER_RECEIPT:
        raise InvalidInput(f"at most {MAX_FILES_PER_RECEIPT} files per receipt",
                           field=["files"], code=CommonError.TOO_MANY)
    prepared = [(f, *cleaned(f, i), _filename(f.filename, i)) for i, f in enumerate(files)]
    stored = []
    for _f, content_type, data, name in prepared:
        row = EvidenceFile(
            tenant_id=txn.tenant_id, id=new_id(), transaction_id=txn.id,
            type=(EvidenceType.OTHER if content_type == PDF else EvidenceType.PHOTO).value,
            content_type=content_type, filename=name, size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(), storage_key=await store.put(data))
        repo.add(row)
        stored.append(StoredFile(tenant_id=row.tenant_id, id=row.id, type=row.type,
                                 content_type=row.content_type, filename=row.filename,
                                 size=row.size_bytes, sha256=row.sha256))
    await uow.flush()
    return stored


async def evidence_for(uow: UnitOfWork, held: HeldReceipt, file_ids: Sequence[uuid.UUID]
                       ) -> list[intake.Evidence]:
    """Uploaded, not yet attached files of the receipt's payment, as case evidence; each
    is marked attached by the caller's case (:func:`attach`). Another payment's file, or
    one already attached, is *not found*."""
    if len(file_ids) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} evidence files", field=["evidenceIds"],
                           code=CommonError.TOO_MANY)
    wanted = list(dict.fromkeys(file_ids))
    found = {f.id: f for f in await EvidenceFileRepository(uow).of_transaction(
        held.txn.tenant_id, held.txn.id, wanted, lock=True) if f.case_id is None}
    for i, file_id in enumerate(wanted):
        if file_id not in found:
            raise NotFound("evidence file not found", field=["evidenceIds", str(i)])
    return [intake.Evidence(type=EvidenceType(found[i].type), filename=found[i].filename,
                            size=found[i].size_bytes, sha256=found[i].sha256, id=i)
            for i in wanted]


async def attach(uow: UnitOfWork, held: HeldReceipt, file_ids: Sequence[uuid.UUID],
                 case_id: uuid.UUID) -> None:
    repo = EvidenceFileRepository(uow)
    for row in await repo.of_transaction(held.txn.tenant_id, held.txn.id, file_ids):
        row.case_id = case_id
        repo.add(row)
    await uow.flush()


async def upload_link(uow: UnitOfWork, token: str, *, base_url: str) -> tuple[str, datetime]:
    """A signed URL to POST the receipt's evidence files to, and when it expires."""
    held = await hold_receipt(uow, token)
    expires = utcnow() + links.UPLOAD_TTL
    ticket = links.sign(links.UPLOAD, held.txn.tenant_id, held.txn.id, expires_at=expires,
                        version=held.txn.receipt_token_version)
    return f"{base_url.rstrip('/')}/uploads/{ticket}", expires


def download_link(tenant_id: uuid.UUID, file_id: uuid.UUID, *, base_url: str) -> str:
    """A signed link to one file, valid :data:`links.DOWNLOAD_TTL`; whoever holds it may
    read the file, so it is handed only to the receipt holder and the merchant's staff."""
    link = links.sign(links.DOWNLOAD, tenant_id, file_id,
                      expires_at=utcnow() + links.DOWNLOAD_TTL)
    return f"{base_url.rstrip('/')}/evidence/{link}"


async def download(uow: UnitOfWork, tenant_id: uuid.UUID, file_id: uuid.UUID,
                   store: EvidenceStore) -> Download | None:
    row = await EvidenceFileRepository(uow).get(tenant_id, file_id)
    if row is None:
        return None
    data = await store.get(row.storage_key)
    return None if data is None else Download(row.content_type, row.filename, data)
