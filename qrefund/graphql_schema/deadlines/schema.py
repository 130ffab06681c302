"""Escalation contacts: who a merchant's overdue refund cases are reassigned to."""

from __future__ import annotations

from datetime import datetime

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError, query_error
from qrefund.platform.db import UnitOfWork
from qrefund.platform.deadlines import service
from qrefund.platform.deadlines.models import EscalationContact
from qrefund.platform.errors import DomainError


@strawberry.type(name="EscalationContact")
class EscalationContactType:
    tenant_id: strawberry.ID
    assignee: str
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, c: EscalationContact) -> EscalationContactType:
        return cls(tenant_id=ids.encode("Tenant", c.tenant_id), assignee=c.assignee,
                   updated_by=c.updated_by, updated_at=c.updated_at)


@strawberry.input
class SetEscalationContactInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="A merchant or an agency; default: the caller's tenant.")
    assignee: str


@strawberry.type
class SetEscalationContactPayload:
    escalation_contact: EscalationContactType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeadlineQueries:
    @strawberry.field(description="Who a tenant's overdue cases go to (null: nobody set).")
    async def escalation_contact(self, info: Info, tenant_id: strawberry.ID
                                 ) -> EscalationContactType | None:
        try:
            tenant = ids.tenant_id_of(tenant_id, "tenantId")
            async with info.context.reading() as uow:
                found = await service.escalation_contact(uow, tenant)
        except DomainError as error:
            raise query_error(error) from None
        return EscalationContactType.of(found) if found else None


@strawberry.type
class DeadlineMutations:
    @strawberry.mutation(description="Set who a merchant's cases are reassigned to when a "
                                     "deadline is breached (an agency's contact applies to its "
                                     "merchants without their own).")
    async def set_escalation_contact(self, info: Info, input: SetEscalationContactInput
                                     ) -> SetEscalationContactPayload:
        async def work(uow: UnitOfWork) -> SetEscalationContactPayload:
            tenant = ids.tenant_id_of(input.tenant_id, "tenantId") if input.tenant_id else None
            contact = await service.set_escalation_contact(uow, tenant, input.assignee)
            return SetEscalationContactPayload(escalation_contact=EscalationContactType.of(contact))

        return await info.context.mutate(
            work, lambda errors: SetEscalationContactPayload(user_errors=errors))
