"""All SQL of the transactions domain (inside the caller's scope, see TenantRepository)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, literal_column, select
from sqlmodel import col

from qrefund.platform.json_render import Cursor, Render, to_sql_text
from qrefund.platform.repository import TenantRepository
from qrefund.platform.sql_parts import keyset_past
from qrefund.platform.sqltypes import UTCDateTime
from qrefund.platform.statements import condition
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus


@dataclass(frozen=True)
class TransactionFilter:
    merchant_ids: list[uuid.UUID] | None = None
    statuses: list[TransactionStatus] | None = None
    channels: list[PaymentChannel] | None = None
    paid_from: datetime | None = None
    paid_to: datetime | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    terminal_id: str | None = None
    store_id: str | None = None
    merchant_order_no: str | None = None


# Each filter: the field, its column and comparison ("in": one of a list).
_FILTERS: tuple[tuple[str, Any, str], ...] = (
    ("merchant_ids", Transaction.tenant_id, "in"), ("statuses", Transaction.status, "in"),
    ("channels", Transaction.channel, "in"), ("paid_from", Transaction.paid_at, ">="),
    ("paid_to", Transaction.paid_at, "<"), ("amount_min", Transaction.amount_minor, ">="),
    ("amount_max", Transaction.amount_minor, "<="),
    ("terminal_id", Transaction.terminal_id, "=="), ("store_id", Transaction.store_id, "=="),
    ("merchant_order_no", Transaction.merchant_order_no, "=="),
)


def _values(flt: TransactionFilter) -> dict[str, Any]:
    """The filters that apply, by field: lists and strings when not empty, instants when
    set, amounts when not None."""
    values: dict[str, Any] = {}
    for name, _column, _op in _FILTERS:
        value = getattr(flt, name)
        if name.startswith("amount_") and value is not None:
            values[name] = value
        elif value:
            values[name] = [getattr(v, "value", v) for v in value] \
                if isinstance(value, list) else value
    return values


def _conditions(flt: TransactionFilter) -> list[Any]:
    """The filter's conditions, their values inline."""
    values = _values(flt)
    return [condition(col(column), op, values[name]) for name, column, op in _FILTERS
            if name in values]


def _parameters(flt: TransactionFilter) -> dict[str, Any]:
    """The filter's values by parameter name, for a statement compiled once. A list of
    one value is the scalar ``<field>_one``, compared by equality: one merchant of an
    agency's must read the page's index in order, as a merchant's scope does
    (``statements.scope_shape``)."""
    values = _values(flt)
    for name, _column, op in _FILTERS:
        if op == "in" and len(values.get(name) or ()) == 1:
            values[f"{name}_one"] = values.pop(name)[0]
    return values


def _parameter_conditions(values: dict[str, Any]) -> list[Any]:
    """The conditions on the parameters :func:`_parameters` named."""
    found = []
    for name, column, op in _FILTERS:
        if name in values:
            found.append(condition(col(column), op, parameter=name))
        elif f"{name}_one" in values:
            found.append(condition(col(column), "==", parameter=f"{name}_one"))
    return found


# A rendered page's cursor (``encode_cursor([paid_at, id])``, built by PostgreSQL).
_CURSOR = Cursor(Transaction.paid_at, Transaction.id)


class TransactionRepository(TenantRepository[Transaction]):
    model = Transaction

    async def by_order_no(self, tenant_id: uuid.UUID, order_no: str) -> Transaction | None:
        """The merchant's payment with this order number, row-locked (recording is
        idempotent on it)."""
        stmt = self.select(col(Transaction.tenant_id) == tenant_id,
                           col(Transaction.merchant_order_no) == order_no)
        return await self.first(stmt.with_for_update())

    async def by_order_nos(self, tenant_id: uuid.UUID, order_nos: Sequence[str]
                           ) -> dict[str, Transaction]:
        """The merchant's payments with these order numbers, row-locked, in one read."""
        stmt = self.select(col(Transaction.tenant_id) == tenant_id,
                           col(Transaction.merchant_order_no).in_(sorted(set(order_nos))))
        found = await self.all(stmt.with_for_update().execution_options(populate_existing=True))
        return {t.merchant_order_no: t for t in found}

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
        """One bulk ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the ids of the
        rows written; a row whose order number the merchant already has is skipped (the
        caller replays it)."""
        written = await self.insert_rows(rows, skip_conflicts_on=("tenant_id",
                                                                  "merchant_order_no"),
                                         returning="id")
        return {uuid.UUID(str(i)) for i in written}

    async def lock(self, tenant_id: uuid.UUID, txn_id: uuid.UUID) -> Transaction | None:
        """The payment under its row lock, re-read even if the session holds a copy."""
        return await self.get(tenant_id, txn_id, lock=True)

    def _merchants_in_scope(self, flt: TransactionFilter) -> None:
        # Naming a merchant outside the scope is *not found*, like any other id.
        for merchant_id in flt.merchant_ids or ():
            self.require_in_scope(merchant_id, what="merchant", field=["merchantIds"])

    async def page(self, flt: TransactionFilter, *, first: int,
                   after: tuple[datetime, uuid.UUID] | None) -> list[Transaction]:
        """Newest first by (paid_at, id), ``first + 1`` rows (keyset), as read-only
        views."""
        return await self.views(self._page(flt, first, after))

    async def rendered_page(self, flt: TransactionFilter, *, first: int,
                            after: tuple[datetime, uuid.UUID] | None, node: Render) -> list[Any]:
        """The rows :meth:`page` reads, each as its cursor and the JSON ``node``
        describes, built by PostgreSQL."""
        self._merchants_in_scope(flt)
        node_sql, values = to_sql_text(node), _parameters(flt)

        def build() -> Any:  # the page's statement, its values as parameters
            stmt: Select[Any] = self.scoped(select(Transaction), parameter=True).where(
                *_parameter_conditions(values))
            if after is not None:
                position = (bindparam("after_at", type_=UTCDateTime),
                            bindparam("after_id", type_=Uuid))
                stmt = stmt.where(keyset_past(col(Transaction.paid_at), col(Transaction.id),
                                              position))
            stmt = stmt.order_by(col(Transaction.paid_at).desc(), col(Transaction.id).desc())
            return stmt.limit(bindparam("limit")).with_only_columns(
                literal_column(to_sql_text(_CURSOR)).label("cursor"),
                literal_column(f"CAST({node_sql} AS TEXT)").label("node"))

        values["limit"] = first + 1
        if after is not None:
            values["after_at"], values["after_id"] = after
        return await self.compiled_rows(("page", tuple(values), node_sql), build, values)

    async def rendered_node(self, key: tuple[uuid.UUID, uuid.UUID], node: Render
                            ) -> dict[str, Any] | None:
        """A payment by (merchant, id) as the JSON ``node`` describes; None when absent
        or out of scope."""
        return await self.rendered_by_key(key, to_sql_text(node), "alone")

    def _page(self, flt: TransactionFilter, first: int,
              after: tuple[datetime, uuid.UUID] | None) -> Select[Any]:
        self._merchants_in_scope(flt)
        stmt = self.select(*_conditions(flt))
        if after is not None:
            stmt = stmt.where(keyset_past(col(Transaction.paid_at), col(Transaction.id), after))
        return stmt.order_by(col(Transaction.paid_at).desc(),
                             col(Transaction.id).desc()).limit(first + 1)

    async def count_where(self, flt: TransactionFilter) -> int:
        self._merchants_in_scope(flt)
        return int(await self.scalar(self.count(*_conditions(flt))))
