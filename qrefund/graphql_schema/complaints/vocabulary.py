"""The complaint vocabulary on the wire (names clients rely on), registered once."""

from __future__ import annotations

import strawberry

from qrefund.platform.complaints import vocabulary as enums
from qrefund.platform.complaints.queries import TicketOrder

ComplaintCategory = strawberry.enum(enums.ComplaintCategory, name="ComplaintCategory")
ComplaintStatus = strawberry.enum(enums.ComplaintStatus, name="ComplaintStatus")
ComplaintPriority = strawberry.enum(enums.ComplaintPriority, name="ComplaintPriority")
ComplaintResolution = strawberry.enum(enums.ComplaintResolution, name="ComplaintResolution")
ComplaintAssigneeKind = strawberry.enum(enums.AssigneeKind, name="ComplaintAssigneeKind")
ComplaintAuthorKind = strawberry.enum(enums.AuthorKind, name="ComplaintAuthorKind")
ComplaintTicketOrder = strawberry.enum(TicketOrder, name="ComplaintTicketOrder")
