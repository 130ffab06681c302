"""UserError, the catalogues of error codes, and the one place domain errors become
user errors."""

from __future__ import annotations

import logging
import uuid
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import MaskErrors

from qrefund.platform.channels.errors import ChannelError
from qrefund.platform.complaints.errors import ComplaintError
from qrefund.platform.consumer.errors import ConsumerError
from qrefund.platform.deadlines.errors import DeadlineError
from qrefund.platform.errors import CommonError, DescribedCode, DomainError, catalogue
from qrefund.platform.exports.errors import ExportError
from qrefund.platform.imports.errors import TransactionImportError
from qrefund.platform.payouts.errors import PayoutError
from qrefund.platform.policies.errors import PolicyError
from qrefund.platform.refunds.errors import RefundError
from qrefund.platform.risk.errors import RiskError
from qrefund.platform.transactions.errors import TransactionError
from qrefund.platform.webhooks.errors import WebhookError
from qrefund.tenants.errors import TenantError

log = logging.getLogger("qrefund.graphql")

# The database is down or its pool is exhausted: the client should retry (503).
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

# Every user-error catalogue, imported here so that catalogue() sees all of them when
# UserErrorCode is built (tests/foundation/test_error_codes.py checks none is missing).
CATALOGUES = (CommonError, TransactionError, RefundError, PolicyError, PayoutError,
              WebhookError, DeadlineError, TenantError, ComplaintError, ConsumerError,
              ChannelError, ExportError, TransactionImportError, RiskError)


class RequestError(DescribedCode):
    """``errors[].extensions.code`` of refusals at the HTTP and WebSocket edge.

    Not user errors (no mutation returns them), so not in ``UserErrorCode``; as stable.
    """

    UNAUTHENTICATED = "UNAUTHENTICATED", ("The API key is missing, unknown, revoked or expired "
                                          "(HTTP 401).")
    RATE_LIMITED = "RATE_LIMITED", "Too many requests: retry after Retry-After seconds (HTTP 429)."
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE", ("The database cannot be reached right now: "
                                                  "retry (HTTP 503 with Retry-After).")
    INTERNAL_ERROR = "INTERNAL_ERROR", ("An unexpected failure; quote extensions.errorId when "
                                        "reporting it.")
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX", ("The query's estimated cost is over the limit "
                                              "(extensions.cost has both).")
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS", ("This socket or API key already runs "
                                                        "the most subscriptions allowed.")
    WEBSOCKET_REQUIRED = "WEBSOCKET_REQUIRED", ("Subscriptions run over WebSocket "
                                                "(graphql-transport-ws) only.")
    BAD_REQUEST = "BAD_REQUEST", ("The HTTP request is not a GraphQL request (unparsable body, "
                                  "no query, wrong parameter types).")
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED", ("This HTTP method may not carry this operation "
                                                "(mutations need POST; HTTP 405).")
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE", ("Send the request body as "
                                                        "application/json (HTTP 415).")
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE", "The request body is over the size limit (HTTP 413)."


def _user_error_code_enum() -> type[Enum]:
    """Every user-error code, sorted so the SDL does not depend on import order."""
    members = sorted(catalogue(), key=lambda code: code.value)
    codes: type[Enum] = Enum(  # type: ignore[misc]  # members known only at run time
        "UserErrorCode",
        [(m.value, strawberry.enum_value(m.value, description=m.description)) for m in members],
    )
    return strawberry.enum(
        codes,
        description="Every code a user error (userErrors, or a query's coded error) may "
                    "carry, with its meaning. Codes are added, never renamed or removed.",
    )


UserErrorCode = _user_error_code_enum()


@strawberry.type
class UserError:
    code: str = strawberry.field(
        description="One of UserErrorCode; stable: never renamed or removed.")
    field: list[str] | None
    message: str

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code.value, field=error.field, message=error.message)


class ExpectedGraphQLError(GraphQLError):
    """Errors we raise on purpose (authentication); shown to the client as they are."""


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Clients see "Unexpected error." and an error id; the log has the traceback.

    A database that cannot be reached is no bug: the client gets
    ``SERVICE_UNAVAILABLE`` and the HTTP response 503 with ``Retry-After``, the log
    one warning line.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error.original_error, UNAVAILABLE):
            return self._unavailable(error)
        error_id = uuid.uuid4().hex
        log.error("unexpected error %s at %s", error_id, error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": RequestError.INTERNAL_ERROR.value, "errorId": error_id}
        return masked

    def _unavailable(self, error: GraphQLError) -> GraphQLError:
        log.warning("database unavailable at %s: %s", error.path,
                    type(error.original_error).__name__)
        masked = super().anonymise_error(error)
        masked.message = "service temporarily unavailable"
        masked.extensions = {"code": RequestError.SERVICE_UNAVAILABLE.value}
        response: Any = getattr(self.execution_context.context, "response", None)
        if response is not None and hasattr(response, "status_code"):
            response.status_code = 503
            response.headers["Retry-After"] = "5"
        return masked


def query_error(error: DomainError) -> ExpectedGraphQLError:
    """Queries have no payload: a bad argument becomes a coded GraphQL error."""
    return ExpectedGraphQLError(
        error.message, extensions={"code": error.code.value, "field": error.field}
    )


def is_expected(error: GraphQLError) -> bool:
    """A client's mistake (a request error or a refusal we raised), not a server fault."""
    return not _is_unexpected(error)


def client_error_summary(error: GraphQLError) -> str:
    """What a log may say of a client's error: its code and where, never its message.

    Messages of request errors quote the client's values ("Variable '$input' got
    invalid value {'contactPhone': ...}"), and those may be personal data.
    """
    code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
    where = error.path or [f"{loc.line}:{loc.column}" for loc in error.locations or ()]
    return f"code={code} at={where}"
