"""The one input-normalisation layer: every argument of every root field passes here.

Before a query or mutation resolver runs, each string in its arguments (nested input
objects and lists included) is checked and NFC-normalised and each datetime is
checked and converted to UTC (:func:`qrefund.platform.validation.normalized_text` /
``normalized_datetime``). A value that cannot be accepted never reaches a service:
a mutation answers with its payload's ``userErrors`` (the field path in camelCase,
without the ``input`` argument itself, as every other user error), a query with a
coded GraphQL error. Nested fields take no free-form input, so only root fields
carry the extension and list pages pay nothing for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from qrefund.graphql_schema.errors import UserError, query_error
from qrefund.platform import validation
from qrefund.platform.errors import DomainError


@lru_cache(maxsize=256)
def _input_fields(cls: type) -> tuple[tuple[str, str], ...]:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    return tuple((f.python_name, f.graphql_name or to_camel_case(f.python_name))
                 for f in definition.fields)


def normalized(value: Any, path: list[str]) -> Any:
    """``value`` with every string and datetime in it normalised (input objects in place)."""
    if isinstance(value, str):
        return validation.normalized_text(value, path)
    if isinstance(value, datetime):
        return validation.normalized_datetime(value, path)
    if isinstance(value, list):
        return [normalized(item, path) for item in value]
    if has_object_definition(value) and dataclasses.is_dataclass(value):
        for python_name, graphql_name in _input_fields(type(value)):
            current = getattr(value, python_name)
            fresh = normalized(current, [*path, graphql_name])
            if fresh is not current:
                setattr(value, python_name, fresh)
    return value


def normalized_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments of a root field; ``input`` is left out of error paths (``["paidAt"]``).
    A Python name with a trailing underscore (``from_``) is the keyword's GraphQL name."""
    return {name: normalized(value, [] if name == "input" else [to_camel_case(name.rstrip("_"))])
            for name, value in kwargs.items()}


class NormalizeInput(FieldExtension):
    """Applied to every Query and Mutation field by :func:`apply_to`."""

    def __init__(self, payload: type | None) -> None:
        # Mutations answer with their payload's userErrors; queries with an error.
        self.payload = payload

    def _refuse(self, error: DomainError) -> Any:
        if self.payload is None:
            raise query_error(error) from None
        return self.payload(user_errors=[UserError.of(error)])

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        try:
            kwargs = normalized_arguments(kwargs)
        except DomainError as error:
            return self._refuse(error)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        try:
            kwargs = normalized_arguments(kwargs)
        except DomainError as error:
            return self._refuse(error)
        return await next_(source, info, **kwargs)


def apply_to(root: type, *, mutations: bool) -> None:
    """Give every field of a root type the extension (once; safe to call again)."""
    for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        assert isinstance(field, StrawberryField)
        if any(isinstance(e, NormalizeInput) for e in field.extensions):
            continue
        payload: Any = field.type if mutations else None
        if payload is not None:
            # Every payload must be constructible from userErrors alone (checked at start).
            payload(user_errors=[])
        field.extensions.append(NormalizeInput(payload))
