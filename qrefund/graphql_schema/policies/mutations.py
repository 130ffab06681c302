"""publishRefundPolicy: a new version for a merchant, or an agency's template."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.policies.types import RefundPolicyType
from qrefund.graphql_schema.vocabulary import (
    FeeBearer,
    RefundMethod,
    RefundReason,
    RiskRule,
    SlaClock,
)
from qrefund.platform import vocabulary as enums
from qrefund.platform.db import UnitOfWork
from qrefund.platform.policies import service
from qrefund.platform.policies.complaint_sla import PriorityHours
from qrefund.platform.policies.terms import PolicySource, PolicyTerms
from qrefund.platform.scope import TenantKind


@strawberry.input
class PolicyFaqInput:
    question: str
    answer: str


@strawberry.input
class PolicyTextInput:
    locale: str = strawberry.field(description="zh-CN or en")
    conditions: str | None = None
    steps: str | None = None
    faq: list[PolicyFaqInput] | None = None


@strawberry.input(description="Complaint SLA hours for each ticket priority.")
class ComplaintSlaHoursInput:
    low: int
    normal: int
    high: int
    urgent: int


@strawberry.input(description="One anomaly rule's switch and threshold for the merchant.")
class RiskRuleSettingInput:
    rule: RiskRule  # type: ignore[valid-type]
    enabled: bool = True
    threshold: Decimal | None = strawberry.field(
        default=None, description="A decimal string; higher is looser; unset = the rule's "
        "default (README, 'Anomaly detection').")


@strawberry.input
class PublishRefundPolicyInput:
    merchant_id: strawberry.ID | None = strawberry.field(
        default=None, description="A merchant, or an agency to publish its template; "
        "defaults to the caller's tenant.")
    refund_window_days: int
    review_sla_hours: int
    completion_sla_hours: int
    allow_partial: bool
    max_refunds_per_transaction: int
    allowed_methods: list[RefundMethod]  # type: ignore[valid-type]
    auto_approve_max_amount: Decimal | None = strawberry.field(
        default=None, description="In the owner's default currency; unset = no auto-approval.")
    max_extension_hours: int = 72
    allowed_reasons: list[RefundReason] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Unset = every reason.")
    evidence_required_reasons: list[RefundReason] | None = None  # type: ignore[valid-type]
    auto_approve_reasons: list[RefundReason] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Unset = any reason.")
    auto_approve_requires_no_risk_flag: bool = True
    fee_bearer: FeeBearer = enums.FeeBearer.MERCHANT  # type: ignore[valid-type]
    sla_clock: SlaClock = enums.SlaClock.CALENDAR_HOURS  # type: ignore[valid-type]
    business_day_start_hour: int = 9
    business_day_end_hour: int = 18
    consumer_text: list[PolicyTextInput] | None = None
    complaint_first_response_hours: ComplaintSlaHoursInput | None = strawberry.field(
        default=None, description="Unset = LOW 72, NORMAL 24, HIGH 8, URGENT 2.")
    complaint_resolution_hours: ComplaintSlaHoursInput | None = strawberry.field(
        default=None, description="Unset = LOW 240, NORMAL 120, HIGH 72, URGENT 24; each at "
        "least its first-response hours.")
    complaint_reopen_window_days: int | None = strawberry.field(
        default=None, description="0-365; unset = 14.")
    complaint_auto_close_days: int | None = strawberry.field(
        default=None, description="1-365; unset = 7.")
    risk_rules: list[RiskRuleSettingInput] | None = strawberry.field(
        default=None, description="Anomaly rules to switch off or retune; rules not named run "
        "with their defaults.")


@strawberry.type
class PublishRefundPolicyPayload:
    refund_policy: RefundPolicyType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _hours(i: ComplaintSlaHoursInput | None) -> PriorityHours | None:
    return None if i is None else PriorityHours(i.low, i.normal, i.high, i.urgent)


def _threshold(value: Decimal | None) -> float | None:
    """Thresholds are ratios and counts, not money: stored as numbers (the range is the
    service's to check)."""
    return None if value is None else float(value)


def _command(i: PublishRefundPolicyInput) -> service.PublishPolicy:
    return service.PublishPolicy(
        owner_id=ids.tenant_id_of(i.merchant_id, "merchantId") if i.merchant_id else None,
        refund_window_days=i.refund_window_days, review_sla_hours=i.review_sla_hours,
        completion_sla_hours=i.completion_sla_hours, allow_partial=i.allow_partial,
        max_refunds_per_transaction=i.max_refunds_per_transaction,
        allowed_methods=[enums.RefundMethod(m) for m in i.allowed_methods],
        auto_approve_max_amount=i.auto_approve_max_amount,
        max_extension_hours=i.max_extension_hours,
        allowed_reasons=([enums.RefundReason(r) for r in i.allowed_reasons]
                         if i.allowed_reasons is not None else None),
        evidence_required_reasons=[
            enums.RefundReason(r) for r in i.evidence_required_reasons or []
        ],
        auto_approve_reasons=([enums.RefundReason(r) for r in i.auto_approve_reasons]
                              if i.auto_approve_reasons is not None else None),
        auto_approve_requires_no_risk=i.auto_approve_requires_no_risk_flag,
        fee_bearer=enums.FeeBearer(i.fee_bearer), sla_clock=enums.SlaClock(i.sla_clock),
        business_day_start_hour=i.business_day_start_hour,
        business_day_end_hour=i.business_day_end_hour,
        consumer_text=[
            service.PolicyText(locale=t.locale, conditions=t.conditions, steps=t.steps,
                               faq=[(f.question, f.answer) for f in t.faq or []])
            for t in i.consumer_text or []
        ],
        complaint_first_response_hours=_hours(i.complaint_first_response_hours),
        complaint_resolution_hours=_hours(i.complaint_resolution_hours),
        complaint_reopen_window_days=i.complaint_reopen_window_days,
        complaint_auto_close_days=i.complaint_auto_close_days,
        risk_rules=[service.RiskRuleSetting(rule=enums.RiskRule(r.rule), enabled=r.enabled,
                                            threshold=_threshold(r.threshold))
                    for r in i.risk_rules]
        if i.risk_rules is not None else None,
    )


@strawberry.type
class PolicyMutations:
    @strawberry.mutation(description="Publish a new policy version (earlier versions stay as "
                         "they were; cases keep the version they were judged under).")
    async def publish_refund_policy(self, info: Info, input: PublishRefundPolicyInput
                                    ) -> PublishRefundPolicyPayload:
        async def work(uow: UnitOfWork) -> PublishRefundPolicyPayload:
            row = await service.publish(uow, _command(input))
            source = (PolicySource.MERCHANT if row.owner_kind == TenantKind.MERCHANT
                      else PolicySource.AGENCY_TEMPLATE)
            return PublishRefundPolicyPayload(refund_policy=RefundPolicyType.of(
                PolicyTerms.of(row, source)))

        return await info.context.mutate(
            work, lambda errors: PublishRefundPolicyPayload(user_errors=errors))
