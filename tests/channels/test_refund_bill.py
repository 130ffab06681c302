"""Reconciliation against WeChat Pay's daily refund bill, served by the fake from the
refunds it actually processed (backticked CSV, summary rows, SHA1, gzip)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs import channels as channel_jobs
from qrefund.jobs import payouts as payout_jobs
from qrefund.observability import metrics
from qrefund.platform.channels import alipay_bill, wechatpay_bill
from qrefund.platform.clock import utcnow
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.payouts.bills import CHINA
from qrefund.platform.payouts.channels import BillUnavailable
from qrefund.platform.payouts.models import Payout, PayoutStatus
from qrefund.platform.refunds.models import RefundCase
from tests.channels.api import MCHID
from tests.channels.fake_alipay import BILL_METHOD, FakeAlipay
from tests.channels.fake_wechatpay import FakeWeChatPay
from tests.channels.flow import wechat_case, wechat_txn
from tests.channels.service_provider import SP_MCHID, SUB_A, agency_account, link
from tests.channels.test_alipay import create_alipay
from tests.jobs.support import JobHarness, approved_case, event_count, payouts_of
from tests.support.world import World
from tests.webhooks.support import owner_rows, owner_update


def today() -> date:
    return utcnow().astimezone(CHINA).date()


def bills_counted(outcome: str) -> float:
    return float(metrics.REFUND_BILLS.labels("wechatpay", outcome)._value.get())


async def refunded(client: httpx.AsyncClient, jobs: JobHarness, world: World,
                   fake: FakeWeChatPay, owner_engine: Any, *, day: date | None = None
                   ) -> tuple[RefundCase, Payout]:
    """A WeChat Pay payout run to its first answer, created at noon (China) of ``day``."""
    _account, case = await wechat_case(client, jobs.db, world, fake)
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    day = day or today()
    owner_update(owner_engine, Payout, Payout.id == payout.id,
                 created_at=datetime.combine(day, time(12), tzinfo=CHINA))
    fake.refunds[payout.out_refund_no]["bill_date"] = day.isoformat()
    [payout] = await payouts_of(jobs.db, case)
    return case, payout


def discrepancy_payload(owner_engine: Any, payout: Payout) -> dict[str, Any]:
    [row] = owner_rows(owner_engine, DomainEvent, DomainEvent.aggregate_id == payout.id,
                       DomainEvent.type == "payout.discrepancy")
    return dict(row.payload)


async def test_a_clean_day_compares_and_flags_nothing(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    case, payout = await refunded(client, jobs, world, fake, owner_engine)
    assert payout.status == PayoutStatus.SUCCEEDED
    compared = bills_counted("compared")
    assert await channel_jobs.reconcile_bills(today()) == 0
    assert bills_counted("compared") == compared + 1
    assert [p for m, p in fake.calls if p.startswith("/v3/bill/")] == [
        f"/v3/bill/tradebill?bill_date={today()}&bill_type=REFUND&tar_type=GZIP"]
    assert any(p.startswith("/v3/billdownload/file?token=") for _m, p in fake.calls)
    assert fake.refused == []  # both calls signed as WeChat Pay requires
    assert (await payouts_of(jobs.db, case))[0].discrepancy is None


async def test_a_refund_the_platform_missed_while_processing_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    fake.outcome = "PROCESSING"
    case, payout = await refunded(client, jobs, world, fake, owner_engine)
    assert payout.status == PayoutStatus.PROCESSING
    fake.settle(payout.out_refund_no, "SUCCESS")
    assert await channel_jobs.reconcile_bills(today()) == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.status == PayoutStatus.PROCESSING
    assert flagged.discrepancy and "money left the merchant" in flagged.discrepancy
    payload = discrepancy_payload(owner_engine, payout)
    assert payload["providerStatus"] == "SUCCESS" and payload["providerAmountMinor"] == 3000
    assert await channel_jobs.reconcile_bills(today()) == 0  # flagged once
    assert await event_count(jobs.db, "payout.discrepancy", payout.id) == 1


async def test_a_refund_done_after_the_platform_saw_it_fail_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    fake.outcome = "PROCESSING"
    case, payout = await refunded(client, jobs, world, fake, owner_engine)
    fake.settle(payout.out_refund_no, "CLOSED")
    owner_update(owner_engine, Payout, Payout.id == payout.id, next_check_at=utcnow())
    assert await payout_jobs.poll_payout(str(payout.tenant_id), str(payout.id)) == "FAILED"
    fake.settle(payout.out_refund_no, "SUCCESS")
    assert await channel_jobs.reconcile_bills(today()) == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.status == PayoutStatus.FAILED
    assert flagged.discrepancy and "recorded FAILED" in flagged.discrepancy


async def test_an_amount_mismatch_is_a_discrepancy_with_both_amounts(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    case, payout = await refunded(client, jobs, world, fake, owner_engine)
    fake.refunds[payout.out_refund_no]["amount"]["refund"] = 2999
    assert await channel_jobs.reconcile_bills(today()) == 1
    [flagged] = await payouts_of(jobs.db, case)
    assert flagged.discrepancy and "recorded 3000" in flagged.discrepancy
    payload = discrepancy_payload(owner_engine, payout)
    assert (payload["amountMinor"], payload["providerAmountMinor"]) == (3000, 2999)


async def test_a_succeeded_payout_absent_from_the_bill_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    _case, payout = await refunded(client, jobs, world, fake, owner_engine)
    fake.refunds[payout.out_refund_no]["bill_date"] = "2001-01-01"  # billed another day
    assert await channel_jobs.reconcile_bills(today()) == 1
    assert discrepancy_payload(owner_engine, payout)["providerStatus"] == "ABSENT"


async def test_a_tampered_bill_is_refused_and_compared_on_a_later_run(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    case, _payout = await refunded(client, jobs, world, fake, owner_engine)
    fake.tamper_bill = True  # believed, it would say REFUNDCLOSE: a false discrepancy
    rejected, compared = bills_counted("rejected"), bills_counted("compared")
    assert await channel_jobs.reconcile_bills(today()) == 0
    assert bills_counted("rejected") == rejected + 1
    assert (await payouts_of(jobs.db, case))[0].discrepancy is None
    fake.tamper_bill = False
    assert await channel_jobs.reconcile_bills(today()) == 0
    assert bills_counted("compared") == compared + 1


async def test_a_bill_not_ready_keeps_the_queries_and_is_retried_next_run(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    """The whole daily job: yesterday's bill is not ready, the per-payout query still
    settles the payout; on the next run the bill is compared (and finds a mismatch)."""
    fake.outcome = "PROCESSING"
    case, payout = await refunded(client, jobs, world, fake, owner_engine,
                            day=today() - timedelta(days=1))
    fake.settle(payout.out_refund_no, "SUCCESS")
    fake.bill_ready = False
    not_ready = bills_counted("not_ready")
    assert await channel_jobs.reconcile_payouts() == 0
    assert bills_counted("not_ready") == not_ready + 1
    [settled] = await payouts_of(jobs.db, case)
    assert settled.status == PayoutStatus.SUCCEEDED and settled.discrepancy is None
    fake.bill_ready = True
    fake.refunds[payout.out_refund_no]["amount"]["refund"] = 1000
    assert await channel_jobs.reconcile_payouts() == 1
    assert await event_count(jobs.db, "payout.discrepancy", payout.id) == 1


async def test_a_day_without_channel_payouts_asks_for_no_bill(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay
        ) -> None:
    assert await channel_jobs.reconcile_bills(today()) == 0  # no payouts: no calls
    assert fake.calls == []


async def test_a_linked_merchants_bill_is_asked_with_its_sub_mchid(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, fake: FakeWeChatPay,
        owner_engine: Any) -> None:
    account = await agency_account(client, world, fake)
    fake.bind_sub_merchant(SP_MCHID, SUB_A)
    linked = await link(client, world.key("agency"), account["id"],
                        ids.encode("Tenant", world.merchant_a), subMchid=SUB_A)
    assert linked["userErrors"] == []
    case = await approved_case(jobs.db, world, "30.00", txn=await wechat_txn(jobs.db, world))
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.channel_link_id is not None and payout.status == PayoutStatus.SUCCEEDED
    owner_update(owner_engine, Payout, Payout.id == payout.id,
                 created_at=datetime.combine(today(), time(12), tzinfo=CHINA))
    assert await channel_jobs.reconcile_bills(today()) == 0  # the sub-merchant's bill agrees
    assert (f"/v3/bill/tradebill?bill_date={today()}&bill_type=REFUND&tar_type=GZIP"
            f"&sub_mchid={SUB_A}") in [p for _m, p in fake.calls]
    fake.refunds[payout.out_refund_no]["amount"]["refund"] = 100
    assert await channel_jobs.reconcile_bills(today()) == 1
    assert fake.refused == []


# -- the file format, without the network ----------------------------------------------


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), 7):
        yield data[at:at + 7]


def _bill(fake: FakeWeChatPay, *rows: tuple[str, int, str]) -> bytes:
    fake.refunds.clear()
    for n, (number, amount, status) in enumerate(rows):
        fake.refunds[number] = {
            "refund_id": f"503{n:029d}", "out_refund_no": number, "transaction_id": "42",
            "create_time": "2026-11-30T10:00:00+08:00", "status": status,
            "amount": {"refund": amount, "total": amount}, "by_mchid": MCHID,
            "sub_mchid": None, "bill_date": "2026-11-30"}
    return fake.bill_csv("2026-11-30", MCHID, None)


async def test_a_plain_bill_parses_by_column_name(fake: FakeWeChatPay) -> None:
    import hashlib

    plain = _bill(fake, ("R-1", 1, "SUCCESS"), ("R-2", 123456, "CLOSED"))
    spool = await wechatpay_bill.spool_verified(
        _chunks(plain), gzipped=False, hash_type="SHA1",
        hash_value=hashlib.sha1(plain).hexdigest())
    rows = list(wechatpay_bill.parse(spool))
    assert [(r.out_refund_no, r.amount_minor, r.refunded, r.status) for r in rows] == [
        ("R-1", 1, True, "SUCCESS"), ("R-2", 123456, False, "REFUNDCLOSE")]


async def test_a_bill_whose_summary_disagrees_is_refused(fake: FakeWeChatPay) -> None:
    plain = _bill(fake, ("R-1", 100, "SUCCESS"))
    lines = plain.split(b"\r\n")
    truncated = b"\r\n".join(lines[:1] + lines[2:])  # a refund row lost, the summary kept
    with pytest.raises(BillUnavailable, match="summary"):
        list(wechatpay_bill.parse(io.BytesIO(truncated)))
    with pytest.raises(BillUnavailable, match="no summary"):
        list(wechatpay_bill.parse(io.BytesIO(b"\r\n".join(lines[:2]))))


def test_a_bill_that_is_not_utf8_csv_is_refused(fake: FakeWeChatPay) -> None:
    plain = _bill(fake, ("R-1", 100, "SUCCESS"))
    with pytest.raises(BillUnavailable, match="unreadable"):
        list(wechatpay_bill.parse(io.BytesIO(plain.decode().encode("gbk"))))
    with pytest.raises(BillUnavailable, match="column"):
        list(wechatpay_bill.parse(io.BytesIO(b"a,b\r\n`1,`2\r\n")))


@pytest.mark.parametrize("text", ["12.345", "-1.00", "NaN", "abc"])
def test_amounts_that_are_not_whole_fen_are_refused(text: str) -> None:
    with pytest.raises(BillUnavailable):
        wechatpay_bill.yuan_to_fen(text)


def test_a_download_url_off_the_api_host_is_refused() -> None:
    assert wechatpay_bill.yuan_to_fen("0.01") == 1
    assert wechatpay_bill.download_path(
        "https://api.mch.weixin.qq.com", "https://api.mch.weixin.qq.com/v3/billdownload/file"
        "?token=abc") == "/v3/billdownload/file?token=abc"
    with pytest.raises(BillUnavailable):
        wechatpay_bill.download_path("https://api.mch.weixin.qq.com",
                                     "https://evil.example.com/v3/billdownload/file?token=abc")


# -- Alipay: the trade bill's refunds --------------------------------------------------


async def alipay_refunded(client: httpx.AsyncClient, jobs: JobHarness, world: World,
                          alipay: FakeAlipay, owner_engine: Any) -> tuple[RefundCase, Payout]:
    await create_alipay(client, world.key("a"), alipay)
    case = await approved_case(jobs.db, world, "10.00")  # an Alipay payment
    await jobs.drain()
    [payout] = await payouts_of(jobs.db, case)
    assert payout.adapter == "alipay" and payout.status == PayoutStatus.SUCCEEDED
    owner_update(owner_engine, Payout, Payout.id == payout.id,
                 created_at=datetime.combine(today(), time(12), tzinfo=CHINA))
    return case, payout


async def test_an_alipay_bill_that_agrees_flags_nothing(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        owner_engine: Any) -> None:
    case, _payout = await alipay_refunded(client, jobs, world, alipay, owner_engine)
    compared = float(metrics.REFUND_BILLS.labels("alipay", "compared")._value.get())
    assert await channel_jobs.reconcile_bills(today()) == 0
    assert float(metrics.REFUND_BILLS.labels("alipay", "compared")._value.get()) == compared + 1
    assert BILL_METHOD in alipay.calls and alipay.refused == []
    assert (await payouts_of(jobs.db, case))[0].discrepancy is None


async def test_an_alipay_bill_finds_an_amount_mismatch_and_an_absent_refund(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        owner_engine: Any) -> None:
    _case, payout = await alipay_refunded(client, jobs, world, alipay, owner_engine)
    key = alipay.key_of(payout.out_refund_no)
    alipay.bill_ready = False
    assert await channel_jobs.reconcile_bills(today()) == 0  # not ready: nothing said
    alipay.bill_ready = True
    alipay.refunds[key] = "9.99"
    assert await channel_jobs.reconcile_bills(today()) == 1
    payload = discrepancy_payload(owner_engine, payout)
    assert (payload["amountMinor"], payload["providerAmountMinor"]) == (1000, 999)


async def test_an_alipay_succeeded_payout_missing_from_the_bill_is_a_discrepancy(
        client: httpx.AsyncClient, jobs: JobHarness, world: World, alipay: FakeAlipay,
        owner_engine: Any) -> None:
    _case, payout = await alipay_refunded(client, jobs, world, alipay, owner_engine)
    alipay.refund_days[alipay.key_of(payout.out_refund_no)] = "2001-01-01"
    assert await channel_jobs.reconcile_bills(today()) == 1
    assert discrepancy_payload(owner_engine, payout)["providerStatus"] == "ABSENT"


def test_an_alipay_bill_without_its_detail_file_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("x_业务明细(汇总).csv", b"#")
    with pytest.raises(BillUnavailable, match="detail"):
        alipay_bill.parse_zip(out.getvalue())
    with pytest.raises(BillUnavailable, match="unreadable"):
        alipay_bill.parse_zip(b"not a zip")
