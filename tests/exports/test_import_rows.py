"""The importer on the test backend (PostgreSQL or SQLite): rows recorded through the
transactions service in the merchant's scope, conflicts reported, twice is once."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from qrefund.jobs import runtime
from qrefund.platform.imports.importer import import_file
from qrefund.platform.transactions.models import Transaction
from tests.support.raw import unchecked

ROWS = (b"merchant_order_no,channel,provider_reference,amount,currency,status,paid_at,"
        b"payer_account\n"
        b"R-1,WECHAT_PAY,wx-1,12.50,CNY,SUCCEEDED,2026-10-01T10:00:00+08:00,6222021234567890\n"
        b"R-2,ALIPAY,ali-2,3.00,CNY,PENDING,2026-10-01T11:00:00+08:00,\n"
        b"R-1,WECHAT_PAY,wx-1,12.51,CNY,SUCCEEDED,2026-10-01T10:00:00+08:00,\n"
        b"R-3,ALIPAY,ali-3,-1,CNY,SUCCEEDED,2026-10-01T11:00:00+08:00,\n")


class _Report(list):
    def write(self, rows) -> None:
        self.extend(rows)


async def _import(db, world) -> tuple[object, list[dict[str, object]]]:
    report = _Report()
    result = await import_file(db, runtime.job_scope(world.merchant_a, "import"),
                               world.merchant_a, io.BytesIO(ROWS), "CSV", report,
                               batch_size=2)
    return result, report


async def _stored(db, world) -> list[tuple[str, int, str | None]]:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        rows = await unchecked(uow).execute(
            select(Transaction.merchant_order_no, Transaction.amount_minor,
                   Transaction.payer_masked).where(Transaction.tenant_id == world.merchant_a)
            .order_by(Transaction.merchant_order_no))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_rows_land_conflicts_are_reported_and_twice_is_once(db, world):
    result, report = await _import(db, world)
    assert (result.rows, result.recorded, result.failed) == (4, 2, 2)  # type: ignore[attr-defined]
    assert [(r["row"], r["field"], r["code"]) for r in report] == [
        (4, "amount", "ORDER_NO_CONFLICT"), (5, "amount", "INVALID_AMOUNT")]
    assert "6222021234567890" not in repr(report)
    stored = await _stored(db, world)
    assert [(o, a) for o, a, _p in stored] == [("R-1", 1250), ("R-2", 300)]
    assert stored[0][2] and "6222021234567890" not in stored[0][2]
    again, _ = await _import(db, world)
    assert again.recorded == 2  # type: ignore[attr-defined]
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        count = (await unchecked(uow).execute(
            select(func.count()).select_from(Transaction))).scalar_one()
    assert count == 2
