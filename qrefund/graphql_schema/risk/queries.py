"""riskFlags: a keyset-paginated list of flags over one or several merchants."""

from __future__ import annotations

import uuid

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Context, Info
from qrefund.graphql_schema.paging import filtered_page
from qrefund.graphql_schema.relay import Connection, Node
from qrefund.graphql_schema.risk.types import (
    AnomalyFlagType,
    RiskFlagStatus,
    RiskRule,
    flags_by_case_loader,
)
from qrefund.platform.errors import CommonError, InvalidInput
from qrefund.platform.risk import service
from qrefund.platform.risk.service import FlagFilter

MAX_MERCHANT_IDS = 200


def _filter(merchant_ids: list[strawberry.ID] | None, status: str | None,
            rules: list[str] | None) -> FlagFilter:
    if merchant_ids is not None and len(merchant_ids) > MAX_MERCHANT_IDS:
        raise InvalidInput(f"at most {MAX_MERCHANT_IDS} merchantIds", field=["merchantIds"],
                           code=CommonError.TOO_MANY)
    return FlagFilter(
        merchant_ids=[ids.tenant_id_of(m, "merchantIds") for m in merchant_ids]
        if merchant_ids else None,
        statuses=[str(status)] if status else None,
        rules=sorted({str(r) for r in rules}) if rules else None,
    )


@strawberry.type
class RiskQueries:
    @strawberry.field(description="Anomaly flags in the caller's scope (an agency: all its "
                      "merchants, or those named), newest first.")
    async def risk_flags(
        self, info: Info, merchant_ids: list[strawberry.ID] | None = None,
        status: RiskFlagStatus | None = None,  # type: ignore[valid-type]
        rules: list[RiskRule] | None = None,  # type: ignore[valid-type]
        after: str | None = None, first: int | None = None,
    ) -> Connection[AnomalyFlagType]:
        page, total = await filtered_page(
            info, first, lambda: _filter(merchant_ids, status, rules),
            lambda uow, flt, size: service.list_page(uow, flt, first=size, after=after),
            service.count)
        return Connection[AnomalyFlagType].build(
            page, [AnomalyFlagType.of(f) for f in page.items], total)


async def anomaly_flag_node(ctx: Context, parts: list[uuid.UUID]) -> Node | None:
    if len(parts) != 2:
        return None
    async with ctx.reading() as uow:
        found = await service.by_keys(uow, [(parts[0], parts[1])])
    flag = found.get((parts[0], parts[1]))
    return AnomalyFlagType.of(flag) if flag else None


__all__ = ["RiskQueries", "anomaly_flag_node", "flags_by_case_loader"]
