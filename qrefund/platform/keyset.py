"""Keyset conditions for pages ordered by (a non-null column, id).

``past(column, ident, (at, last))`` is the rows after ``(at, last)`` in that order:
``column < at OR (column = at AND ident < last)`` for a descending page, with the
redundant bound ``column <= at`` in front of it. PostgreSQL cannot use the ``OR`` as
an index condition, so without the bound a page deep in a large merchant's list
walked the index from the newest row and filtered out every row before the page
(page 9,520 of 952,047 payments: 476,000 rows, 136 ms); with it the scan starts at
the cursor (0.1 ms at any depth). SQLite uses the bound the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_


def past(column: Any, ident: Any, position: tuple[Any, Any], *,
         descending: bool = True) -> Any:
    """The keyset condition for the rows after ``position`` (see the module docstring)."""
    at, last = position
    if descending:
        return and_(column <= at, or_(column < at, and_(column == at, ident < last)))
    return and_(column >= at, or_(column > at, and_(column == at, ident > last)))
