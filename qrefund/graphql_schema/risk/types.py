"""The AnomalyFlag type (a risk flag with its evidence) and the loaders behind ``flags``.

(``RiskFlag`` is taken: it names the enum of ``RefundCase.riskFlags``, the intake's
signals, whose ANOMALY value points here.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.loaders import batch_loader, tenant_loader
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.graphql_schema.vocabulary import RiskRule
from qrefund.platform.risk import models, service
from qrefund.platform.risk.models import RiskFlagRecord

Key = tuple[uuid.UUID, uuid.UUID]

RiskFlagStatus = strawberry.enum(models.FlagStatus, name="RiskFlagStatus")
RiskSeverity = strawberry.enum(models.FlagSeverity, name="RiskSeverity")
RiskSubjectType = strawberry.enum(models.SubjectType, name="RiskSubjectType")


def _ids(type_name: str, tenant_id: uuid.UUID, values: list[Any]) -> list[strawberry.ID]:
    return [ids.encode(type_name, tenant_id, uuid.UUID(str(v))) for v in values]


@strawberry.type(name="AnomalyFlag", description="What an anomaly rule found about a payment "
                 "or a refund case, with the related rows, and its review.")
class AnomalyFlagType(Node):
    rule: RiskRule  # type: ignore[valid-type]
    severity: RiskSeverity  # type: ignore[valid-type]
    score: int = strawberry.field(description="0-100: how far past the rule's threshold.")
    status: RiskFlagStatus  # type: ignore[valid-type]
    subject_type: RiskSubjectType  # type: ignore[valid-type]
    transaction_id: strawberry.ID | None
    refund_case_id: strawberry.ID | None
    evidence_transaction_ids: list[strawberry.ID] = strawberry.field(
        description="The payments that make the case (global ids).")
    evidence_refund_case_ids: list[strawberry.ID] = strawberry.field(
        description="The refund cases that make the case (global ids).")
    figures: JSON = strawberry.field(description="What was measured against what threshold "
                                     "(observed, threshold, median, mad, dimension, ...).")
    reviewer: str | None
    note: str | None
    merchant_id: strawberry.ID
    created_at: datetime
    reviewed_at: datetime | None
    last_seen_at: datetime
    _tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, f: RiskFlagRecord) -> AnomalyFlagType:
        evidence = dict(f.evidence or {})
        txns, cases = evidence.pop("transactions", []), evidence.pop("refundCases", [])
        return cls(
            id=ids.encode("AnomalyFlag", f.tenant_id, f.id), rule=f.rule, severity=f.severity,
            score=f.score, status=f.status, subject_type=f.subject_type,
            transaction_id=(ids.encode("Transaction", f.tenant_id, f.transaction_id)
                            if f.transaction_id else None),
            refund_case_id=(ids.encode("RefundCase", f.tenant_id, f.refund_case_id)
                            if f.refund_case_id else None),
            evidence_transaction_ids=_ids("Transaction", f.tenant_id, txns),
            evidence_refund_case_ids=_ids("RefundCase", f.tenant_id, cases),
            figures=JSON(evidence), reviewer=f.reviewer, note=f.note,
            merchant_id=ids.encode("Tenant", f.tenant_id), created_at=f.created_at,
            reviewed_at=f.reviewed_at, last_seen_at=f.last_seen_at, _tenant_id=f.tenant_id,
        )

    @strawberry.field
    async def merchant(self, info: Info) -> TenantType:
        tenant = await tenant_loader(info.context).load(self._tenant_id)
        assert tenant is not None
        return TenantType.of(tenant)


def flags_by_transaction_loader(ctx: Context) -> DataLoader[Key, list[AnomalyFlagType]]:
    """``Transaction.flags``: one statement for every payment of the page."""
    async def fetch(uow: Any, keys: Any) -> dict[Key, list[AnomalyFlagType]]:
        rows = await service.flags_by_transaction(uow, keys)
        return {k: [AnomalyFlagType.of(f) for f in v] for k, v in rows.items()}

    return batch_loader(ctx, "anomaly_flags_by_transaction", fetch, list)


def flags_by_case_loader(ctx: Context) -> DataLoader[Key, list[AnomalyFlagType]]:
    """``RefundCase.flags``: one statement for every case of the page."""
    async def fetch(uow: Any, keys: Any) -> dict[Key, list[AnomalyFlagType]]:
        rows = await service.flags_by_case(uow, keys)
        return {k: [AnomalyFlagType.of(f) for f in v] for k, v in rows.items()}

    return batch_loader(ctx, "anomaly_flags_by_case", fetch, list)
