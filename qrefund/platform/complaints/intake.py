"""Opening a complaint ticket about a payment or one of its refund cases.

Staff (``OPEN_COMPLAINTS``: SUPPORT, ADMIN) and integrations open tickets for any
payment in scope; a consumer's receipt scope (``FILE_COMPLAINT``) for its own
payment and no other. The priority is derived (a ``REFUND_DELAY`` about a case past
its running deadline is HIGH; a repeat complaint raises it one level) unless staff
set it; the deadlines come from the complaint terms of the merchant's policy in
force, whose version is stamped on the ticket.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import events, sla
from qrefund.platform.complaints.errors import ComplaintError
from qrefund.platform.complaints.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    DESCRIPTION_MAX,
    EMAIL_FINGERPRINT_PURPOSE,
    PHONE_FINGERPRINT_PURPOSE,
    ComplaintAttachment,
    ComplaintTicket,
)
from qrefund.platform.complaints.repository import (
    ComplaintAttachmentRepository,
    ComplaintTicketRepository,
)
from qrefund.platform.complaints.vocabulary import (
    ComplaintCategory,
    ComplaintPriority,
    ComplaintStatus,
)
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Forbidden, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.service import next_sequence
from qrefund.platform.policies import service as policies
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import EvidenceType, RequestChannel
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant

Key = tuple[uuid.UUID, uuid.UUID]
REPEAT_WINDOW = timedelta(days=30)
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Attachment:
    type: EvidenceType
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OpenComplaint:
    """About a payment, a refund case, or both (the case must be of that payment)."""

    category: ComplaintCategory
    description: str
    transaction: Key | None = None  # (merchant, transaction id)
    refund_case: Key | None = None  # (merchant, case id)
    channel: RequestChannel | None = None
    priority: ComplaintPriority | None = None  # staff only: overrides the derived one
    priority_reason: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class _Clean:
    description: str
    phone: str | None
    email: str | None
    priority_reason: str | None
    attachments: list[Attachment]


def _attachments(items: list[Attachment]) -> list[Attachment]:
    if len(items) > MAX_ATTACHMENTS:
        raise InvalidInput(f"at most {MAX_ATTACHMENTS} attachments", field=["attachments"],
                           code=CommonError.TOO_MANY)
    out = []
    for i, a in enumerate(items):
        where = ["attachments", str(i)]
        name = validation.required_text(a.filename, "filename", max_len=200)
        if "/" in name or "\\" in name:
            raise InvalidInput("filename must not contain a path", field=[*where, "filename"],
                               code=CommonError.INVALID_FORMAT)
        if not 0 < a.size <= MAX_ATTACHMENT_BYTES:
            raise InvalidInput(f"size must be between 1 and {MAX_ATTACHMENT_BYTES} bytes",
                               field=[*where, "size"], code=CommonError.OUT_OF_RANGE)
        digest = (a.sha256 or "").strip().lower()
        if not _SHA256.match(digest):
            raise InvalidInput("sha256 must be 64 hex digits", field=[*where, "sha256"],
                               code=CommonError.INVALID_FORMAT)
        out.append(Attachment(type=a.type, filename=name, size=a.size, sha256=digest))
    return out


def _checked(value: str | None, name: str, pattern: re.Pattern[str], max_len: int) -> str | None:
    text = validation.text(value, name, max_len=max_len, required=False)
    if text is not None and not pattern.match(text):
        raise InvalidInput(f"{name} is not valid", field=[name], code=CommonError.INVALID_FORMAT)
    return text


def _clean(cmd: OpenComplaint) -> _Clean:
    """Input checks that need no database (they fail before anything is read)."""
    return _Clean(
        description=validation.required_text(cmd.description, "description",
                                             max_len=DESCRIPTION_MAX),
        phone=_checked(cmd.contact_phone, "contactPhone", _PHONE, 32),
        email=_checked(cmd.contact_email, "contactEmail", _EMAIL, 254),
        priority_reason=validation.text(cmd.priority_reason, "priorityReason", max_len=500,
                                        required=False),
        attachments=_attachments(cmd.attachments),
    )


def fingerprints(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    """Keyed fingerprints of the normalised contact (digits of a phone number; a lower-case
    e-mail address): equal contacts match without being decrypted."""
    ring = key_ring()
    digits = re.sub(r"\D", "", phone or "")
    return (ring.blind_index(digits, PHONE_FINGERPRINT_PURPOSE) if digits else None,
            ring.blind_index(email.lower(), EMAIL_FINGERPRINT_PURPOSE) if email else None)


def _may_open(uow: UnitOfWork, cmd: OpenComplaint) -> uuid.UUID:
    """The merchant complained about, once the caller may open a ticket there."""
    scope = uow.scope
    scope.require(Permission.FILE_COMPLAINT if scope.receipt else Permission.OPEN_COMPLAINTS)
    keys = [k for k in (cmd.transaction, cmd.refund_case) if k is not None]
    if not keys:
        raise InvalidInput("name the payment (transactionId) or the refund case (refundCaseId)",
                           field=["transactionId"], code=CommonError.REQUIRED)
    if not all(scope.allows(k[0]) for k in keys):
        raise NotFound("transaction not found" if cmd.transaction else "refund case not found",
                       field=["transactionId" if cmd.transaction else "refundCaseId"])
    if len({k[0] for k in keys}) > 1:
        raise InvalidInput("the refund case is not a case of this payment",
                           field=["refundCaseId"], code=ComplaintError.CASE_NOT_OF_TRANSACTION)
    if scope.receipt is not None and cmd.priority is not None:
        raise Forbidden("a consumer may not set the priority")
    return keys[0][0]


async def _subject(uow: UnitOfWork, cmd: OpenComplaint) -> tuple[Transaction, RefundCase | None]:
    """The payment (and case) complained about; a consumer's receipt reaches its own only."""
    case = None
    if cmd.refund_case is not None:
        case = await refunds.get_case(uow, *cmd.refund_case)
    txn_key = cmd.transaction or (case.tenant_id, case.transaction_id)  # type: ignore[union-attr]
    if case is not None and cmd.transaction is not None and case.transaction_id != txn_key[1]:
        raise InvalidInput("the refund case is not a case of this payment",
                           field=["refundCaseId"], code=ComplaintError.CASE_NOT_OF_TRANSACTION)
    if uow.scope.receipt is not None and not uow.scope.holds_receipt_of(*txn_key):
        raise NotFound("refund case not found" if case else "transaction not found",
                       field=["refundCaseId" if case else "transactionId"])
    try:
        txn = await transactions.get(uow, *txn_key)
    except NotFound:
        raise NotFound("transaction not found", field=["transactionId"]) from None
    return txn, case


def _derived(cmd: OpenComplaint, case: RefundCase | None, repeat: ComplaintTicket | None,
             now: datetime) -> ComplaintPriority:
    priority = ComplaintPriority.NORMAL
    if cmd.category == ComplaintCategory.REFUND_DELAY and case is not None:
        due = refunds.running_deadline(case)
        if due is not None and due < now:
            priority = ComplaintPriority.HIGH
    return priority.raised() if repeat is not None else priority


async def open_ticket(uow: UnitOfWork, cmd: OpenComplaint) -> ComplaintTicket:
    """A new ticket (OPEN), its attachments, and the event ``complaint.opened``."""
    tenant_id = _may_open(uow, cmd)
    clean = _clean(cmd)
    txn, case = await _subject(uow, cmd)
    merchant = await get_tenant(uow, tenant_id)
    terms = await policies.effective_for(uow, merchant)
    now = utcnow()
    phone_fp, email_fp = fingerprints(clean.phone, clean.email)
    repeat = await ComplaintTicketRepository(uow).latest_related(
        merchant.id, txn.id, [f for f in (phone_fp, email_fp) if f], now - REPEAT_WINDOW)
    derived = _derived(cmd, case, repeat, now)
    ticket = await _new_ticket(uow, merchant, txn, case, cmd, clean, now)
    ticket.priority = (cmd.priority or derived).value
    ticket.priority_reason = clean.priority_reason if cmd.priority else None
    ticket.repeat_of_id = repeat.id if repeat else None
    ticket.contact_phone_fp, ticket.contact_email_fp = phone_fp, email_fp
    ticket.policy_tenant_id, ticket.policy_id = terms.owner_tenant_id, terms.policy_id
    ticket.policy_version = terms.version
    sla.schedule(ticket, sla.Clock(terms, merchant.timezone, merchant.country))
    sla.refresh_next_due(ticket)
    ComplaintTicketRepository(uow).add(ticket)
    await uow.flush()  # the ticket row first: its attachments and events refer to it
    attachments = ComplaintAttachmentRepository(uow)
    for a in clean.attachments:
        attachments.add(ComplaintAttachment(
            tenant_id=ticket.tenant_id, ticket_id=ticket.id, type=a.type.value,
            filename=a.filename, size_bytes=a.size, sha256=a.sha256, created_at=now))
    await events.record(uow, ticket, type="opened", to_status=ComplaintStatus.OPEN, data={
        "derivedPriority": derived.value, "attachments": len(clean.attachments),
        "repeat": repeat is not None})
    return ticket


def _encrypt(value: str | None, purpose: str) -> str | None:
    return key_ring().encrypt(value, purpose) if value else None


async def _new_ticket(uow: UnitOfWork, merchant: Tenant, txn: Transaction,
                      case: RefundCase | None, cmd: OpenComplaint, clean: _Clean, now: datetime
                      ) -> ComplaintTicket:
    number = await next_sequence(uow, merchant.id, "complaint_ticket")
    local_day = now.astimezone(ZoneInfo(merchant.timezone)).strftime("%y%m%d")
    default_channel = RequestChannel.WEB if uow.scope.receipt else RequestChannel.API
    return ComplaintTicket(
        tenant_id=merchant.id, id=new_id(), ticket_number=f"CP{local_day}-{number:06d}",
        transaction_id=txn.id, refund_case_id=case.id if case else None,
        status=ComplaintStatus.OPEN.value, priority=ComplaintPriority.NORMAL.value,
        category=ComplaintCategory(cmd.category).value,
        channel=(cmd.channel or default_channel).value, description=clean.description,
        contact_phone_enc=_encrypt(clean.phone, CONTACT_PHONE_PURPOSE),
        contact_email_enc=_encrypt(clean.email, CONTACT_EMAIL_PURPOSE),
        first_response_due_at=now, resolution_due_at=now, sla_started_at=now,
        opened_by=uow.scope.actor[:80], created_at=now, updated_at=now,
    )
