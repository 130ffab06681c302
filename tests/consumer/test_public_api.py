"""The public GraphQL of the consumer channel, over HTTP with no key (a receipt token)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from tests.consumer import api
from tests.consumer.helpers import approve, ask_for_info, counts, resolve_ticket, revoke, token_of
from tests.refunds.helpers import record_txn, submit
from tests.support.graphql import gql
from tests.support.world import World


async def test_receipt_and_the_whole_consumer_path(client: httpx.AsyncClient, db: Database,
                                                   world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    shown = await api.receipt(client, token)
    assert shown is not None and shown["merchantName"] == "Merchant A"
    assert shown["transaction"]["refundableAmount"] == {"amount": "100.00", "currency": "CNY"}
    assert shown["policy"]["merchantSlug"] == "merchant-a" and shown["policy"]["allowPartial"]
    assert {t["locale"] for t in shown["policy"]["consumerText"]} == {"zh-CN", "en"}
    case = await api.done(client, "ApplyForRefund", receiptToken=token, amount="40.00",
                          reason="QUALITY_ISSUE", method="BANK_TRANSFER",
                          bankDestination="6222 0000 1111 2222", contactPhone="13800138000",
                          description="broken handle")
    assert case["status"] == "SUBMITTED" and case["requestedAmount"]["amount"] == "40.00"
    assert case["contactPhone"] != "13800138000" and case["canCancel"]
    assert ids.scoped_id(case["id"], "RefundCase")[0] == world.merchant_a
    await ask_for_info(db, world, _Case(case), "Which store?")
    shown = await api.receipt(client, token, "en")
    assert shown is not None
    (followed,) = shown["refundCases"]
    assert followed["status"] == "AWAITING_INFO" and followed["infoRequest"] == "Which store?"
    assert followed["timeline"][-1]["text"] == "The merchant asked you for more information"
    answered = await api.done(client, "ProvideRefundInfoByReceipt", receiptToken=token,
                              id=case["id"], message="Store 12, Nanjing Road")
    assert answered["status"] == "UNDER_REVIEW"
    cancelled = await api.done(client, "CancelRefundByReceipt", receiptToken=token,
                               id=case["id"], reason="sorted out in the shop")
    assert cancelled["status"] == "CANCELLED"
    ticket = await api.done(client, "OpenComplaintByReceipt", receiptToken=token,
                            category="SERVICE", description="rude cashier",
                            refundCaseId=case["id"])
    assert ticket["status"] == "OPEN" and ticket["refundCaseId"] == case["id"]
    await resolve_ticket(db, world, _Case(ticket, "ComplaintTicket"))
    rated = await api.done(client, "RateComplaint", receiptToken=token, id=ticket["id"],
                           rating=5, comment="quick")
    assert rated["rating"] == 5 and not rated["canRate"]
    assert [m["author"] for m in rated["messages"]] == ["MERCHANT"]
    replied = await api.done(client, "ReplyToComplaintByReceipt", receiptToken=token,
                             id=ticket["id"], message="thank you")
    assert replied["messages"][-1] == {**replied["messages"][-1], "author": "CONSUMER"}
    text = str(await api.receipt(client, token))
    assert "Wang" not in text and "api_key" not in text and "internal" not in text


class _Case:
    """A public id as the test helpers' case (tenant and id)."""

    def __init__(self, found: dict[str, str], kind: str = "RefundCase") -> None:
        self.tenant_id, self.id = ids.scoped_id(found["id"], kind)


async def test_unknown_revoked_and_expired_receipts_are_null_and_not_found(
        client: httpx.AsyncClient, db: Database, world: World) -> None:
    txn = await record_txn(db, world)
    old = token_of(txn)
    new = token_of(await revoke(db, world, txn, reissue=True))
    stale = token_of(await record_txn(db, world, paid_at=utcnow() - timedelta(days=400)))
    assert await api.receipt(client, new) is not None
    before = await counts(db, world)
    for token in (old, stale, "nonsense", new[:-3] + "abc", "A" * 99):
        assert await api.receipt(client, token) is None
        assert await api.refused(client, "ApplyForRefund", receiptToken=token, amount="1",
                                 reason="OTHER") == ("NOT_FOUND", ["receiptToken"])
    assert await counts(db, world) == before


async def test_public_mutation_refusals_leave_nothing_written(
        client: httpx.AsyncClient, db: Database, world: World) -> None:
    txn = await record_txn(db, world, amount="100.00")
    token = token_of(txn)
    other_case = await submit(db, world, await record_txn(db, world))
    foreign_case = await submit(db, world, await record_txn(db, world, "b"), who="b")
    applied = await api.done(client, "ApplyForRefund", receiptToken=token, amount="10",
                             reason="OTHER")
    await approve(db, world, _Case(applied))
    before = await counts(db, world)
    apply = {"receiptToken": token, "reason": "OTHER"}
    assert (await api.refused(client, "ApplyForRefund", **apply, amount="90.01"))[0] == \
        "AMOUNT_EXCEEDS_REFUNDABLE"
    assert (await api.refused(client, "ApplyForRefund", **apply, amount="-1"))[0] == \
        "INVALID_AMOUNT"
    assert (await api.refused(client, "ApplyForRefund", **apply, amount="1",
                              currency="USD"))[0] == "CURRENCY_MISMATCH"
    assert (await api.refused(client, "ApplyForRefund", **apply, amount="1",
                              description="d" * 5000))[0] == "TOO_LONG"
    assert (await api.refused(client, "ApplyForRefund", **apply, amount="1",
                              contactPhone="call me maybe"))[0] == "INVALID_FORMAT"
    assert (await api.refused(client, "CancelRefundByReceipt", receiptToken=token,
                              id=applied["id"]))[0] == "INVALID_STATE"
    assert (await api.refused(client, "ProvideRefundInfoByReceipt", receiptToken=token,
                              id=applied["id"], message="x"))[0] == "INVALID_STATE"
    for case in (other_case, foreign_case):
        gid = ids.encode("RefundCase", case.tenant_id, case.id)
        for name, extra in (("CancelRefundByReceipt", {}),
                            ("ProvideRefundInfoByReceipt", {"message": "x"})):
            assert await api.refused(client, name, receiptToken=token, id=gid, **extra) == \
                ("NOT_FOUND", ["id"])
        assert await api.refused(client, "OpenComplaintByReceipt", receiptToken=token,
                                 category="OTHER", description="x", refundCaseId=gid) == \
            ("NOT_FOUND", ["refundCaseId"])
        assert (await api.refused(client, "RateComplaint", receiptToken=token, id=gid,
                                  rating=3))[0] == "NOT_FOUND"
    assert (await api.refused(client, "OpenComplaintByReceipt", receiptToken=token,
                              category="OTHER", description=" "))[0] == "REQUIRED"
    assert await counts(db, world) == before


async def test_duplicate_and_idempotent_applications(client: httpx.AsyncClient, db: Database,
                                                     world: World) -> None:
    token = token_of(await record_txn(db, world, amount="100.00"))
    first = await api.done(client, "ApplyForRefund", receiptToken=token, amount="25",
                           reason="DUPLICATE_CHARGE", idempotencyKey="tap-1")
    again = await api.done(client, "ApplyForRefund", receiptToken=token, amount="25",
                           reason="DUPLICATE_CHARGE", idempotencyKey="tap-1")
    assert again["id"] == first["id"]
    before = await counts(db, world)
    assert (await api.refused(client, "ApplyForRefund", receiptToken=token, amount="25",
                              reason="DUPLICATE_CHARGE"))[0] == "DUPLICATE_REQUEST"
    assert (await api.refused(client, "ApplyForRefund", receiptToken=token, amount="26",
                              reason="DUPLICATE_CHARGE", idempotencyKey="tap-1"))[0] == \
        "IDEMPOTENCY_KEY_REUSED"
    assert await counts(db, world) == before


async def test_anonymous_callers_reach_only_the_public_fields(client: httpx.AsyncClient,
                                                              db: Database, world: World) -> None:
    token = token_of(await record_txn(db, world))
    mixed = '{ receipt(token: "x") { merchantName } transactions { totalCount } }'
    body = await gql(client, mixed, expect_status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A caller with a key may use the public fields too; the token alone decides.
    found = await api.mutate(client, "ApplyForRefund", key=world.key("b", "VIEWER"),
                             receiptToken=token, amount="1", reason="OTHER")
    assert found["data"]["applyForRefund"]["userErrors"] == []
