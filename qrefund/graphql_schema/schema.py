"""The schema: per-domain Query/Mutation classes merged into one, with limits."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from qrefund.graphql_schema import inputs
from qrefund.graphql_schema.analytics.queries import AnalyticsQueries
from qrefund.graphql_schema.channels.links import ChannelLinkMutations
from qrefund.graphql_schema.channels.mutations import ChannelMutations
from qrefund.graphql_schema.channels.queries import ChannelQueries
from qrefund.graphql_schema.complaints.mutations import ComplaintMutations
from qrefund.graphql_schema.complaints.queries import ComplaintQueries
from qrefund.graphql_schema.complaints.types import (
    ticket_types_by_case_loader,
    ticket_types_by_transaction_loader,
)
from qrefund.graphql_schema.consumer.mutations import ConsumerMutations
from qrefund.graphql_schema.consumer.queries import ConsumerQueries
from qrefund.graphql_schema.consumer.receipts import ReceiptMutations
from qrefund.graphql_schema.cost import CostModel, QueryCost
from qrefund.graphql_schema.deadlines.schema import DeadlineMutations, DeadlineQueries
from qrefund.graphql_schema.errors import (
    UserErrorCode,
    client_error_summary,
    is_expected,
)
from qrefund.graphql_schema.events.queries import EventQueries
from qrefund.graphql_schema.execution import FastPathExecutionContext
from qrefund.graphql_schema.exports.mutations import ExportMutations
from qrefund.graphql_schema.exports.queries import ExportQueries
from qrefund.graphql_schema.imports.mutations import ImportMutations
from qrefund.graphql_schema.imports.queries import ImportQueries
from qrefund.graphql_schema.node import NodeQueries
from qrefund.graphql_schema.notifications.queries import NotificationQueries
from qrefund.graphql_schema.operation_guard import operation_guard
from qrefund.graphql_schema.payouts.types import PayoutType
from qrefund.graphql_schema.policies.mutations import PolicyMutations
from qrefund.graphql_schema.policies.queries import PolicyQueries
from qrefund.graphql_schema.refunds.bulk import BulkRefundMutations
from qrefund.graphql_schema.refunds.mutations import RefundMutations
from qrefund.graphql_schema.refunds.payout_mutations import PayoutMutations
from qrefund.graphql_schema.refunds.queries import RefundQueries
from qrefund.graphql_schema.refunds.types import RefundCaseType, case_types_by_transaction_loader
from qrefund.graphql_schema.retention.queries import RetentionQueries
from qrefund.graphql_schema.risk.mutations import RiskMutations
from qrefund.graphql_schema.risk.queries import RiskQueries
from qrefund.graphql_schema.scalars import SCALAR_OVERRIDES
from qrefund.graphql_schema.subscriptions import Subscription
from qrefund.graphql_schema.tenants.digest import DigestMutations
from qrefund.graphql_schema.tenants.lifecycle import MerchantLifecycleMutations
from qrefund.graphql_schema.tenants.mutations import TenantMutations
from qrefund.graphql_schema.tenants.queries import TenantQueries
from qrefund.graphql_schema.transactions.mutations import TransactionMutations
from qrefund.graphql_schema.transactions.queries import TransactionQueries
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.graphql_schema.webhooks.mutations import WebhookMutations
from qrefund.graphql_schema.webhooks.queries import WebhookQueries
from qrefund.observability import tracing
from qrefund.platform.config import Settings

SDL_PATH = Path(__file__).with_name("schema.graphql")
log = logging.getLogger("qrefund.graphql")

Query = merge_types(
    "Query", (NodeQueries, TenantQueries, TransactionQueries, PolicyQueries, RefundQueries,
              WebhookQueries, NotificationQueries, DeadlineQueries, ComplaintQueries,
              EventQueries, ConsumerQueries, ChannelQueries, ExportQueries, AnalyticsQueries,
              ImportQueries, RetentionQueries, RiskQueries)
)
Mutation = merge_types(
    "Mutation", (TenantMutations, TransactionMutations, PolicyMutations, RefundMutations,
                 BulkRefundMutations, MerchantLifecycleMutations,
                 WebhookMutations, PayoutMutations, DeadlineMutations, ComplaintMutations,
                 ConsumerMutations, ReceiptMutations, ChannelMutations, ExportMutations,
                 ChannelLinkMutations, DigestMutations, ImportMutations, RiskMutations)
)
# Every argument of every root field is normalised before its resolver runs.
inputs.apply_to(Query, mutations=False)
inputs.apply_to(Mutation, mutations=True)


# Loaders a lower GraphQL package reaches by name because it must not import the
# package that provides them (a payment lists its refund cases and complaints).
RELATED_LOADERS = {
    "refund_case_types_by_transaction": case_types_by_transaction_loader,
    "complaint_ticket_types_by_case": ticket_types_by_case_loader,
    "complaint_ticket_types_by_transaction": ticket_types_by_transaction_loader,
}


class QrefundSchema(strawberry.Schema):
    """Strawberry's schema with our error logging and introspection rules."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.introspection_mode = settings.introspection_mode
        self.related_loaders = RELATED_LOADERS

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Client errors: one INFO line without the message (it may quote personal data),
        and no "Did you mean" hints for callers not allowed to explore the schema.
        Unexpected errors are logged once, with an error id, by MaskUnexpectedErrors (the
        operation guard's masking)."""
        context = getattr(execution_context, "context", None)
        anonymous = getattr(context, "scope", None) is None
        hide_hints = self.introspection_mode == "off" or (
            anonymous and self.introspection_mode == "authenticated")
        for error in errors:
            # Request errors (no path: parsing, validation, variable coercion) are the
            # client's, whatever raised them; execution errors are masked and logged
            # there when unexpected.
            if error.path is not None and not is_expected(error):
                continue
            if hide_hints and " Did you mean" in error.message:
                error.message = error.message.split(" Did you mean")[0]
            log.info("client error %s", client_error_summary(error))


def build_schema(settings: Settings) -> strawberry.Schema:
    # The depth and alias rules are built once: QueryDepthLimiter/MaxAliasesLimiter make a
    # new rule class per instance, which changes the validation cache's key on every request
    # and re-validated every query (about a fifth of a 50-row page's time).
    limits: tuple[Any, ...] = (
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
    )
    if settings.introspection_mode == "off":
        limits = (*limits, NoSchemaIntrospectionCustomRule)
    # One estimator per schema: its plan cache outlives the per-request extension.
    cost = QueryCost(CostModel.of(settings))
    # OpenTelemetry spans for parsing, validation and resolvers, when tracing is on.
    traced = tracing.graphql_extension() if settings.tracing_enabled else None
    return QrefundSchema(
        settings,
        # Plain fields skip graphql-core's per-field machinery (execution.py).
        execution_context_class=(FastPathExecutionContext if settings.graphql_fast_path
                                 else None),
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # UserErrorCode: no field returns it; listed so the SDL documents every code.
        types=[TransactionType, RefundCaseType, PayoutType, UserErrorCode],
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[
            # One factory: Strawberry builds the guard anew for each request; the parse
            # cache, the validation store and the cost plans outlive it.
            operation_guard(max_tokens=settings.max_query_tokens, rules=limits, cost=cost),
            *([traced] if traced is not None else []),
        ],
    )


@lru_cache(maxsize=1)
def default_schema() -> strawberry.Schema:
    return build_schema(Settings())


def print_sdl() -> str:
    return default_schema().as_str() + "\n"
