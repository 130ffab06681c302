"""createAgency, createMerchant, createApiKey, revokeApiKey."""

from __future__ import annotations

from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.tenants.types import ApiKeyRole, ApiKeyType, TenantType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.roles import Role
from qrefund.tenants import service


@strawberry.input
class CreateAgencyInput:
    name: str
    slug: str


@strawberry.type
class CreateAgencyPayload:
    agency: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateMerchantInput:
    name: str
    slug: str
    agency_id: strawberry.ID | None = None
    timezone: str | None = None
    default_currency: str | None = None


@strawberry.type
class CreateMerchantPayload:
    merchant: TenantType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateApiKeyInput:
    tenant_id: strawberry.ID
    name: str
    role: ApiKeyRole  # type: ignore[valid-type]
    expires_at: datetime | None = None
    merchant_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="An agency key restricted to these of its merchants (and "
        "not the agency itself); absent: every merchant of the agency.")


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKeyType | None = None
    secret: str | None = strawberry.field(default=None, description="Shown once; store it now.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKeyType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TenantMutations:
    @strawberry.mutation
    async def create_agency(self, info: Info, input: CreateAgencyInput) -> CreateAgencyPayload:
        async def work(uow: UnitOfWork) -> CreateAgencyPayload:
            agency = await service.create_agency(uow, name=input.name, slug=input.slug)
            return CreateAgencyPayload(agency=TenantType.of(agency))

        return await info.context.mutate(
            work, lambda errors: CreateAgencyPayload(user_errors=errors)
        )

    @strawberry.mutation
    async def create_merchant(
        self, info: Info, input: CreateMerchantInput
    ) -> CreateMerchantPayload:
        async def work(uow: UnitOfWork) -> CreateMerchantPayload:
            agency_id = ids.tenant_id_of(input.agency_id, "agencyId") if input.agency_id else None
            merchant = await service.create_merchant(
                uow,
                name=input.name,
                slug=input.slug,
                agency_id=agency_id,
                timezone=input.timezone,
                default_currency=input.default_currency,
            )
            return CreateMerchantPayload(merchant=TenantType.of(merchant))

        return await info.context.mutate(
            work, lambda errors: CreateMerchantPayload(user_errors=errors)
        )

    @strawberry.mutation
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        async def work(uow: UnitOfWork) -> CreateApiKeyPayload:
            key, secret = await service.create_api_key(
                uow,
                tenant_id=ids.tenant_id_of(input.tenant_id, "tenantId"),
                name=input.name,
                role=Role(input.role),
                expires_at=input.expires_at,
                merchant_ids=(None if input.merchant_ids is None else
                              [ids.tenant_id_of(m, "merchantIds") for m in input.merchant_ids]),
            )
            return CreateApiKeyPayload(api_key=ApiKeyType.of(key), secret=secret)

        return await info.context.mutate(
            work, lambda errors: CreateApiKeyPayload(user_errors=errors)
        )

    @strawberry.mutation
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        async def work(uow: UnitOfWork) -> RevokeApiKeyPayload:
            tenant_id, key_id = ids.scoped_id(input.id, "ApiKey")
            key = await service.revoke_api_key(uow, tenant_id, key_id)
            return RevokeApiKeyPayload(api_key=ApiKeyType.of(key))

        return await info.context.mutate(
            work, lambda errors: RevokeApiKeyPayload(user_errors=errors)
        )
