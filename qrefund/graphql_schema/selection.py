"""Look-ahead on the selection set, so costly fields are computed only when asked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from strawberry.types.nodes import SelectedField

from qrefund.graphql_schema.plans import kept


def wants_field(info: Any, name: str) -> bool:
    """Whether the query selects ``name`` right below the current field."""
    return wants_path(info, name)


def wants_path(info: Any, *path: str) -> bool:
    """Whether the query selects ``path`` (field names, e.g. ``"edges", "node",
    "transaction"``) below the current field, through any fragments. ``@skip`` and
    ``@include`` are not evaluated: a skipped field still counts, which only costs
    reading what is then not shown. The answer is kept per document and field
    (:func:`~qrefund.graphql_schema.plans.kept`)."""
    return kept(info._raw_info, ("wants", path), lambda: _selects(info, path))


def _selects(info: Any, path: tuple[str, ...]) -> bool:
    level: list[Any] = list(info.selected_fields)
    for name in path:
        level = [f for f in _fields(child for field in level for child in field.selections)
                 if f.name == name]
        if not level:
            return False
    return True


def _fields(selections: Iterable[Any]) -> Iterator[SelectedField]:
    """The fields of a selection set, those inside inline fragments and fragment
    spreads included."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)
