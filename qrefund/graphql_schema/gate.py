"""What a caller without a key may run, decided before any GraphQL work is done.

An anonymous request may only select public root fields (the consumer's receipt
and refund page, a merchant's public policy, ``__typename``; introspection when
it is public). Anything else is refused with 401 *before* variables are coerced,
arguments parsed or resolvers run, so an unauthenticated caller can spend no more
than a token-limited parse (cached) on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

# Root fields a consumer (no key, maybe a receipt token) may call.
PUBLIC_QUERY_FIELDS = frozenset({"__typename", "publicRefundPolicy", "receipt"})
PUBLIC_MUTATION_FIELDS = frozenset({
    "applyForRefund", "provideRefundInfoByReceipt", "cancelRefundByReceipt",
    "openComplaintByReceipt", "replyToComplaintByReceipt", "rateComplaint",
    "requestEvidenceUpload"})
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
# Documents longer than this are parsed but not cached (the body limit bounds them).
_CACHE_MAX_LENGTH = 20_000


@dataclass(frozen=True)
class Operation:
    """The operation a request runs, as far as the gate needs to know it."""

    type: OperationType
    root_fields: frozenset[str]


def anonymous_refusal(
    query: str | None, operation_name: object, *, max_tokens: int, introspection: bool
) -> str | None:
    """Why an anonymous caller may not run this request, or None when it may.

    A document that does not parse or names no single operation is left to the
    GraphQL layer, which answers it with the usual request error (it costs the
    same parse either way).
    """
    if not isinstance(query, str) or not (operation_name is None or
                                          isinstance(operation_name, str)):
        return None
    operation = _operation(query, operation_name, max_tokens)
    if operation is None:
        return None
    allowed = PUBLIC_QUERY_FIELDS | (INTROSPECTION_FIELDS if introspection else frozenset())
    if operation.type is OperationType.MUTATION:
        allowed = PUBLIC_MUTATION_FIELDS | {"__typename"}
    elif operation.type is OperationType.SUBSCRIPTION:
        allowed = frozenset()
    if operation.root_fields <= allowed:
        return None
    return "authentication required: send 'Authorization: Bearer <api key>'"


def is_subscription(query: str | None, operation_name: object, *, max_tokens: int) -> bool:
    """Whether the request runs a subscription (which only WebSocket can carry: over
    HTTP its resolver would never start, and its null would be a masked error)."""
    if not isinstance(query, str) or not (operation_name is None or
                                          isinstance(operation_name, str)):
        return False
    operation = _operation(query, operation_name, max_tokens)
    return operation is not None and operation.type is OperationType.SUBSCRIPTION


def _operation(query: str, name: str | None, max_tokens: int) -> Operation | None:
    if len(query) <= _CACHE_MAX_LENGTH:
        return _cached_operation(query, name, max_tokens)
    return _find_operation(query, name, max_tokens)


@lru_cache(maxsize=512)
def _cached_operation(query: str, name: str | None, max_tokens: int) -> Operation | None:
    return _find_operation(query, name, max_tokens)


def _find_operation(query: str, name: str | None, max_tokens: int) -> Operation | None:
    try:
        document = parse(query, max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
    if len(operations) != 1:
        return None
    fragments = _fragments(document)
    return Operation(operations[0].operation,
                     frozenset(_root_fields(operations[0].selection_set, fragments, set())))


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)}


def _root_fields(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode],
                 seen: set[str]) -> set[str]:
    """Names of the fields a selection set selects, through fragments (each once)."""
    names: set[str] = set()
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            spread = selection.name.value
            if spread in seen:
                continue
            seen.add(spread)
            fragment = fragments.get(spread)
            if fragment is None:
                names.add(f"...{spread}")  # unknown fragment: never public
            else:
                names |= _root_fields(fragment.selection_set, fragments, seen)
    return names
