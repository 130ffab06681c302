"""All SQL of the risk domain: flags, and the reads the rules make of payments and cases.

The rules' reads are aggregates computed in the database (counts, sums, the median and
MAD of daily counts) over index ranges of one merchant, so a check costs a few small
statements whatever the merchant's history. Every statement names its tenant ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, literal, null, or_, select, union_all
from sqlmodel import col

from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.repository import SCOPED_OPTION, Key, TenantRepository
from qrefund.platform.risk.models import FlagStatus, RiskFlagRecord
from qrefund.platform.sql_parts import keyset_past
from qrefund.platform.sqltypes import UTCDateTime
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RefundCaseStatus
from qrefund.tenants.models import Tenant

BASELINE_DAYS = 28
_CLOSED_UNPAID = (RefundCaseStatus.REJECTED.value, RefundCaseStatus.CANCELLED.value)


@dataclass(frozen=True)
class FlagFilter:
    merchant_ids: list[uuid.UUID] | None = None
    statuses: list[str] | None = None
    rules: list[str] | None = None


@dataclass(frozen=True)
class Baseline:
    """Today's count (the last 24 hours) against the median and MAD of the daily counts
    of the 28 days before."""

    today: int
    median: float
    mad: float


class RiskFlagRepository(TenantRepository[RiskFlagRecord]):
    model = RiskFlagRecord

    async def of_subject(self, tenant_id: uuid.UUID, subject_type: str, subject_id: uuid.UUID,
                         rule: str, *, lock: bool = False) -> RiskFlagRecord | None:
        stmt = self.select(col(RiskFlagRecord.tenant_id) == tenant_id,
                           col(RiskFlagRecord.subject_type) == subject_type,
                           col(RiskFlagRecord.subject_id) == subject_id,
                           col(RiskFlagRecord.rule) == rule)
        if lock:
            stmt = stmt.with_for_update()
        return await self.first(stmt)

    async def by_transactions(self, keys: Iterable[Key]) -> dict[Key, list[RiskFlagRecord]]:
        """Every flag naming the payments (theirs and their cases'), by (tenant, payment)."""
        return await self._by_column(col(RiskFlagRecord.transaction_id), keys)

    async def by_cases(self, keys: Iterable[Key]) -> dict[Key, list[RiskFlagRecord]]:
        return await self._by_column(col(RiskFlagRecord.refund_case_id), keys)

    async def _by_column(self, column: Any, keys: Iterable[Key]) -> dict[Key, list[RiskFlagRecord]]:
        """Flags by (tenant, transaction id) or (tenant, case id), oldest first."""
        wanted = self.keys_in_scope(keys)
        out: dict[Key, list[RiskFlagRecord]] = {}
        if not wanted:
            return out
        stmt = self.select(self.key_in(wanted, col(RiskFlagRecord.tenant_id), column))
        stmt = stmt.order_by(col(RiskFlagRecord.created_at), col(RiskFlagRecord.id))
        for row in await self.all(stmt):
            out.setdefault((row.tenant_id, getattr(row, column.key)), []).append(row)
        return out

    def _conditions(self, flt: FlagFilter) -> list[Any]:
        conditions: list[Any] = []
        for merchant_id in flt.merchant_ids or ():
            self.require_in_scope(merchant_id, what="merchant", field=["merchantIds"])
        if flt.merchant_ids:
            conditions.append(col(RiskFlagRecord.tenant_id).in_(flt.merchant_ids))
        if flt.statuses:
            conditions.append(col(RiskFlagRecord.status).in_(flt.statuses))
        if flt.rules:
            conditions.append(col(RiskFlagRecord.rule).in_(flt.rules))
        return conditions

    async def page(self, flt: FlagFilter, *, first: int,
                   after: tuple[datetime, uuid.UUID] | None) -> list[RiskFlagRecord]:
        """Newest first by (created_at, id), ``first + 1`` rows (keyset)."""
        stmt = self.select(*self._conditions(flt))
        if after is not None:
            stmt = stmt.where(keyset_past(col(RiskFlagRecord.created_at),
                                          col(RiskFlagRecord.id), after))
        stmt = stmt.order_by(col(RiskFlagRecord.created_at).desc(),
                             col(RiskFlagRecord.id).desc()).limit(first + 1)
        return await self.all(stmt)

    async def count_where(self, flt: FlagFilter) -> int:
        return int(await self.scalar(self.count(*self._conditions(flt))))

    def _feedback(self, tenant_id: uuid.UUID, since: datetime) -> Select[Any]:
        return self.scoped(self._feedback_of(col(RiskFlagRecord.tenant_id) == tenant_id,
                                             since))

    @staticmethod
    def _feedback_of(tenant: Any, since: Any) -> Any:
        """Reviewed flags per (rule, status) matching ``tenant`` since ``since``, unscoped
        (the caller scopes it)."""
        # Two equalities, not IN (...): a literal list is an expanding parameter, and a
        # kept statement with one cannot run on the driver (platform/driver.py).
        status = col(RiskFlagRecord.status)
        return select(
            col(RiskFlagRecord.rule), status, func.count()).where(
            tenant, or_(status == FlagStatus.DISMISSED.value,
                        status == FlagStatus.CONFIRMED.value),
            col(RiskFlagRecord.reviewed_at) >= since,
        ).group_by(col(RiskFlagRecord.rule), col(RiskFlagRecord.status))

    async def feedback(self, tenant_id: uuid.UUID, since: datetime) -> dict[tuple[str, str], int]:
        """Reviewed flags of the merchant since ``since``: {(rule, status): count}."""
        return {(r[0], r[1]): int(r[2])
                for r in await _rows(self, self._feedback(tenant_id, since))}

    async def feedback_and_open_on_payment(
        self, tenant_id: uuid.UUID, since: datetime, txn_id: uuid.UUID
    ) -> tuple[dict[tuple[str, str], int], bool]:
        """:meth:`feedback`, and whether the payment itself (not one of its cases) has an
        open flag, in one statement (a new case's screen needs both): the feedback's rows,
        UNION ALL one row with a NULL rule (no flag has one) counting such flags, 0 or 1."""
        def build() -> Any:  # kept: built once (every new case is screened)
            tenant = col(RiskFlagRecord.tenant_id) == bindparam("tenant")
            flag = self.kept_scoped(select(col(RiskFlagRecord.id)).where(
                tenant, col(RiskFlagRecord.transaction_id) == bindparam("txn"),
                col(RiskFlagRecord.subject_type) == "TRANSACTION",
                col(RiskFlagRecord.status) == FlagStatus.OPEN.value)).limit(1).subquery()
            marker = select(null(), null(), func.count()).select_from(flag)
            feedback = self.kept_scoped(self._feedback_of(tenant, bindparam("since")))
            return union_all(feedback, marker).execution_options(
                **{SCOPED_OPTION: True})  # both parts are scoped (kept_scoped)

        stmt, params = self.kept("feedback_and_open_on_payment", build)
        params.update(tenant=tenant_id, since=since, txn=txn_id)
        feedback: dict[tuple[str, str], int] = {}
        open_flag = False
        for rule, status, n in await self.uow._execute_kept(stmt, params):
            if rule is None:
                open_flag = int(n) > 0
            else:
                feedback[(rule, status)] = int(n)
        return feedback, open_flag

    async def open_summary(self, tenant_ids: Sequence[uuid.UUID]
                           ) -> list[tuple[uuid.UUID, str, str, int, datetime]]:
        """Open flags per (merchant, rule, severity): count and oldest creation time."""
        stmt = self.select_columns(
            col(RiskFlagRecord.tenant_id), col(RiskFlagRecord.rule),
            col(RiskFlagRecord.severity), func.count(), func.min(col(RiskFlagRecord.created_at)),
            where=[col(RiskFlagRecord.tenant_id).in_(sorted(set(tenant_ids))),
                   col(RiskFlagRecord.status) == FlagStatus.OPEN.value],
        ).group_by(col(RiskFlagRecord.tenant_id), col(RiskFlagRecord.rule),
                   col(RiskFlagRecord.severity))
        return [(r[0], r[1], r[2], int(r[3]), r[4]) for r in await _rows(self, stmt)]


async def _rows(repo: TenantRepository[Any], stmt: Any) -> list[Any]:
    """Plain rows, loosely typed (aggregates and unions have no useful row type)."""
    return list(await repo.rows(stmt))


def _days(end: datetime, count: int) -> Any:
    """``count`` 24-hour windows ending at ``end`` as rows (d, lo, hi): a UNION ALL of
    literals, which both PostgreSQL and SQLite plan as a tiny constant scan."""
    parts = [select(literal(i).label("d"),
                    literal(end - timedelta(days=i + 1), UTCDateTime).label("lo"),
                    literal(end - timedelta(days=i), UTCDateTime).label("hi"))
             for i in range(count)]
    return union_all(*parts).cte("days")


class SignalRepository(TenantRepository[Transaction]):
    """The rules' reads of payments and refund cases (aggregates, ids as evidence)."""

    model = Transaction

    async def duplicate_payments(self, txn: Transaction, window: timedelta, limit: int = 20
                                 ) -> list[uuid.UUID]:
        """Other successful payments of the same payer, amount and terminal within
        ``window`` of this one (the payer compared by fingerprint)."""
        stmt = self.select_columns(col(Transaction.id), where=[
            col(Transaction.tenant_id) == txn.tenant_id,
            col(Transaction.payer_fp) == txn.payer_fp,
            col(Transaction.paid_at) >= txn.paid_at - window,
            col(Transaction.paid_at) <= txn.paid_at + window,
            col(Transaction.id) != txn.id,
            col(Transaction.amount_minor) == txn.amount_minor,
            col(Transaction.currency) == txn.currency,
            col(Transaction.terminal_id) == txn.terminal_id,
            col(Transaction.status) == "SUCCEEDED",
        ]).order_by(col(Transaction.paid_at)).limit(limit)
        return [r[0] for r in await _rows(self, stmt)]

    def _cases(self, tenant_id: uuid.UUID, dimension: str, value: str) -> Any:
        """Live refund cases of the merchant at a terminal, a store or by one staff key."""
        stmt = select(col(RefundCase.id), col(RefundCase.created_at),
                      col(RefundCase.requested_minor)).where(
            col(RefundCase.tenant_id) == tenant_id,
            col(RefundCase.status).not_in(_CLOSED_UNPAID))
        in_scope = self.in_scope(col(RefundCase.tenant_id))
        if in_scope is not None:  # a subquery: the scope goes inside it
            stmt = stmt.where(in_scope)
        if dimension == "staff":
            return stmt.where(col(RefundCase.submitted_by) == value)
        column = Transaction.terminal_id if dimension == "terminal" else Transaction.store_id
        return stmt.join(Transaction, and_(col(Transaction.tenant_id) == col(RefundCase.tenant_id),
                                           col(Transaction.id) == col(RefundCase.transaction_id))
                         ).where(col(column) == value)

    async def today_counts(self, tenant_id: uuid.UUID, keys: Sequence[tuple[str, str]],
                           now: datetime) -> dict[tuple[str, str], int]:
        """Live cases of the last 24 hours per (dimension, value), in one statement over
        the merchant's last day (the cheap test before any baseline is computed)."""
        columns = {"terminal": col(Transaction.terminal_id), "store": col(Transaction.store_id),
                   "staff": col(RefundCase.submitted_by)}
        sums = [func.coalesce(func.sum(case((columns[d] == v, 1), else_=0)), 0)
                for d, v in keys]
        stmt = select(*sums).select_from(RefundCase).join(
            Transaction, and_(col(Transaction.tenant_id) == col(RefundCase.tenant_id),
                              col(Transaction.id) == col(RefundCase.transaction_id))).where(
            col(RefundCase.tenant_id) == tenant_id,
            col(RefundCase.created_at) >= now - timedelta(days=1),
            col(RefundCase.created_at) <= now,
            col(RefundCase.status).not_in(_CLOSED_UNPAID))
        row = (await _rows(self, self.scoped(stmt, col(RefundCase.tenant_id))))[0]
        return {k: int(n) for k, n in zip(keys, row, strict=True)}

    async def baseline(self, tenant_id: uuid.UUID, dimension: str, value: str, now: datetime
                       ) -> Baseline:
        """Refund cases in the last 24 h at ``dimension`` = ``value``, and the median and
        median absolute deviation of its daily counts over the 28 days before (days with
        no case count as 0), all in one statement."""
        today_start = now - timedelta(days=1)
        start = today_start - timedelta(days=BASELINE_DAYS)
        cases = self._cases(tenant_id, dimension, value).where(
            col(RefundCase.created_at) >= start, col(RefundCase.created_at) <= now).subquery()
        days = _days(today_start, BASELINE_DAYS)
        daily = select(days.c.d, func.count(cases.c.id).label("c")).select_from(
            days.outerjoin(cases, and_(cases.c.created_at >= days.c.lo,
                                       cases.c.created_at < days.c.hi))
        ).group_by(days.c.d).cte("daily")
        middle = [BASELINE_DAYS // 2, BASELINE_DAYS // 2 + 1]  # 1-based ranks of the median
        ranked = select(daily.c.c, func.row_number().over(order_by=daily.c.c).label("rn")
                        ).subquery()
        median = select(func.avg(ranked.c.c)).where(ranked.c.rn.in_(middle)).scalar_subquery()
        deviation = func.abs(daily.c.c - median)
        dev_ranked = select(deviation.label("dv"),
                            func.row_number().over(order_by=deviation).label("rn")).subquery()
        mad = select(func.avg(dev_ranked.c.dv)).where(dev_ranked.c.rn.in_(middle)
                                                       ).scalar_subquery()
        today = select(func.count()).select_from(cases).where(
            cases.c.created_at >= literal(today_start, UTCDateTime)).scalar_subquery()
        # Every table read is inside the scoped ``cases`` subquery.
        outer = select(today, median, mad).execution_options(**{SCOPED_OPTION: True})
        row = (await _rows(self, outer))[0]
        return Baseline(today=int(row[0] or 0), median=float(row[1] or 0),
                        mad=float(row[2] or 0))

    async def recent_cases(self, tenant_id: uuid.UUID, dimension: str, value: str,
                           now: datetime, limit: int = 50) -> list[uuid.UUID]:
        """Ids of the live cases of the last 24 hours at ``dimension`` = ``value``."""
        stmt = self._cases(tenant_id, dimension, value).where(
            col(RefundCase.created_at) >= now - timedelta(days=1),
            col(RefundCase.created_at) <= now,
        ).order_by(col(RefundCase.created_at)).limit(limit)
        rows = await _rows(self, stmt.execution_options(**{SCOPED_OPTION: True}))
        return [r[0] for r in rows]

    async def day_totals(self, tenant_id: uuid.UUID, keys: Sequence[tuple[str, str]],
                         start: datetime, end: datetime
                         ) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(sales, refunds requested, refunded) in minor units per (terminal or store,
        value), for payments paid and cases opened in [start, end): one statement over
        the merchant's day, whatever the number of keys."""
        columns = {"terminal": col(Transaction.terminal_id), "store": col(Transaction.store_id)}

        def sums(amount: Any) -> list[Any]:
            return [func.coalesce(func.sum(case((columns[d] == v, amount), else_=0)), 0)
                    for d, v in keys]

        paid = self.select_columns(
            *sums(col(Transaction.amount_minor)), *sums(col(Transaction.refunded_minor)),
            where=[col(Transaction.tenant_id) == tenant_id,
                   col(Transaction.status) == "SUCCEEDED", col(Transaction.paid_at) >= start,
                   col(Transaction.paid_at) < end])
        asked = select(*sums(col(RefundCase.requested_minor))).select_from(RefundCase).join(
            Transaction, and_(col(Transaction.tenant_id) == col(RefundCase.tenant_id),
                              col(Transaction.id) == col(RefundCase.transaction_id))).where(
            col(RefundCase.tenant_id) == tenant_id, col(RefundCase.created_at) >= start,
            col(RefundCase.created_at) < end, col(RefundCase.status).not_in(_CLOSED_UNPAID))
        requested = self.scoped(asked, col(RefundCase.tenant_id)).subquery()
        row = (await _rows(self, paid.add_columns(*(select(c).scalar_subquery()
                                                     for c in requested.c))))[0]
        n = len(keys)
        return {k: (int(row[i]), int(row[2 * n + i]), int(row[n + i]))
                for i, k in enumerate(keys)}

    async def cases_with(self, tenant_id: uuid.UUID, column_name: str, fingerprint: str,
                         since: datetime, limit: int = 50) -> list[uuid.UUID]:
        """Live cases of the merchant since ``since`` whose fingerprint column (destination
        account, contact phone or e-mail) equals ``fingerprint``."""
        column = getattr(RefundCase, column_name)
        stmt = self.scoped(select(col(RefundCase.id)).where(
            col(RefundCase.tenant_id) == tenant_id, col(column) == fingerprint,
            col(RefundCase.created_at) >= since,
            col(RefundCase.status).not_in(_CLOSED_UNPAID),
        ).order_by(col(RefundCase.created_at)).limit(limit), col(RefundCase.tenant_id))
        return [r[0] for r in await _rows(self, stmt)]

    async def refund_share(self, tenant_id: uuid.UUID, terminal_id: str, since: datetime
                           ) -> tuple[int, int, int, int]:
        """(terminal payments, terminal cases, merchant payments, merchant cases) since
        ``since``, in one statement."""
        at_terminal = col(Transaction.terminal_id) == terminal_id
        txns = self.select_columns(
            func.count(), func.coalesce(func.sum(case((at_terminal, 1), else_=0)), 0),
            where=[col(Transaction.tenant_id) == tenant_id, col(Transaction.paid_at) >= since,
                   col(Transaction.status) == "SUCCEEDED"])
        joined = select(func.count(), func.coalesce(func.sum(case((at_terminal, 1), else_=0)), 0)
                        ).select_from(RefundCase).join(
            Transaction, and_(col(Transaction.tenant_id) == col(RefundCase.tenant_id),
                              col(Transaction.id) == col(RefundCase.transaction_id))).where(
            col(RefundCase.tenant_id) == tenant_id, col(RefundCase.created_at) >= since)
        t_row = (await _rows(self, txns))[0]
        c_row = (await _rows(self, self.scoped(joined, col(RefundCase.tenant_id))))[0]
        return int(t_row[1]), int(c_row[1]), int(t_row[0]), int(c_row[0])


class AgencyContactRepository(TenantRepository[RefundCase]):
    model = RefundCase

    async def merchants_with_contact(self, agency_id: uuid.UUID, column_name: str,
                                     fingerprint: str, since: datetime, limit: int = 50
                                     ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(merchant, case) of cases filed with this contact fingerprint since ``since`` at
        any merchant of the agency. Beyond the scope on purpose: bounded by the agency of
        the merchant being checked (its parent) and one fingerprint; PostgreSQL's RLS
        still applies, so it sees the agency's merchants only in a scope that holds them
        (the periodic scan's)."""
        siblings = select(col(Tenant.id)).where(col(Tenant.parent_id) == agency_id)
        column = getattr(RefundCase, column_name)
        stmt = self.beyond_scope(
            col(RefundCase.tenant_id).in_(siblings), col(column) == fingerprint,
            col(RefundCase.created_at) >= since,
            why="one contact's cases across the merchants of the checked merchant's agency",
        ).order_by(col(RefundCase.created_at)).limit(limit)
        return [(c.tenant_id, c.id) for c in await self.all(stmt)]


class ScanRepository(TenantRepository[Transaction]):
    """What the periodic scan walks: a merchant's recent payments and cases."""

    model = Transaction

    async def recent_transactions(self, tenant_id: uuid.UUID, since: datetime, limit: int
                                  ) -> list[uuid.UUID]:
        stmt = self.select_columns(col(Transaction.id), where=[
            col(Transaction.tenant_id) == tenant_id, col(Transaction.paid_at) >= since,
        ]).order_by(col(Transaction.paid_at).desc()).limit(limit)
        return [r[0] for r in await _rows(self, stmt)]

    async def recent_cases(self, tenant_id: uuid.UUID, since: datetime, limit: int
                           ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        stmt: Any = self.scoped(select(col(RefundCase.id), col(RefundCase.transaction_id)).where(  # type: ignore[type-var]
            col(RefundCase.tenant_id) == tenant_id, col(RefundCase.created_at) >= since,
        ).order_by(col(RefundCase.created_at).desc()).limit(limit), col(RefundCase.tenant_id))
        return [(r[0], r[1]) for r in await _rows(self, stmt)]

    async def active_merchants(self, since: datetime) -> list[uuid.UUID]:
        paid = self.select_columns(col(Transaction.tenant_id),
                                   where=[col(Transaction.paid_at) >= since])
        filed = self.scoped(select(col(RefundCase.tenant_id)).where(
            col(RefundCase.created_at) >= since), col(RefundCase.tenant_id))
        stmt = union_all(paid, filed).subquery()
        outer = select(stmt.c[0]).distinct().execution_options(**{SCOPED_OPTION: True})
        return [r[0] for r in await _rows(self, outer)]
