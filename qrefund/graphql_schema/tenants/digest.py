"""setDailyDigest: where a merchant's or agency's daily digest is e-mailed."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.platform.db import UnitOfWork
from qrefund.tenants import digest


@strawberry.input
class SetDailyDigestInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="A merchant or an agency; default: the caller's tenant.")
    email: str | None = strawberry.field(
        default=None, description="The address; null or blank: no e-mail (the "
                                  "`digest.daily` webhook event still goes out).")


@strawberry.type
class SetDailyDigestPayload:
    tenant: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DigestMutations:
    @strawberry.mutation(description="Set where the daily digest (cases near their deadline, "
                                     "deadlines missed in the last day, unanswered complaints) "
                                     "is e-mailed. ADMIN.")
    async def set_daily_digest(self, info: Info, input: SetDailyDigestInput
                               ) -> SetDailyDigestPayload:
        async def work(uow: UnitOfWork) -> SetDailyDigestPayload:
            tenant_id = ids.tenant_id_of(input.tenant_id, "tenantId") if input.tenant_id else None
            tenant = await digest.set_digest_email(uow, tenant_id, input.email)
            return SetDailyDigestPayload(tenant=TenantType.of(tenant))

        return await info.context.mutate(
            work, lambda errors: SetDailyDigestPayload(user_errors=errors))
