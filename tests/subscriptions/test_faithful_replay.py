"""A resumed refundCaseUpdates replays each event as it happened, and its cursors are
the events feed's: a client can switch between listening and polling freely."""

from __future__ import annotations

import httpx

from qrefund.jobs.relay import relay_pending
from qrefund.platform.refunds import service as refunds
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.subscriptions.support import next_update, open_socket, quiet, subscribe
from tests.support.graphql import ok

REPLAY = """subscription($after: String) {
  refundCaseUpdates(after: $after) {
    cursor eventType snapshot refundCase { status }
  }
}"""
FEED = """query($after: String) { events(after: $after, types: ["refund_case.*"]) {
  edges { node { type snapshot } } } }"""


async def test_a_replay_shows_each_events_own_state_and_the_case_now(server, relay, db, world):
    case = await submit(db, world, await record_txn(db, world))
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    for step in (refunds.start_review, refunds.approve, refunds.begin_payout,
                 refunds.complete_payout):
        async with db.unit_of_work(agent) as uow:
            await step(uow, case.tenant_id, case.id)
    await relay_pending()

    ws = await open_socket(server, world.key("a", "VIEWER"))
    await subscribe(ws, {"after": None}, query=REPLAY)
    ws2 = await open_socket(server, world.key("a", "VIEWER"))
    # Start from the very beginning: an empty cursor (each tenant at 0).
    await subscribe(ws2, {"after": "e30"}, query=REPLAY)
    replayed = [await next_update(ws2) for _ in range(5)]
    assert [(u["eventType"], u["snapshot"]["status"]) for u in replayed] == [
        ("refund_case.submitted", "SUBMITTED"), ("refund_case.review_started", "UNDER_REVIEW"),
        ("refund_case.approved", "APPROVED"), ("refund_case.processing", "PROCESSING"),
        ("refund_case.refunded", "REFUNDED"),
    ]
    # The live object is the case now, on every update.
    assert {u["refundCase"]["status"] for u in replayed} == {"REFUNDED"}
    assert replayed[2]["snapshot"]["fromStatus"] == "UNDER_REVIEW"
    assert await quiet(ws)  # a fresh subscription without a cursor replays nothing
    await ws.close()
    await ws2.close()

    # The subscription's cursor is a feed cursor: polling goes on right after it.
    async with httpx.AsyncClient(base_url=server.replace("ws://", "http://").rsplit("/", 1)[0]
                                 ) as client:
        data = await ok(client, FEED, {"after": replayed[2]["cursor"]},
                        key=world.key("a", "VIEWER"))
    assert [(e["node"]["type"], e["node"]["snapshot"]["status"])
            for e in data["events"]["edges"]] == [
        ("refund_case.processing", "PROCESSING"), ("refund_case.refunded", "REFUNDED")]
