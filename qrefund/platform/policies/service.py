"""Publishing refund policies and finding the terms a merchant's cases are judged under.

A merchant's terms are its latest published version, else its agency's latest
template, else the built-in defaults (:data:`DEFAULT_TERMS`). Reading the agency's
template is the one read of another tenant's rows a merchant makes: it is bounded
by the merchant (checked against the scope first) and its parent, and PostgreSQL's
row-level-security policy on ``refund_policies`` allows exactly that.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qrefund.platform import validation
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput
from qrefund.platform.ids import new_id
from qrefund.platform.money import Money
from qrefund.platform.outbox.service import next_sequence, record_event
from qrefund.platform.policies import complaint_sla
from qrefund.platform.policies.complaint_sla import ComplaintPriority, PriorityHours
from qrefund.platform.policies.errors import PolicyError
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.policies.repository import RefundPolicyRepository
from qrefund.platform.policies.sla import add_sla_time, due_at, shift, sla_time_between
from qrefund.platform.policies.terms import DEFAULT_TERMS, PolicySource, PolicyTerms
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.platform.vocabulary import (
    FeeBearer,
    RefundMethod,
    RefundReason,
    RiskRule,
    SlaClock,
)
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant, tenant_by_slug

__all__ = ["DEFAULT_TERMS", "PolicySource", "PolicyTerms", "add_sla_time", "due_at", "shift",
           "sla_time_between"]

LOCALES = ("zh-CN", "en")
MAX_FAQ = 20


@dataclass(frozen=True)
class PolicyText:
    locale: str
    conditions: str | None = None
    steps: str | None = None
    faq: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RiskRuleSetting:
    """One anomaly rule's switch and threshold (None: the rule's default threshold)."""

    rule: RiskRule
    enabled: bool = True
    threshold: float | None = None


MAX_RISK_THRESHOLD = 1_000_000.0


@dataclass(frozen=True)
class PublishPolicy:
    owner_id: uuid.UUID | None
    refund_window_days: int
    review_sla_hours: int
    completion_sla_hours: int
    allow_partial: bool
    max_refunds_per_transaction: int
    allowed_methods: list[RefundMethod]
    auto_approve_max_amount: Decimal | None = None
    max_extension_hours: int = 72
    allowed_reasons: list[RefundReason] | None = None
    evidence_required_reasons: list[RefundReason] = field(default_factory=list)
    auto_approve_reasons: list[RefundReason] | None = None
    auto_approve_requires_no_risk: bool = True
    fee_bearer: FeeBearer = FeeBearer.MERCHANT
    sla_clock: SlaClock = SlaClock.CALENDAR_HOURS
    business_day_start_hour: int = 9
    business_day_end_hour: int = 18
    consumer_text: list[PolicyText] = field(default_factory=list)
    # Complaint terms; unset = the built-in defaults (stored explicitly in the version).
    complaint_first_response_hours: PriorityHours | None = None
    complaint_resolution_hours: PriorityHours | None = None
    complaint_reopen_window_days: int | None = None
    complaint_auto_close_days: int | None = None
    # Anomaly rules; rules left out run with their defaults.
    risk_rules: list[RiskRuleSetting] | None = None


def _risk_rules(settings: Sequence[RiskRuleSetting] | None) -> dict[str, object] | None:
    """The ``riskRules`` block as stored: each rule once, thresholds positive and sane."""
    if settings is None:
        return None
    out: dict[str, object] = {}
    for i, s in enumerate(settings):
        rule = RiskRule(s.rule)
        if rule.value in out:
            raise InvalidInput(f"{rule.value} is given twice", field=["riskRules", str(i)],
                               code=PolicyError.DUPLICATE_RISK_RULE)
        if s.threshold is not None and not 0 < s.threshold <= MAX_RISK_THRESHOLD:
            raise InvalidInput(f"threshold must be above 0 and at most {MAX_RISK_THRESHOLD:g}",
                               field=["riskRules", str(i), "threshold"],
                               code=CommonError.OUT_OF_RANGE)
        out[rule.value] = {"enabled": bool(s.enabled), "threshold": s.threshold}
    return out


def _bounded(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", field=name.split("."),
                           code=CommonError.OUT_OF_RANGE)
    return value


def event_payload(row: RefundPolicy) -> dict[str, Any]:
    """The published version as ``refund_policy.published`` shows it (its terms)."""
    return {
        "policyId": str(row.id), "ownerId": str(row.tenant_id), "version": row.version,
        "ownerKind": row.owner_kind, "refundWindowDays": row.refund_window_days,
        "reviewSlaHours": row.review_sla_hours, "completionSlaHours": row.completion_sla_hours,
        "maxExtensionHours": row.max_extension_hours, "allowPartial": row.allow_partial,
        "maxRefundsPerTransaction": row.max_refunds_per_transaction,
        "allowedMethods": list(row.allowed_methods),
        "autoApproveMaxMinor": row.auto_approve_max_minor,
        "autoApproveCurrency": row.auto_approve_currency, "slaClock": row.sla_clock,
        "publishedAt": row.published_at.isoformat() if row.published_at else None,
    }


async def _owner(uow: UnitOfWork, owner_id: uuid.UUID | None) -> Tenant:
    """A merchant (its own policy) or an agency (a template): the caller or one it names."""
    if owner_id is None:
        if uow.scope.actor_tenant_id is None or uow.scope.actor_kind == TenantKind.OPERATOR:
            raise InvalidInput("merchantId is required for operator keys", field=["merchantId"],
                               code=CommonError.MERCHANT_REQUIRED)
        owner_id = uow.scope.actor_tenant_id
    tenant = await get_tenant(uow, owner_id)
    if tenant.kind not in (TenantKind.MERCHANT, TenantKind.AGENCY):
        raise InvalidInput("merchantId is not a merchant or an agency", field=["merchantId"],
                           code=CommonError.NOT_A_MERCHANT)
    return tenant


def _texts(texts: Sequence[PolicyText]) -> dict[str, object]:
    out: dict[str, object] = {}
    for i, t in enumerate(texts):
        if t.locale not in LOCALES:
            raise InvalidInput(f"locale must be one of {', '.join(LOCALES)}",
                               field=["consumerText", str(i), "locale"],
                               code=PolicyError.INVALID_LOCALE)
        if t.locale in out:
            raise InvalidInput(f"{t.locale} is given twice", field=["consumerText", str(i)],
                               code=PolicyError.DUPLICATE_LOCALE)
        if len(t.faq) > MAX_FAQ:
            raise InvalidInput(f"at most {MAX_FAQ} FAQ entries",
                               field=["consumerText", str(i), "faq"], code=CommonError.TOO_MANY)
        out[t.locale] = {
            "conditions": validation.text(t.conditions, "conditions", max_len=4000, required=False),
            "steps": validation.text(t.steps, "steps", max_len=4000, required=False),
            "faq": [
                {"question": validation.required_text(q, "question", max_len=500),
                 "answer": validation.required_text(a, "answer", max_len=2000)}
                for q, a in t.faq
            ],
        }
    return out


def _check_terms(cmd: PublishPolicy) -> None:
    _bounded(cmd.refund_window_days, "refundWindowDays", 1, 3650)
    _bounded(cmd.review_sla_hours, "reviewSlaHours", 1, 720)
    _bounded(cmd.completion_sla_hours, "completionSlaHours", cmd.review_sla_hours, 2160)
    _bounded(cmd.max_extension_hours, "maxExtensionHours", 0, 720)
    _bounded(cmd.max_refunds_per_transaction, "maxRefundsPerTransaction", 1, 1000)
    _bounded(cmd.business_day_start_hour, "businessDayStartHour", 0, 23)
    _bounded(cmd.business_day_end_hour, "businessDayEndHour", cmd.business_day_start_hour + 1, 24)
    if not cmd.allowed_methods:
        raise InvalidInput("allow at least one method", field=["allowedMethods"],
                           code=CommonError.REQUIRED)
    if cmd.allowed_reasons is not None and not cmd.allowed_reasons:
        raise InvalidInput("allow at least one reason (or leave it out to allow all)",
                           field=["allowedReasons"], code=CommonError.REQUIRED)
    allowed = set(cmd.allowed_reasons) if cmd.allowed_reasons is not None else set(RefundReason)
    if not set(cmd.evidence_required_reasons) <= allowed:
        raise InvalidInput("evidence can only be required for allowed reasons",
                           field=["evidenceRequiredReasons"], code=CommonError.REASON_NOT_ALLOWED)


@dataclass(frozen=True)
class _ComplaintTerms:
    first_response: PriorityHours
    resolution: PriorityHours
    reopen_window_days: int
    auto_close_days: int


def _complaint_terms(cmd: PublishPolicy) -> _ComplaintTerms:
    """Complaint SLA hours per priority (each resolution at least its first response),
    the reopen window (0 = no reopening) and the auto-close delay, defaults filled in."""
    first = cmd.complaint_first_response_hours or complaint_sla.DEFAULT_FIRST_RESPONSE_HOURS
    resolution = cmd.complaint_resolution_hours or complaint_sla.DEFAULT_RESOLUTION_HOURS
    for priority in ComplaintPriority:
        key = priority.value.lower()
        _bounded(first.of(priority), f"complaintFirstResponseHours.{key}", 1,
                 complaint_sla.MAX_FIRST_RESPONSE_HOURS)
        _bounded(resolution.of(priority), f"complaintResolutionHours.{key}", first.of(priority),
                 complaint_sla.MAX_RESOLUTION_HOURS)
    reopen = cmd.complaint_reopen_window_days
    reopen = complaint_sla.DEFAULT_REOPEN_WINDOW_DAYS if reopen is None else reopen
    close = cmd.complaint_auto_close_days
    close = complaint_sla.DEFAULT_AUTO_CLOSE_DAYS if close is None else close
    _bounded(reopen, "complaintReopenWindowDays", 0, complaint_sla.MAX_REOPEN_WINDOW_DAYS)
    _bounded(close, "complaintAutoCloseDays", 1, complaint_sla.MAX_AUTO_CLOSE_DAYS)
    return _ComplaintTerms(first, resolution, reopen, close)


def _unique(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else sorted({str(v) for v in values})


async def publish(uow: UnitOfWork, cmd: PublishPolicy) -> RefundPolicy:
    """Insert the owner's next version; earlier versions stay as they were."""
    uow.scope.require(Permission.PUBLISH_POLICY)
    owner = await _owner(uow, cmd.owner_id)
    _check_terms(cmd)
    complaints = _complaint_terms(cmd)
    auto_max = None
    if cmd.auto_approve_max_amount is not None:
        auto_max = Money.parse(cmd.auto_approve_max_amount, owner.default_currency,
                               "autoApproveMaxAmount").minor
    row = RefundPolicy(
        tenant_id=owner.id, id=new_id(),
        version=await next_sequence(uow, owner.id, "policy_version"),
        owner_kind=owner.kind, refund_window_days=cmd.refund_window_days,
        review_sla_hours=cmd.review_sla_hours, completion_sla_hours=cmd.completion_sla_hours,
        max_extension_hours=cmd.max_extension_hours, allow_partial=cmd.allow_partial,
        max_refunds_per_transaction=cmd.max_refunds_per_transaction,
        allowed_methods=_unique(cmd.allowed_methods) or [],
        allowed_reasons=_unique(cmd.allowed_reasons),
        evidence_required_reasons=_unique(cmd.evidence_required_reasons) or [],
        auto_approve_max_minor=auto_max,
        auto_approve_currency=owner.default_currency if auto_max else None,
        auto_approve_reasons=_unique(cmd.auto_approve_reasons),
        auto_approve_requires_no_risk=cmd.auto_approve_requires_no_risk,
        fee_bearer=cmd.fee_bearer.value, sla_clock=cmd.sla_clock.value,
        business_day_start_hour=cmd.business_day_start_hour,
        business_day_end_hour=cmd.business_day_end_hour,
        consumer_text=_texts(cmd.consumer_text), published_by=uow.scope.actor[:80],
        complaint_first_response_hours=complaints.first_response.as_dict(),
        complaint_resolution_hours=complaints.resolution.as_dict(),
        complaint_reopen_window_days=complaints.reopen_window_days,
        complaint_auto_close_days=complaints.auto_close_days,
        risk_rules=_risk_rules(cmd.risk_rules),
    )
    RefundPolicyRepository(uow).add(row)
    uow.info.pop(_TERMS_MEMO, None)  # the unit's later reads see the new version
    await record_event(uow, tenant_id=owner.id, type="refund_policy.published",
                       aggregate_type="refund_policy", aggregate_id=row.id,
                       payload=event_payload(row))
    return row



_TERMS_MEMO = "qrefund.policy_terms"


async def effective_for(uow: UnitOfWork, owner: Tenant) -> PolicyTerms:
    """The terms in force for a merchant (own > agency template > defaults), or, for an
    agency, its own template (> defaults). ``owner`` must come from a scope-checked read."""
    policies = RefundPolicyRepository(uow)
    policies.require_in_scope(owner.id, what="merchant", field=None)
    parent = owner.parent_id if owner.kind == TenantKind.MERCHANT else None
    # Read once per unit: a refund's intake and its risk screening ask for the same terms
    # (and so judge the case by the same version); publish() forgets them.
    memo: dict[tuple[Any, ...], PolicyTerms] = uow.info.setdefault(_TERMS_MEMO, {})
    key = (owner.id, owner.kind, parent)
    if key not in memo:
        memo[key] = _terms(await policies.latest(owner.id, parent), owner)
    return memo[key]


def _terms(row: RefundPolicy | None, owner: Tenant) -> PolicyTerms:
    if row is None:
        return DEFAULT_TERMS
    if row.tenant_id == owner.id:
        return PolicyTerms.of(row, PolicySource.MERCHANT if owner.kind == TenantKind.MERCHANT
                              else PolicySource.AGENCY_TEMPLATE)
    return PolicyTerms.of(row, PolicySource.AGENCY_TEMPLATE)


async def current(uow: UnitOfWork, owner_id: uuid.UUID | None) -> tuple[Tenant, PolicyTerms]:
    uow.scope.require(Permission.READ)
    owner = await _owner(uow, owner_id)
    return owner, await effective_for(uow, owner)


async def history(uow: UnitOfWork, owner_id: uuid.UUID | None, *, first: int) -> list[RefundPolicy]:
    """The owner's own published versions, newest first."""
    uow.scope.require(Permission.READ)
    owner = await _owner(uow, owner_id)
    return await RefundPolicyRepository(uow).versions(owner.id, first=first)


async def versions_by_key(
    uow: UnitOfWork, keys: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], RefundPolicy]:
    """Policy versions named by cases: keys are (case tenant, policy owner, policy id).

    A key counts only when its case's tenant is in scope; the owner is that
    merchant or its agency, as stamped when the case was judged.
    """
    return await RefundPolicyRepository(uow).by_case_keys(keys)


async def public_terms(uow: UnitOfWork, slug: str) -> tuple[Tenant, PolicyTerms] | None:
    """A merchant's terms for consumers, by the merchant's slug; None when unknown."""
    if not slug or len(slug) > 64:
        return None
    merchant = await tenant_by_slug(uow, slug)
    if merchant is None or merchant.kind != TenantKind.MERCHANT or merchant.status != "ACTIVE":
        return None
    return merchant, await effective_for(uow, merchant)
