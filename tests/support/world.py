"""A small world of tenants and keys, built through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from qrefund.platform.db import Database
from qrefund.platform.roles import Role
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from qrefund.tenants.bootstrap import bootstrap


@dataclass
class World:
    operator_id: uuid.UUID
    agency_id: uuid.UUID
    merchant_a: uuid.UUID  # under the agency
    merchant_b: uuid.UUID  # under the agency
    merchant_c: uuid.UUID  # stands alone
    other_agency_id: uuid.UUID
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, who: str, role: Role | str = Role.ADMIN) -> str:
        return self.keys[f"{who}:{Role(role).value}"]


async def build_world(db: Database) -> World:
    operator, operator_key = await bootstrap(db)
    scope = await authenticate(db, operator_key)
    keys = {"operator:ADMIN": operator_key}
    async with db.unit_of_work(scope) as uow:
        agency = await tenants.create_agency(uow, name="Agency One", slug="agency-one")
        other = await tenants.create_agency(uow, name="Agency Two", slug="agency-two")
        a = await tenants.create_merchant(
            uow,
            name="Merchant A",
            slug="merchant-a",
            agency_id=agency.id,
            timezone="Asia/Shanghai",
            default_currency="CNY",
        )
        b = await tenants.create_merchant(
            uow,
            name="Merchant B",
            slug="merchant-b",
            agency_id=agency.id,
            timezone="Asia/Shanghai",
            default_currency="CNY",
        )
        c = await tenants.create_merchant(
            uow,
            name="Merchant C",
            slug="merchant-c",
            agency_id=None,
            timezone="Asia/Tokyo",
            default_currency="JPY",
        )
        for who, tenant in (("agency", agency), ("other_agency", other)):
            _k, keys[f"{who}:ADMIN"] = await tenants.create_api_key(
                uow, tenant_id=tenant.id, name=who, role=Role.ADMIN, expires_at=None
            )
        for who, tenant in (("a", a), ("b", b), ("c", c)):
            for role in Role:
                _k, keys[f"{who}:{role.value}"] = await tenants.create_api_key(
                    uow, tenant_id=tenant.id, name=f"{who} {role.value}", role=role, expires_at=None
                )
    return World(
        operator_id=operator.id,
        agency_id=agency.id,
        merchant_a=a.id,
        merchant_b=b.id,
        merchant_c=c.id,
        other_agency_id=other.id,
        keys=keys,
    )
