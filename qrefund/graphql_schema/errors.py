"""UserError and the one place domain errors become user errors."""

from __future__ import annotations

import logging
import uuid

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from qrefund.platform.errors import DomainError

log = logging.getLogger("qrefund.graphql")


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
    """Clients see "Unexpected error." and an error id; the log has the traceback."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex
        log.error("unexpected error %s at %s", error_id, error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_ERROR", "errorId": error_id}
        return masked


def query_error(error: DomainError) -> ExpectedGraphQLError:
    """Queries have no payload: a bad argument becomes a coded GraphQL error."""
    return ExpectedGraphQLError(
        error.message, extensions={"code": error.code, "field": error.field}
    )
