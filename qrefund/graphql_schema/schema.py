"""The schema: per-domain Query/Mutation classes merged into one, with limits."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from qrefund.graphql_schema.cost import CostModel, QueryCost, QueryCostLimiter
from qrefund.graphql_schema.deadlines.schema import DeadlineMutations, DeadlineQueries
from qrefund.graphql_schema.errors import MaskUnexpectedErrors
from qrefund.graphql_schema.node import NodeQueries
from qrefund.graphql_schema.notifications.queries import NotificationQueries
from qrefund.graphql_schema.payouts.mutations import PayoutMutations
from qrefund.graphql_schema.payouts.types import PayoutType
from qrefund.graphql_schema.policies.mutations import PolicyMutations
from qrefund.graphql_schema.policies.queries import PolicyQueries
from qrefund.graphql_schema.refunds.mutations import RefundMutations
from qrefund.graphql_schema.refunds.queries import RefundQueries
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.graphql_schema.subscriptions import Subscription
from qrefund.graphql_schema.tenants.mutations import TenantMutations
from qrefund.graphql_schema.tenants.queries import TenantQueries
from qrefund.graphql_schema.transactions.mutations import TransactionMutations
from qrefund.graphql_schema.transactions.queries import TransactionQueries
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.graphql_schema.webhooks.mutations import WebhookMutations
from qrefund.graphql_schema.webhooks.queries import WebhookQueries
from qrefund.platform.config import Settings

SDL_PATH = Path(__file__).with_name("schema.graphql")

Query = merge_types(
    "Query", (NodeQueries, TenantQueries, TransactionQueries, PolicyQueries, RefundQueries,
              WebhookQueries, NotificationQueries, DeadlineQueries)
)
Mutation = merge_types(
    "Mutation", (TenantMutations, TransactionMutations, PolicyMutations, RefundMutations,
                 WebhookMutations, PayoutMutations, DeadlineMutations)
)


def build_schema(settings: Settings) -> strawberry.Schema:
    # The depth and alias rules are built once: QueryDepthLimiter/MaxAliasesLimiter make a
    # new rule class per instance, which changes ValidationCache's key on every request
    # and re-validated every query (about a fifth of a 50-row page's time).
    limits = (
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
    )
    # One estimator per schema: its plan cache outlives the per-request extension.
    cost = QueryCost(CostModel.of(settings))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[TransactionType, RefundCaseType, PayoutType],
        extensions=[
            # Factories: Strawberry builds fresh extension instances per request.
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: ParserCache(maxsize=1024),
            lambda: AddValidationRules(list(limits)),
            lambda: ValidationCache(maxsize=1024),
            lambda: QueryCostLimiter(cost=cost),
            MaskUnexpectedErrors,
        ],
    )


@lru_cache(maxsize=1)
def default_schema() -> strawberry.Schema:
    return build_schema(Settings())


def print_sdl() -> str:
    return default_schema().as_str() + "\n"
