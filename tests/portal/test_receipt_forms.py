"""The receipt page's forms over HTTP: each action, and every refusal writing nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.receipt import make_token
from tests.complaints.helpers import counts
from tests.portal.helpers import EN, csrf_of, page, submit
from tests.refunds.helpers import record_txn
from tests.support.graphql import ok
from tests.support.world import World

FIRST_VIEW_LIMIT = 60 * 1024


def token_of(txn: Transaction) -> str:
    return make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)


def form(**extra: str) -> dict[str, str]:
    return {"amount": "12.50", "reason": "QUALITY_ISSUE", "description": "cracked",
            "contact_phone": "13800138000", **extra}


async def apply(client: httpx.AsyncClient, token: str, **extra: str) -> httpx.Response:
    shown = await page(client, f"/r/{token}")
    return await submit(client, f"/r/{token}/refund", form(**extra), csrf=csrf_of(shown))


async def test_a_partial_refund_from_the_page(client: httpx.AsyncClient, db: Database,
                                              world: World) -> None:
    token = token_of(await record_txn(db, world, amount="88.00"))
    sent = await apply(client, token)
    assert sent.status_code == 303 and sent.headers["location"] == f"/r/{token}?done=submitted"
    shown = await page(client, sent.headers["location"])
    assert "您的退款申请已提交" in shown.text and 'data-status="SUBMITTED"' in shown.text
    assert "¥12.50" in shown.text and "前处理" in shown.text  # deadlines in plain words
    assert "可退金额" in shown.text and "¥75.50" in shown.text
    english = await page(client, f"/r/{token}", **EN)
    assert "Decision by" in english.text and "Submitted" in english.text


async def test_refusals_write_nothing(client: httpx.AsyncClient, db: Database,
                                      world: World) -> None:
    token = token_of(await record_txn(db, world, amount="20.00"))
    before = await counts(db, world)
    for extra, says in (({"amount": "20.01"}, "金额超过了可退金额"),
                        ({"amount": "abc"}, "无法受理此申请"),
                        ({"amount": "-1"}, "无法受理此申请"),
                        ({"reason": "BECAUSE"}, "无法受理此申请"),
                        ({"description": "x" * 5000}, "无法受理此申请"),
                        ({"contact_phone": "call me"}, "无法受理此申请")):
        refused = await apply(client, token, **extra)
        assert refused.status_code == 400, (extra, refused.status_code)
        assert says in refused.text, extra
    no_csrf = await submit(client, f"/r/{token}/refund", form(), csrf=None)
    assert no_csrf.status_code == 403
    assert await counts(db, world) == before


async def test_a_double_submit_is_refused(client: httpx.AsyncClient, db: Database,
                                          world: World) -> None:
    token = token_of(await record_txn(db, world, amount="88.00"))
    assert (await apply(client, token)).status_code == 303
    again = await apply(client, token)
    assert again.status_code == 400 and "您已提交过此退款申请" in again.text
    assert (await page(client, f"/r/{token}")).text.count('data-status="SUBMITTED"') == 1


async def test_cancel_while_undecided(client: httpx.AsyncClient, db: Database,
                                      world: World) -> None:
    token = token_of(await record_txn(db, world))
    await apply(client, token)
    shown = await page(client, f"/r/{token}")
    action = re.search(r'action="(/r/[^"]+/cancel)"', shown.text).group(1)  # type: ignore[union-attr]
    done = await submit(client, action, {}, csrf=csrf_of(shown))
    assert done.status_code == 303
    after = await page(client, f"/r/{token}")
    assert 'data-status="CANCELLED"' in after.text and "/cancel" not in after.text
    again = await submit(client, action, {}, csrf=csrf_of(after))
    assert again.status_code == 400  # nothing left to cancel


async def test_answering_the_merchants_question(client: httpx.AsyncClient, db: Database,
                                                world: World) -> None:
    token = token_of(await record_txn(db, world))
    await apply(client, token)
    agent = world.key("a", "REFUND_AGENT")
    case = (await ok(client, "{ refundCases(first: 1) { edges { node { id } } } }",
                     key=agent))["refundCases"]["edges"][0]["node"]["id"]
    for doc in ("mutation($id: ID!) { startRefundReview(input: {id: $id}) { userErrors "
                "{ code } } }",
                "mutation($id: ID!) { requestRefundInfo(input: {id: $id, message: "
                "\"Photo of the cup?\"}) { userErrors { code } } }"):
        await ok(client, doc, {"id": case}, key=agent)
    shown = await page(client, f"/r/{token}")
    assert "Photo of the cup?" in shown.text and "等待您补充信息" in shown.text
    action = re.search(r'action="(/r/[^"]+/info)"', shown.text).group(1)  # type: ignore[union-attr]
    done = await submit(client, action, {"message": "It is cracked at the rim."},
                        csrf=csrf_of(shown))
    assert done.status_code == 303
    assert "审核中" in (await page(client, done.headers["location"])).text


async def test_actions_on_another_receipts_case_find_nothing(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    mine = token_of(await record_txn(db, world))
    theirs = token_of(await record_txn(db, world, "b"))
    await apply(client, theirs, description="THEIR-SECRET")
    their_page = await page(client, f"/r/{theirs}")
    their_cancel = re.search(r'/cases/([0-9a-f-]+)/cancel', their_page.text).group(1)  # type: ignore[union-attr]
    shown = await page(client, f"/r/{mine}")
    assert "THEIR-SECRET" not in shown.text and "Merchant B" not in shown.text
    for path in (f"/r/{mine}/cases/{their_cancel}/cancel", f"/r/{mine}/cases/nonsense/cancel"):
        refused = await submit(client, path, {}, csrf=csrf_of(shown))
        assert refused.status_code == 400 and "THEIR-SECRET" not in refused.text
    assert 'data-status="SUBMITTED"' in (await page(client, f"/r/{theirs}")).text


async def test_a_revoked_receipt_takes_no_form(client: httpx.AsyncClient, db: Database,
                                               world: World) -> None:
    txn = await record_txn(db, world)
    token = token_of(txn)
    shown = await page(client, f"/r/{token}")
    await ok(client, "mutation($id: ID!) { revokeReceiptToken(input: {transactionId: $id}) "
                     "{ userErrors { code } } }",
             {"id": ids.encode("Transaction", txn.tenant_id, txn.id)}, key=world.key("a"))
    before = await counts(db, world)
    refused = await submit(client, f"/r/{token}/refund", form(), csrf=csrf_of(shown))
    assert refused.status_code == 404 and "页面不存在" in refused.text
    assert await counts(db, world) == before


async def test_first_view_is_small(client: httpx.AsyncClient, db: Database,
                                   world: World) -> None:
    token = token_of(await record_txn(db, world))
    await apply(client, token)
    shown = await page(client, f"/r/{token}")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', shown.text)
    total = len(shown.content) + sum([len((await client.get(a)).content) for a in assets])
    assert assets and total < FIRST_VIEW_LIMIT, total
    assert "<script" not in shown.text


async def test_an_expired_receipt_is_the_same_404(client: httpx.AsyncClient, db: Database,
                                                  world: World) -> None:
    old = await record_txn(db, world, paid_at=utcnow() - timedelta(days=800))
    expired = await page(client, f"/r/{token_of(old)}")
    unknown = await page(client, "/r/unknown")
    assert expired.status_code == unknown.status_code == 404
    assert expired.text.replace(token_of(old), "T") == unknown.text.replace("unknown", "T")
