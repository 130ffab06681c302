"""refundPolicy (staff), refundPolicyHistory, and the public publicRefundPolicy."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import query_error
from qrefund.graphql_schema.policies.types import PublicRefundPolicy, RefundPolicyType
from qrefund.platform.errors import CommonError, DomainError, InvalidInput
from qrefund.platform.policies import service
from qrefund.platform.policies.terms import PolicySource, PolicyTerms
from qrefund.platform.scope import TenantKind
from qrefund.tenants.auth import public_merchant_scope

MAX_HISTORY = 100


@strawberry.type
class PolicyQueries:
    @strawberry.field(description="The policy in force for a merchant (its own, else its "
                      "agency's template, else the defaults), or an agency's own template. "
                      "merchantId defaults to the caller's tenant.")
    async def refund_policy(self, info: Info, merchant_id: strawberry.ID | None = None
                            ) -> RefundPolicyType:
        try:
            owner_id = ids.tenant_id_of(merchant_id, "merchantId") if merchant_id else None
            async with info.context.reading() as uow:
                _owner, terms = await service.current(uow, owner_id)
        except DomainError as error:
            raise query_error(error) from None
        return RefundPolicyType.of(terms)

    @strawberry.field(description="Every version a merchant or agency published, newest first.")
    async def refund_policy_history(self, info: Info, merchant_id: strawberry.ID | None = None,
                                    first: int = 20) -> list[RefundPolicyType]:
        try:
            if not 1 <= first <= MAX_HISTORY:
                raise InvalidInput(f"first must be between 1 and {MAX_HISTORY}", field=["first"],
                                   code=CommonError.INVALID_PAGE_SIZE)
            owner_id = ids.tenant_id_of(merchant_id, "merchantId") if merchant_id else None
            async with info.context.reading() as uow:
                rows = await service.history(uow, owner_id, first=first)
                kinds = [r.owner_kind for r in rows]
        except DomainError as error:
            raise query_error(error) from None
        return [RefundPolicyType.of(PolicyTerms.of(
            r, PolicySource.MERCHANT if k == TenantKind.MERCHANT else PolicySource.AGENCY_TEMPLATE))
            for r, k in zip(rows, kinds, strict=True)]

    @strawberry.field(description="Public (no key): a merchant's refund policy as consumers "
                      "see it, by the merchant's slug; null for an unknown merchant.")
    async def public_refund_policy(self, info: Info, merchant_slug: str
                                   ) -> PublicRefundPolicy | None:
        scope = await public_merchant_scope(info.context.db, merchant_slug)
        if scope is None:
            return None
        async with info.context.db.unit_of_work(scope, readonly=True) as uow:
            found = await service.public_terms(uow, merchant_slug)
            return PublicRefundPolicy.of(*found) if found else None
