"""Running the rules on one subject and keeping their flags (one per subject and rule).

A new flag writes ``transaction.flagged`` or ``refund_case.flagged`` (the case's event
also goes on its timeline, where the reviewer sees why it was held); a rule finding
the same thing again refreshes the flag's evidence and score and writes nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy.exc import IntegrityError

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.ids import new_id
from qrefund.platform.outbox.service import record_event
from qrefund.platform.policies import service as policies
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk.models import RiskFlagRecord, SubjectType
from qrefund.platform.risk.repository import RiskFlagRepository
from qrefund.platform.risk.rules import (
    Check,
    Finding,
    amount_mismatch,
    cross_merchant_contact,
    duplicate_charge,
    quick_refund,
    refund_velocity,
    refunds_exceed_sales,
    repeated_destination,
)
from qrefund.platform.risk.thresholds import FEEDBACK_DAYS, RuleSettings, settings_for
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RiskFlag
from qrefund.tenants.models import Tenant

RULES: tuple[ModuleType, ...] = (duplicate_charge, amount_mismatch, refund_velocity,
                                 refunds_exceed_sales, repeated_destination,
                                 cross_merchant_contact, quick_refund)
TRANSACTION_RULES = tuple(r for r in RULES if r.SUBJECT == SubjectType.TRANSACTION)
CASE_RULES = tuple(r for r in RULES if r.SUBJECT == SubjectType.REFUND_CASE)


async def rule_settings(uow: UnitOfWork, merchant: Tenant, now: datetime
                        ) -> dict[str, RuleSettings]:
    """Every rule's settings for the merchant: policy over defaults, tuned by feedback."""
    terms = await policies.effective_for(uow, merchant)
    feedback = await RiskFlagRepository(uow).feedback(merchant.id,
                                                      now - timedelta(days=FEEDBACK_DAYS))
    return _settings(terms.risk_rules, feedback)


async def case_rule_settings(uow: UnitOfWork, merchant: Tenant, now: datetime, txn: Transaction
                             ) -> tuple[dict[str, RuleSettings], bool]:
    """:func:`rule_settings`, and whether the case's payment has an open flag of its own,
    read in one statement (a new case's screen needs both)."""
    terms = await policies.effective_for(uow, merchant)
    feedback, open_on_payment = await RiskFlagRepository(uow).feedback_and_open_on_payment(
        merchant.id, now - timedelta(days=FEEDBACK_DAYS), txn.id)
    return _settings(terms.risk_rules, feedback), open_on_payment


def _settings(policy_rules: Mapping[str, Any], feedback: Mapping[tuple[str, str], int]
              ) -> dict[str, RuleSettings]:
    return {r.RULE.value: settings_for(r.RULE, r.DEFAULT_THRESHOLD, policy_rules, feedback)
            for r in RULES}


async def run(ctx: Check, rules: tuple[ModuleType, ...], settings: dict[str, RuleSettings]
              ) -> list[RiskFlagRecord]:
    """Run ``rules`` on the subject of ``ctx``; the flags raised for the first time."""
    created: list[RiskFlagRecord] = []
    for rule in rules:
        setting = settings[rule.RULE.value]
        if not setting.enabled:
            continue
        finding = await rule.check(ctx, setting)
        if finding is not None:
            flag, new = await _keep(ctx, rule.RULE.value, finding)
            if new:
                created.append(flag)
    return created


def _subject(ctx: Check) -> tuple[SubjectType, Any]:
    if ctx.case is not None:
        return SubjectType.REFUND_CASE, ctx.case.id
    return SubjectType.TRANSACTION, ctx.txn.id


async def _keep(ctx: Check, rule: str, finding: Finding) -> tuple[RiskFlagRecord, bool]:
    """The subject's flag for ``rule``: refreshed when it exists, else created (a
    concurrent creator wins the unique key and this one refreshes theirs)."""
    repo = RiskFlagRepository(ctx.uow)
    subject_type, subject_id = _subject(ctx)
    existing = await repo.of_subject(ctx.merchant.id, subject_type.value, subject_id, rule)
    if existing is None:
        flag = RiskFlagRecord(
            tenant_id=ctx.merchant.id, id=new_id(), subject_type=subject_type.value,
            subject_id=subject_id, transaction_id=ctx.txn.id,
            refund_case_id=ctx.case.id if ctx.case is not None else None, rule=rule,
            severity=finding.severity.value, score=finding.score, evidence=finding.evidence(),
            created_at=ctx.now, updated_at=ctx.now, last_seen_at=ctx.now)
        try:
            async with ctx.uow.savepoint():
                repo.add(flag)
                await ctx.uow.flush()
        except IntegrityError:
            existing = await repo.of_subject(ctx.merchant.id, subject_type.value, subject_id,
                                             rule)
            if existing is None:
                raise
        else:
            await _announce(ctx, flag)
            return flag, True
    existing.evidence, existing.score = finding.evidence(), finding.score
    existing.severity, existing.last_seen_at = finding.severity.value, ctx.now
    repo.add(existing)
    return existing, False


def flag_fields(flag: RiskFlagRecord) -> dict[str, Any]:
    return {"flagId": str(flag.id), "rule": flag.rule, "severity": flag.severity,
            "score": flag.score}


async def _announce(ctx: Check, flag: RiskFlagRecord) -> None:
    if ctx.case is not None:
        # The scan read the case without a lock: take it now (this refreshes ctx.case),
        # since the timeline's sequence number comes from the case row.
        case = (await refunds.get_case(ctx.uow, ctx.case.tenant_id, ctx.case.id, lock=True)
                if ctx.scan else ctx.case)
        await hold_case(ctx.uow, case)
        await refunds.record_case_event(ctx.uow, case, type="flagged",
                                        note=f"risk rule {flag.rule}", data=flag_fields(flag),
                                        actor="system:risk")
        return
    txn = ctx.txn
    await record_event(ctx.uow, tenant_id=txn.tenant_id, type="transaction.flagged",
                       aggregate_type="transaction", aggregate_id=txn.id,
                       payload={"merchantOrderNo": txn.merchant_order_no,
                                "amount": str(txn.amount.decimal), "currency": txn.currency,
                                "status": txn.status, "channel": txn.channel,
                                **flag_fields(flag)})


async def hold_case(uow: UnitOfWork, case: RefundCase) -> None:
    """Mark the case as flagged (``riskFlags`` shows ANOMALY; auto-approval never takes it)."""
    if RiskFlag.ANOMALY.value not in case.risk_flags:
        case.risk_flags = [*case.risk_flags, RiskFlag.ANOMALY.value]


def now() -> datetime:
    return utcnow()

