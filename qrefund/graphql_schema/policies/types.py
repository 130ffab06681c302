"""GraphQL types for refund policies (the staff view and the consumers' view)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.money import MoneyType
from qrefund.graphql_schema.vocabulary import FeeBearer, PolicySource, RiskRule, SlaClock
from qrefund.graphql_schema.vocabulary import RefundMethod as _Method
from qrefund.graphql_schema.vocabulary import RefundReason as _Reason
from qrefund.platform import vocabulary as enums
from qrefund.platform.policies.complaint_sla import PriorityHours
from qrefund.platform.policies.terms import PolicyTerms
from qrefund.tenants.models import Tenant


@strawberry.type
class PolicyFaq:
    question: str
    answer: str


@strawberry.type(description="Consumer-facing text of a policy in one locale (zh-CN or en).")
class PolicyText:
    locale: str
    conditions: str | None
    steps: str | None
    faq: list[PolicyFaq]


@strawberry.type(description="Complaint SLA hours for each ticket priority.")
class ComplaintSlaHours:
    low: int
    normal: int
    high: int
    urgent: int

    @classmethod
    def of(cls, hours: PriorityHours) -> ComplaintSlaHours:
        return cls(low=hours.low, normal=hours.normal, high=hours.high, urgent=hours.urgent)


def _texts(terms: PolicyTerms) -> list[PolicyText]:
    out = []
    for locale, body in sorted(terms.consumer_text.items()):
        out.append(PolicyText(
            locale=locale, conditions=body.get("conditions"), steps=body.get("steps"),
            faq=[PolicyFaq(question=f["question"], answer=f["answer"])
                 for f in body.get("faq", [])],
        ))
    return out


def _reasons(values: tuple[str, ...] | None) -> list[enums.RefundReason]:
    if values is None:
        return list(enums.RefundReason)
    return [enums.RefundReason(r) for r in values]


@strawberry.type(description="An anomaly rule's setting published in the policy.")
class RiskRuleSetting:
    rule: RiskRule  # type: ignore[valid-type]
    enabled: bool
    threshold: Decimal | None = strawberry.field(description="Null: the rule's default.")


def _risk_rules(t: PolicyTerms) -> list[RiskRuleSetting]:
    return [RiskRuleSetting(rule=enums.RiskRule(rule), enabled=bool(v.get("enabled", True)),
                            threshold=(Decimal(str(v["threshold"]))
                                       if v.get("threshold") is not None else None))
            for rule, v in sorted(t.risk_rules.items())]


@strawberry.type(name="RefundPolicy", description="The terms refund requests are judged under. "
                 "Version 0 (source DEFAULT) is the platform's default, used until the merchant "
                 "or its agency publishes one.")
class RefundPolicyType:
    id: strawberry.ID | None
    version: int
    source: PolicySource  # type: ignore[valid-type]
    owner_id: strawberry.ID | None
    refund_window_days: int
    review_sla_hours: int
    completion_sla_hours: int
    max_extension_hours: int
    allow_partial: bool
    max_refunds_per_transaction: int
    allowed_methods: list[_Method]  # type: ignore[valid-type]
    allowed_reasons: list[_Reason]  # type: ignore[valid-type]
    evidence_required_reasons: list[_Reason]  # type: ignore[valid-type]
    auto_approve_max_amount: MoneyType | None
    auto_approve_reasons: list[_Reason] | None  # type: ignore[valid-type]
    auto_approve_requires_no_risk_flag: bool
    fee_bearer: FeeBearer  # type: ignore[valid-type]
    sla_clock: SlaClock  # type: ignore[valid-type]
    business_day_start_hour: int
    business_day_end_hour: int
    consumer_text: list[PolicyText]
    published_at: datetime | None
    published_by: str | None
    complaint_first_response_hours: ComplaintSlaHours = strawberry.field(
        description="Hours to the first staff reply on a complaint ticket, per priority.")
    complaint_resolution_hours: ComplaintSlaHours = strawberry.field(
        description="Hours to a ticket's resolution, per priority (paused while waiting for "
        "the customer).")
    complaint_reopen_window_days: int = strawberry.field(
        description="Days after its resolution a ticket may be reopened (0: never).")
    complaint_auto_close_days: int = strawberry.field(
        description="Days after which a resolved ticket nobody wrote on closes itself.")
    risk_rules: list[RiskRuleSetting] = strawberry.field(
        description="Anomaly rules this version retunes (others run with their defaults).")

    @classmethod
    def of(cls, t: PolicyTerms) -> RefundPolicyType:
        auto = None
        if t.auto_approve_max_minor is not None and t.auto_approve_currency:
            auto = MoneyType.of(t.auto_approve_max_minor, t.auto_approve_currency)
        return cls(
            id=ids.encode("RefundPolicy", t.owner_tenant_id, t.policy_id)
            if t.policy_id and t.owner_tenant_id else None,
            version=t.version, source=t.source,
            owner_id=ids.encode("Tenant", t.owner_tenant_id) if t.owner_tenant_id else None,
            refund_window_days=t.refund_window_days, review_sla_hours=t.review_sla_hours,
            completion_sla_hours=t.completion_sla_hours, max_extension_hours=t.max_extension_hours,
            allow_partial=t.allow_partial,
            max_refunds_per_transaction=t.max_refunds_per_transaction,
            allowed_methods=[enums.RefundMethod(m) for m in t.allowed_methods],
            allowed_reasons=_reasons(t.allowed_reasons),
            evidence_required_reasons=_reasons(t.evidence_required_reasons),
            auto_approve_max_amount=auto,
            auto_approve_reasons=(_reasons(t.auto_approve_reasons)
                                  if t.auto_approve_reasons is not None else None),
            auto_approve_requires_no_risk_flag=t.auto_approve_requires_no_risk,
            fee_bearer=enums.FeeBearer(t.fee_bearer), sla_clock=enums.SlaClock(t.sla_clock),
            business_day_start_hour=t.business_day_start_hour,
            business_day_end_hour=t.business_day_end_hour, consumer_text=_texts(t),
            published_at=t.published_at, published_by=t.published_by,
            complaint_first_response_hours=ComplaintSlaHours.of(
                t.complaint_first_response_hours),
            complaint_resolution_hours=ComplaintSlaHours.of(t.complaint_resolution_hours),
            complaint_reopen_window_days=t.complaint_reopen_window_days,
            complaint_auto_close_days=t.complaint_auto_close_days,
            risk_rules=_risk_rules(t),
        )


@strawberry.type(description="What a consumer sees of a merchant's refund policy.")
class PublicRefundPolicy:
    merchant_name: str
    merchant_slug: str
    version: int
    refund_window_days: int
    review_sla_hours: int
    completion_sla_hours: int
    allow_partial: bool
    allowed_methods: list[_Method]  # type: ignore[valid-type]
    allowed_reasons: list[_Reason]  # type: ignore[valid-type]
    evidence_required_reasons: list[_Reason]  # type: ignore[valid-type]
    fee_bearer: FeeBearer  # type: ignore[valid-type]
    sla_clock: SlaClock  # type: ignore[valid-type]
    consumer_text: list[PolicyText]

    @classmethod
    def of(cls, merchant: Tenant, t: PolicyTerms) -> PublicRefundPolicy:
        return cls.named(merchant.name, merchant.slug, t)

    @classmethod
    def named(cls, merchant_name: str, merchant_slug: str, t: PolicyTerms
              ) -> PublicRefundPolicy:
        return cls(
            merchant_name=merchant_name, merchant_slug=merchant_slug, version=t.version,
            refund_window_days=t.refund_window_days, review_sla_hours=t.review_sla_hours,
            completion_sla_hours=t.completion_sla_hours, allow_partial=t.allow_partial,
            allowed_methods=[enums.RefundMethod(m) for m in t.allowed_methods],
            allowed_reasons=_reasons(t.allowed_reasons),
            evidence_required_reasons=_reasons(t.evidence_required_reasons),
            fee_bearer=enums.FeeBearer(t.fee_bearer), sla_clock=enums.SlaClock(t.sla_clock),
            consumer_text=_texts(t),
        )
