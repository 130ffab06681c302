"""An INSERT that draws its row's number from a tenant's counter in the same statement.

A tenant's counters (``tenant_sequences``: its event sequence, its case and ticket
numbers) are gapless: the next value is an upsert of the counter's row, whose lock
is held until the unit ends, so a tenant's writers take their numbers one after the
other. Drawn in a CTE of the INSERT that uses it, the number costs no round trip of
its own, and the lock is taken only when the row is written (for a refund case: after
the payment's update, not before it).

PostgreSQL only; elsewhere the number is drawn first
(:func:`qrefund.platform.outbox.service.next_sequence`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from qrefund.platform.outbox.models import TenantSequence
from qrefund.platform.statements import SCOPED_OPTION

# The counter's name, a parameter of every counted insert.
COUNTER_PARAMETER = "counter"


def as_is(value: Any) -> Any:
    """The counter's value itself as the column's (an event's ``seq``)."""
    return value


@cache
def counted_insert(table: Any, column: str, form: Callable[[Any], Any] = as_is) -> Insert:
    """``INSERT INTO table`` of one row whose ``column`` is ``form(<the counter's next
    value>)``, the counter's upsert a CTE of the same statement, ``RETURNING column``.

    Every other column is a named parameter of its own name; ``tenant_id`` also names
    the counter's tenant and ``counter`` its name. Built once per (table, column, form):
    pass a module-level ``form``."""
    counters: Any = TenantSequence.__table__  # type: ignore[attr-defined]
    tenant = bindparam("tenant_id", type_=table.c.tenant_id.type)
    counted = (postgresql_insert(counters)
               .values(tenant_id=tenant, name=bindparam(COUNTER_PARAMETER), value=1)
               .on_conflict_do_update(index_elements=["tenant_id", "name"],
                                      set_={"value": counters.c.value + 1})
               .returning(counters.c.value).cte("counted"))
    columns = list(table.columns)
    values = [form(counted.c.value) if c.name == column else tenant if c.name == "tenant_id"
              else bindparam(c.name, type_=c.type) for c in columns]
    return (postgresql_insert(table).from_select([c.name for c in columns],
                                                 select(*values).select_from(counted))
            .returning(table.c[column]).execution_options(**{SCOPED_OPTION: True}))
