"""The refund vocabulary on the wire (names clients rely on), registered once."""

from __future__ import annotations

import strawberry

from qrefund.platform import vocabulary as enums
from qrefund.platform.policies.terms import PolicySource as DomainSource

RefundCaseStatus = strawberry.enum(enums.RefundCaseStatus, name="RefundCaseStatus")
RefundMethod = strawberry.enum(enums.RefundMethod, name="RefundMethod")
RefundReason = strawberry.enum(enums.RefundReason, name="RefundReason")
RequestChannel = strawberry.enum(enums.RequestChannel, name="RequestChannel")
EvidenceType = strawberry.enum(enums.EvidenceType, name="EvidenceType")
RiskFlag = strawberry.enum(enums.RiskFlag, name="RiskFlag")
RiskRule = strawberry.enum(enums.RiskRule, name="RiskRule",
                           description="The anomaly-detection rules.")
SlaClock = strawberry.enum(enums.SlaClock, name="SlaClock")
FeeBearer = strawberry.enum(enums.FeeBearer, name="FeeBearer")
PolicySource = strawberry.enum(DomainSource, name="PolicySource")
