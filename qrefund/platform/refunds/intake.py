"""Intake: a refund request becomes a case, or a clear refusal.

Eligibility is judged under the transaction's row lock against the merchant's
policy in force (its version is stamped on the case): transaction status, refund
window, reason, method, evidence, partial refunds, remaining refundable amount and
the per-transaction cap. The requested amount is reserved on the transaction in the
same unit, which is what makes concurrent requests unable to over-claim.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qrefund.platform import screening, validation
from qrefund.platform.channels import service as channels
from qrefund.platform.clock import utcnow
from qrefund.platform.config import get_settings
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, ErrorCode, InvalidInput, InvalidState, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.money import Money, normalize_currency
from qrefund.platform.otp import Contact
from qrefund.platform.outbox.service import draws_on_insert, next_sequence
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.terms import PolicyTerms
from qrefund.platform.refunds import idempotency
from qrefund.platform.refunds.errors import RefundError
from qrefund.platform.refunds.lifecycle import Action
from qrefund.platform.refunds.models import (
    BANK_DESTINATION_FINGERPRINT_PURPOSE,
    BANK_DESTINATION_PURPOSE,
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    EMAIL_FINGERPRINT_PURPOSE,
    PHONE_FINGERPRINT_PURPOSE,
    RefundCase,
    RefundEvidence,
)
from qrefund.platform.refunds.repository import RefundCaseRepository, RefundEvidenceRepository
from qrefund.platform.refunds.service import (
    approve_locked,
    count_event,
    get_case,
    lock_transaction,
    record_case_event,
    transition,
)
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import Transaction, TransactionStatus
from qrefund.platform.vocabulary import (
    EvidenceType,
    RefundCaseStatus,
    RefundMethod,
    RefundReason,
    RequestChannel,
    RiskFlag,
)
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant

AUTO_APPROVER = "system:auto_approve"
MAX_EVIDENCE = 10
MAX_EVIDENCE_BYTES = 50 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Evidence:
    type: EvidenceType
    filename: str
    size: int
    sha256: str
    # The id of the uploaded file it describes (the consumer channel's evidence files):
    # the evidence row takes it, so staff reach the bytes from the case.
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class SubmitRefund:
    tenant_id: uuid.UUID  # the transaction's merchant
    transaction_id: uuid.UUID
    amount: Decimal
    reason: RefundReason
    channel: RequestChannel
    method: RefundMethod | None = None
    description: str | None = None
    currency: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    contact_phone: str | None = None
    contact_email: str | None = None
    bank_destination: str | None = None
    flagged_as_risk: bool = False
    idempotency_key: str | None = None

    def fingerprint(self) -> dict[str, object]:
        """What makes two submissions "the same input" for an idempotency key."""
        return {
            "transaction": str(self.transaction_id), "amount": str(self.amount),
            "reason": self.reason.value, "channel": self.channel.value,
            "method": self.method.value if self.method else None, "description": self.description,
            "currency": self.currency, "flagged": self.flagged_as_risk,
            "evidence": [[e.type.value, e.filename, e.size, e.sha256] for e in self.evidence],
            "contact": [self.contact_phone, self.contact_email, self.bank_destination],
        }


@dataclass(frozen=True)
class _Clean:
    description: str | None
    method: RefundMethod
    evidence: list[Evidence]
    phone: str | None
    email: str | None
    destination: str | None


def _evidence(items: list[Evidence]) -> list[Evidence]:
    if len(items) > MAX_EVIDENCE:
        raise InvalidInput(f"at most {MAX_EVIDENCE} evidence files", field=["evidence"],
                           code=CommonError.TOO_MANY)
    out = []
    for i, e in enumerate(items):
        where = ["evidence", str(i)]
        name = validation.required_text(e.filename, "filename", max_len=200)
        if "/" in name or "\\" in name:
            raise InvalidInput("filename must not contain a path", field=[*where, "filename"],
                               code=CommonError.INVALID_FORMAT)
        if not 0 < e.size <= MAX_EVIDENCE_BYTES:
            raise InvalidInput(f"size must be between 1 and {MAX_EVIDENCE_BYTES} bytes",
                               field=[*where, "size"], code=CommonError.OUT_OF_RANGE)
        digest = (e.sha256 or "").strip().lower()
        if not _SHA256.match(digest):
            raise InvalidInput("sha256 must be 64 hex digits", field=[*where, "sha256"],
                               code=CommonError.INVALID_FORMAT)
        out.append(Evidence(type=e.type, filename=name, size=e.size, sha256=digest, id=e.id))
    return out


def _checked(value: str | None, name: str, pattern: re.Pattern[str], max_len: int) -> str | None:
    text = validation.text(value, name, max_len=max_len, required=False)
    if text is not None and not pattern.match(text):
        raise InvalidInput(f"{name} is not valid", field=[name], code=CommonError.INVALID_FORMAT)
    return text


def _clean(cmd: SubmitRefund) -> _Clean:
    """Input checks that need no database (so they fail before any lock is taken)."""
    method = cmd.method or RefundMethod.ORIGINAL_ROUTE
    destination = validation.text(cmd.bank_destination, "bankDestination", max_len=120,
                                  required=False)
    if method == RefundMethod.BANK_TRANSFER and destination is None:
        raise InvalidInput("a bank transfer needs bankDestination", field=["bankDestination"],
                           code=CommonError.BANK_DESTINATION_REQUIRED)
    return _Clean(
        description=validation.text(cmd.description, "description", max_len=2000, required=False),
        method=method, evidence=_evidence(cmd.evidence),
        phone=_checked(cmd.contact_phone, "contactPhone", _PHONE, 32),
        email=_checked(cmd.contact_email, "contactEmail", _EMAIL, 254),
        destination=destination if method == RefundMethod.BANK_TRANSFER else None,
    )


def _refuse(message: str, code: ErrorCode, field: str = "amount") -> InvalidInput:
    return InvalidInput(message, field=[field], code=code)


def check_eligibility(txn: Transaction, terms: PolicyTerms, cmd: SubmitRefund, clean: _Clean,
                      now: datetime) -> Money:
    """The requested amount when the request may become a case; else a coded refusal."""
    if cmd.currency is not None and normalize_currency(cmd.currency) != txn.currency:
        raise _refuse(f"the payment was in {txn.currency}", RefundError.CURRENCY_MISMATCH,
                      "currency")
    money = Money.parse(cmd.amount, txn.currency)
    failed_but_charged = cmd.reason == RefundReason.PAYMENT_FAILED_BUT_CHARGED
    if not (txn.status == TransactionStatus.SUCCEEDED
            or (txn.status == TransactionStatus.FAILED and failed_but_charged)):
        raise _refuse(f"a {txn.status} payment cannot be refunded"
                      + ("" if txn.status != TransactionStatus.FAILED
                         else " (unless the reason is PAYMENT_FAILED_BUT_CHARGED)"),
                      RefundError.TRANSACTION_NOT_REFUNDABLE, "transactionId")
    if now > txn.paid_at + timedelta(days=terms.refund_window_days):
        raise _refuse(f"the {terms.refund_window_days}-day refund window has closed",
                      RefundError.REFUND_WINDOW_CLOSED, "transactionId")
    if not terms.allows_reason(cmd.reason):
        raise _refuse(f"the policy does not accept {cmd.reason.value}",
                      CommonError.REASON_NOT_ALLOWED, "reason")
    if clean.method not in terms.allowed_methods:
        raise _refuse(f"the policy does not allow {clean.method.value}",
                      RefundError.METHOD_NOT_ALLOWED, "method")
    if cmd.reason in terms.evidence_required_reasons and not clean.evidence:
        raise _refuse(f"{cmd.reason.value} needs evidence", RefundError.EVIDENCE_REQUIRED,
                      "evidence")
    if not terms.allow_partial and money.minor != txn.amount_minor:
        raise _refuse("the policy allows only full refunds",
                      RefundError.PARTIAL_REFUND_NOT_ALLOWED)
    if money.minor > txn.refundable_minor:
        left = Money(txn.refundable_minor, txn.currency)
        raise _refuse(f"at most {left} can still be refunded",
                      RefundError.AMOUNT_EXCEEDS_REFUNDABLE)
    if txn.refund_count >= terms.max_refunds_per_transaction:
        raise _refuse(f"at most {terms.max_refunds_per_transaction} refunds per payment",
                      RefundError.REFUND_LIMIT_REACHED, "transactionId")
    return money


def _risk_flags(txn: Transaction, cmd: SubmitRefund, clean: _Clean) -> list[str]:
    flags = []
    if txn.refund_count > 0:
        flags.append(RiskFlag.REPEAT_REQUEST.value)
    if clean.method == RefundMethod.BANK_TRANSFER:
        flags.append(RiskFlag.BANK_TRANSFER.value)
    if cmd.flagged_as_risk:
        flags.append(RiskFlag.FLAGGED_BY_SUBMITTER.value)
    return flags


def _encrypt(value: str | None, purpose: str) -> str | None:
    return key_ring().encrypt(value, purpose) if value else None


def _new_case(uow: UnitOfWork, case_id: uuid.UUID, txn: Transaction, merchant: Tenant,
              terms: PolicyTerms, cmd: SubmitRefund, clean: _Clean, money: Money) -> RefundCase:
    """The new case, not written yet; its number is drawn as it is (_insert_numbered)."""
    now = utcnow()
    review_due = policies.due_at(terms, now, terms.review_sla_hours, merchant.timezone,
                                 merchant.country)
    return RefundCase(
        tenant_id=merchant.id, id=case_id, case_number="",
        transaction_id=txn.id, status=RefundCaseStatus.SUBMITTED.value,
        requested_minor=money.minor, currency=money.currency, reason=cmd.reason.value,
        channel=cmd.channel.value, method=clean.method.value, description=clean.description,
        risk_flags=_risk_flags(txn, cmd, clean), policy_tenant_id=terms.owner_tenant_id,
        policy_id=terms.policy_id, policy_version=terms.version, review_due_at=review_due,
        completion_due_at=policies.due_at(terms, now, terms.completion_sla_hours,
                                          merchant.timezone, merchant.country),
        next_due_at=review_due, contact_phone_enc=_encrypt(clean.phone, CONTACT_PHONE_PURPOSE),
        contact_email_enc=_encrypt(clean.email, CONTACT_EMAIL_PURPOSE),
        contact_phone_fp=fingerprint(Contact.parse(clean.phone), PHONE_FINGERPRINT_PURPOSE),
        contact_email_fp=fingerprint(Contact.parse(clean.email), EMAIL_FINGERPRINT_PURPOSE),
        bank_destination_enc=_encrypt(clean.destination, BANK_DESTINATION_PURPOSE),
        bank_destination_fp=destination_fingerprint(clean.destination),
        submitted_by=uow.scope.actor[:80], created_at=now, updated_at=now,
    )


async def _insert_numbered(uow: UnitOfWork, case: RefundCase, merchant: Tenant) -> None:
    """Write the new case (kept in the unit as a loaded row) with its number: ``RF``, the
    merchant's local day of its creation, and the next value of the merchant's gapless
    case counter, zero-padded to six digits. On PostgreSQL the INSERT draws the number,
    so the counter's row lock (held until commit: a merchant's submits queue on it) is
    taken only as the case is written."""
    local_day = case.created_at.astimezone(ZoneInfo(merchant.timezone)).strftime("%y%m%d")
    prefix = f"RF{local_day}-"
    repo = RefundCaseRepository(uow)
    if repo.numbers_on_insert() and draws_on_insert(uow, case.tenant_id, "refund_case"):
        await repo.insert_numbered(case, prefix, "refund_case")
        return
    number = await next_sequence(uow, case.tenant_id, "refund_case")
    case.case_number = f"{prefix}{number:06d}"
    await repo.insert_kept(case)


def fingerprint(contact: Contact | None, purpose: str) -> str | None:
    """The keyed fingerprint of a normalised contact (what /my looks cases up by)."""
    return key_ring().blind_index(contact.value, purpose) if contact is not None else None


def destination_fingerprint(destination: str | None) -> str | None:
    """Keyed fingerprint of a bank account, normalised (spaces, dashes and case ignored):
    refunds to one account are counted without decrypting any."""
    if not destination:
        return None
    normal = "".join(ch for ch in destination.upper() if ch not in " -")
    return key_ring().blind_index(normal, BANK_DESTINATION_FINGERPRINT_PURPOSE)


def _add_evidence(uow: UnitOfWork, case: RefundCase, items: list[Evidence]) -> None:
    repo = RefundEvidenceRepository(uow)
    for e in items:
        repo.add(RefundEvidence(tenant_id=case.tenant_id, id=e.id or new_id(), case_id=case.id,
                                type=e.type.value, filename=e.filename, size_bytes=e.size,
                                sha256=e.sha256))


async def add_evidence(uow: UnitOfWork, case: RefundCase, items: list[Evidence]) -> None:
    """More evidence on an open case (a consumer answering a question with a photo). The
    caller has checked it may act on ``case`` (its receipt's own, row-locked)."""
    if case.state not in (RefundCaseStatus.SUBMITTED, RefundCaseStatus.UNDER_REVIEW,
                          RefundCaseStatus.AWAITING_INFO):
        raise InvalidState(f"cannot add evidence to a case that is {case.status}",
                           field=["evidenceIds"])
    _add_evidence(uow, case, _evidence(items))
    await uow.flush()


def _may_submit(uow: UnitOfWork, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> None:
    """Staff and integrations submit for any payment in scope; a consumer's receipt
    scope applies for its own payment and no other (another is *not found*)."""
    scope = uow.scope
    if scope.receipt is not None:
        scope.require(Permission.APPLY_FOR_REFUND)
        if not scope.holds_receipt_of(tenant_id, transaction_id):
            raise NotFound("transaction not found")
        return
    scope.require(Permission.SUBMIT_REFUNDS)
    RefundCaseRepository(uow).require_in_scope(tenant_id, what="transaction", field=None)


async def submit(uow: UnitOfWork, cmd: SubmitRefund) -> RefundCase:
    """Open a case for a payment (staff or an integration acting for the consumer)."""
    _may_submit(uow, cmd.tenant_id, cmd.transaction_id)
    clean = _clean(cmd)
    case_id = new_id()
    if cmd.idempotency_key is not None:
        replay = await idempotency.claim(uow, tenant_id=cmd.tenant_id,
                                         operation="submitRefundRequest", key=cmd.idempotency_key,
                                         request=cmd.fingerprint(), result_id=case_id)
        if replay is not None:
            return await get_case(uow, cmd.tenant_id, replay)
    txn = await lock_transaction(uow, cmd.tenant_id, cmd.transaction_id)
    merchant = await get_tenant(uow, txn.tenant_id)
    terms = await policies.effective_for(uow, merchant)
    money = check_eligibility(txn, terms, cmd, clean, utcnow())
    case = _new_case(uow, case_id, txn, merchant, terms, cmd, clean, money)
    txn.reserved_minor += money.minor
    txn.refund_count += 1
    await transactions.write_changes(uow, txn)
    # The "submitted" event is counted before the row is first written, so the INSERT
    # carries its event_count (seq 1) and updated_at: no UPDATE of the new row after it.
    count_event(case)
    # Written at once (the case row first: its evidence and events refer to it), past
    # the ORM's flush, and kept in the unit as a loaded row.
    await _insert_numbered(uow, case, merchant)
    _add_evidence(uow, case, clean.evidence)
    await record_case_event(uow, case, type="submitted", to_status=RefundCaseStatus.SUBMITTED,
                            note=clean.description, counted=True,
                            data={"policyVersion": terms.version, "riskFlags": case.risk_flags})
    # Anomaly rules (registered by the risk domain) in this unit: a flag they raise is on
    # the case before auto-approval is decided, and holds it for a reviewer.
    held = await screening.screen_refund_case(uow, case, txn)
    if held:
        case.risk_flags = [*case.risk_flags, *(r for r in held if r not in case.risk_flags)]
    if terms.auto_approves(amount_minor=money.minor, currency=money.currency,
                           reason=cmd.reason.value, risk_flags=case.risk_flags) and \
            await channels.payable(uow, txn.tenant_id, txn.channel, case.method, get_settings()):
        await transition(uow, case, Action.START_REVIEW, type="review_started",
                         actor=AUTO_APPROVER, data={"assignee": AUTO_APPROVER})
        case.assignee = AUTO_APPROVER
        await approve_locked(uow, case, money.minor, "auto-approved under the refund policy",
                             actor=AUTO_APPROVER, txn=txn)  # locked at the start of intake
    return case
