"""UserError and the one place domain errors become user errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import MaskErrors

from qrefund.platform.errors import DomainError

log = logging.getLogger("qrefund.graphql")

# The database is down or its pool is exhausted: the client should retry (503).
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


@strawberry.type
class UserError:
    code: str
    field: list[str] | None
    message: str

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code, field=error.field, message=error.message)


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
        masked.extensions = {"code": "INTERNAL_ERROR", "errorId": error_id}
        return masked

    def _unavailable(self, error: GraphQLError) -> GraphQLError:
        log.warning("database unavailable at %s: %s", error.path,
                    type(error.original_error).__name__)
        masked = super().anonymise_error(error)
        masked.message = "service temporarily unavailable"
        masked.extensions = {"code": "SERVICE_UNAVAILABLE"}
        response: Any = getattr(self.execution_context.context, "response", None)
        if response is not None and hasattr(response, "status_code"):
            response.status_code = 503
            response.headers["Retry-After"] = "5"
        return masked


def query_error(error: DomainError) -> ExpectedGraphQLError:
    """Queries have no payload: a bad argument becomes a coded GraphQL error."""
    return ExpectedGraphQLError(
        error.message, extensions={"code": error.code, "field": error.field}
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
