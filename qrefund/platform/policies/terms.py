"""The terms a case is judged under: a published version, or the built-in defaults."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from qrefund.platform.policies.complaint_sla import (
    DEFAULT_AUTO_CLOSE_DAYS,
    DEFAULT_FIRST_RESPONSE_HOURS,
    DEFAULT_REOPEN_WINDOW_DAYS,
    DEFAULT_RESOLUTION_HOURS,
    PriorityHours,
)
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.vocabulary import FeeBearer, RefundMethod, RiskFlag, SlaClock


class PolicySource(StrEnum):
    MERCHANT = "MERCHANT"  # the merchant's own published version
    AGENCY_TEMPLATE = "AGENCY_TEMPLATE"  # inherited from the merchant's agency
    DEFAULT = "DEFAULT"  # nothing published: the platform's defaults (version 0)


DEFAULT_TEXT: dict[str, Any] = {
    "zh-CN": {
        "conditions": "支付后365天内可申请退款，金额不超过可退金额。",  # noqa: RUF001
        "steps": "扫描小票二维码，填写退款金额和原因；提交后48小时内审核，"  # noqa: RUF001
        "72小时内退回原支付账户。",
        "faq": [],
    },
    "en": {
        "conditions": "Refunds can be requested within 365 days of payment, up to the "
        "refundable amount.",
        "steps": "Scan the receipt's QR code, enter the amount and reason; we decide within "
        "48 hours "
        "and pay back to the original account within 72 hours.",
        "faq": [],
    },
}


@dataclass(frozen=True)
class PolicyTerms:
    source: PolicySource
    owner_tenant_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None
    version: int = 0
    refund_window_days: int = 365
    review_sla_hours: int = 48
    completion_sla_hours: int = 72
    max_extension_hours: int = 72
    allow_partial: bool = True
    max_refunds_per_transaction: int = 50
    allowed_methods: tuple[str, ...] = (RefundMethod.ORIGINAL_ROUTE, RefundMethod.BANK_TRANSFER)
    allowed_reasons: tuple[str, ...] | None = None
    evidence_required_reasons: tuple[str, ...] = ()
    auto_approve_max_minor: int | None = None
    auto_approve_currency: str | None = None
    auto_approve_reasons: tuple[str, ...] | None = None
    auto_approve_requires_no_risk: bool = True
    fee_bearer: str = FeeBearer.MERCHANT
    sla_clock: str = SlaClock.CALENDAR_HOURS
    business_day_start_hour: int = 9
    business_day_end_hour: int = 18
    consumer_text: dict[str, Any] = field(default_factory=lambda: DEFAULT_TEXT)
    published_at: datetime | None = None
    published_by: str | None = None
    complaint_first_response_hours: PriorityHours = DEFAULT_FIRST_RESPONSE_HOURS
    complaint_resolution_hours: PriorityHours = DEFAULT_RESOLUTION_HOURS
    complaint_reopen_window_days: int = DEFAULT_REOPEN_WINDOW_DAYS
    complaint_auto_close_days: int = DEFAULT_AUTO_CLOSE_DAYS
    # Anomaly-rule settings by rule: {"enabled": bool, "threshold": float | None}; rules
    # not named run with their defaults (qrefund.platform.risk.rules).
    risk_rules: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: RefundPolicy, source: PolicySource) -> PolicyTerms:
        return cls(
            source=source, owner_tenant_id=row.tenant_id, policy_id=row.id, version=row.version,
            refund_window_days=row.refund_window_days, review_sla_hours=row.review_sla_hours,
            completion_sla_hours=row.completion_sla_hours,
            max_extension_hours=row.max_extension_hours, allow_partial=row.allow_partial,
            max_refunds_per_transaction=row.max_refunds_per_transaction,
            allowed_methods=tuple(row.allowed_methods),
            allowed_reasons=tuple(row.allowed_reasons) if row.allowed_reasons is not None else None,
            evidence_required_reasons=tuple(row.evidence_required_reasons),
            auto_approve_max_minor=row.auto_approve_max_minor,
            auto_approve_currency=row.auto_approve_currency,
            auto_approve_reasons=(
                tuple(row.auto_approve_reasons) if row.auto_approve_reasons is not None else None
            ),
            auto_approve_requires_no_risk=row.auto_approve_requires_no_risk,
            fee_bearer=row.fee_bearer, sla_clock=row.sla_clock,
            business_day_start_hour=row.business_day_start_hour,
            business_day_end_hour=row.business_day_end_hour,
            consumer_text=row.consumer_text or {}, published_at=row.published_at,
            published_by=row.published_by,
            complaint_first_response_hours=PriorityHours.from_dict(
                row.complaint_first_response_hours, DEFAULT_FIRST_RESPONSE_HOURS),
            complaint_resolution_hours=PriorityHours.from_dict(
                row.complaint_resolution_hours, DEFAULT_RESOLUTION_HOURS),
            complaint_reopen_window_days=_or(row.complaint_reopen_window_days,
                                             DEFAULT_REOPEN_WINDOW_DAYS),
            complaint_auto_close_days=_or(row.complaint_auto_close_days, DEFAULT_AUTO_CLOSE_DAYS),
            risk_rules=dict(row.risk_rules or {}),
        )

    def allows_reason(self, reason: str) -> bool:
        return self.allowed_reasons is None or reason in self.allowed_reasons

    def auto_approves(self, *, amount_minor: int, currency: str, reason: str,
                      risk_flags: list[str]) -> bool:
        """All auto-approval rules hold (off while no maximum amount is set)."""
        if self.auto_approve_max_minor is None or currency != self.auto_approve_currency:
            return False
        if amount_minor > self.auto_approve_max_minor:
            return False
        if self.auto_approve_reasons is not None and reason not in self.auto_approve_reasons:
            return False
        if RiskFlag.ANOMALY in risk_flags:  # an anomaly flag holds the case whatever the policy
            return False
        return not (self.auto_approve_requires_no_risk and risk_flags)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


DEFAULT_TERMS = PolicyTerms(source=PolicySource.DEFAULT)
