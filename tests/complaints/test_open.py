"""openComplaint: refusals first (tenant, role, input, a consumer's reach), then what a
new ticket holds: number, deadlines, encrypted contact, attachments, derived priority
and repeat detection."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.complaints import intake
from qrefund.platform.complaints.models import ComplaintTicket
from qrefund.platform.complaints.vocabulary import ComplaintCategory
from qrefund.platform.errors import Forbidden, NotFound
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds.models import RefundCase
from tests.complaints.api import error_code, open_about, opened, txn_gid
from tests.complaints.helpers import consumer, counts, rows
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.support.graphql import gql
from tests.support.raw import unchecked

SHA = "ab" * 32


async def refused(client, db, world, code, key=None, **kw):
    before = await counts(db, world)
    payload = await open_about(client, key or world.key("a", "SUPPORT"), **kw)
    assert error_code(payload) == code, payload
    assert await counts(db, world) == before
    return payload


async def test_another_tenants_payment_or_case_is_not_found(client, db, world):
    txn = await record_txn(db, world, "a")
    case = await submit(db, world, txn)
    for key in (world.key("b", "SUPPORT"), world.key("other_agency"), world.key("c", "ADMIN")):
        await refused(client, db, world, "NOT_FOUND", key=key, txn=txn)
        await refused(client, db, world, "NOT_FOUND", key=key, case=case)


async def test_a_case_and_a_payment_that_do_not_belong_together(client, db, world):
    txn, other = await record_txn(db, world), await record_txn(db, world)
    case = await submit(db, world, other)
    await refused(client, db, world, "CASE_NOT_OF_TRANSACTION", txn=txn, case=case)
    foreign = await record_txn(db, world, "b")
    await refused(client, db, world, "CASE_NOT_OF_TRANSACTION", key=world.key("agency"),
                  txn=foreign, case=case)


async def test_malformed_ids_and_ids_of_another_type_are_not_found(client, db, world):
    txn = await record_txn(db, world)
    await refused(client, db, world, "NOT_FOUND", transactionId="bm9wZQ")
    await refused(client, db, world, "NOT_FOUND",
                  refundCaseId=ids.encode("RefundCase", txn.tenant_id, txn.id))


@pytest.mark.parametrize("role", ["VIEWER", "REFUND_AGENT"])
async def test_roles_that_cannot_open(client, db, world, role):
    txn = await record_txn(db, world)
    await refused(client, db, world, "FORBIDDEN", key=world.key("a", role), txn=txn)


@pytest.mark.parametrize(("description", "code"), [
    ("", "REQUIRED"), ("   ", "REQUIRED"), ("x" * 4001, "TOO_LONG"), ("x" * 20_000, "TOO_LONG"),
    ("x" * 20_001, "TOO_LONG"), ("bad\x00byte", "INVALID_FORMAT"),
])
async def test_empty_or_overlong_descriptions(client, db, world, description, code):
    txn = await record_txn(db, world)
    await refused(client, db, world, code, txn=txn, description=description)


async def test_no_subject_bad_contact_or_attachment(client, db, world):
    txn = await record_txn(db, world)
    await refused(client, db, world, "REQUIRED")
    await refused(client, db, world, "INVALID_FORMAT", txn=txn, contactEmail="not-an-address")
    await refused(client, db, world, "INVALID_FORMAT", txn=txn, contactPhone="call me")
    good = {"type": "PHOTO", "filename": "receipt.jpg", "size": 1000, "sha256": SHA}
    for bad, code in (({"sha256": "xyz"}, "INVALID_FORMAT"), ({"size": 0}, "OUT_OF_RANGE"),
                      ({"filename": "../etc/passwd"}, "INVALID_FORMAT")):
        await refused(client, db, world, code, txn=txn, attachments=[{**good, **bad}])
    await refused(client, db, world, "TOO_MANY", txn=txn, attachments=[good] * 11)


async def test_an_unknown_category_is_a_request_error_that_writes_nothing(client, db, world):
    txn = await record_txn(db, world)
    before = await counts(db, world)
    body = await gql(client, """mutation($i: OpenComplaintInput!) { openComplaint(input: $i) {
        complaintTicket { id } } }""", {"i": {"transactionId": txn_gid(txn),
                                             "category": "LOUD_MUSIC", "description": "x"}},
                     key=world.key("a", "SUPPORT"))
    assert body["errors"] and body.get("data") is None
    assert await counts(db, world) == before


async def test_a_new_ticket(client, db, world):
    txn = await record_txn(db, world)
    ticket = await opened(client, world.key("a", "SUPPORT"), txn=txn, channel="PHONE",
                          contactEmail="Li.Wei@Example.com", contactPhone="+86 138-0013-8000",
                          attachments=[{"type": "SCREENSHOT", "filename": "chat.png",
                                        "size": 2048, "sha256": SHA.upper()}])
    assert (ticket["status"], ticket["priority"], ticket["channel"]) == ("OPEN", "NORMAL", "PHONE")
    assert not ticket["isRepeat"] and ticket["escalationLevel"] == 0
    created = ticket["createdAt"]
    assert ticket["firstResponseDueAt"] == ticket["nextDueAt"]
    at = datetime.fromisoformat(created)
    assert datetime.fromisoformat(ticket["firstResponseDueAt"]) == at + timedelta(hours=24)
    assert datetime.fromisoformat(ticket["resolutionDueAt"]) == at + timedelta(hours=120)
    (row,) = await rows(db, world, ComplaintTicket)
    # The contact is stored encrypted, with keyed fingerprints; never in the outbox.
    assert "Li.Wei" not in (row.contact_email_enc or "") and row.contact_email_fp
    assert "8000" not in (row.contact_phone_enc or "") and row.contact_phone_fp
    (event,) = await rows(db, world, DomainEvent, DomainEvent.aggregate_id == row.id)
    assert event.type == "complaint.opened" and event.payload["ticketNumber"] == row.ticket_number
    assert "Example.com" not in str(event.payload) and "8000" not in str(event.payload)
    assert "description" not in event.payload
    data = (await gql(client, """query($id: ID!) { node(id: $id) { ... on ComplaintTicket {
        attachments { type filename size sha256 } } } }""", {"id": ticket["id"]},
                      key=world.key("a", "VIEWER")))["data"]
    assert data["node"]["attachments"] == [
        {"type": "SCREENSHOT", "filename": "chat.png", "size": 2048, "sha256": SHA}]


async def test_ticket_numbers_are_per_merchant_and_sequential(client, db, world):
    a1, a2, b1 = (await record_txn(db, world, "a"), await record_txn(db, world, "a"),
                  await record_txn(db, world, "b"))
    first = await opened(client, world.key("a", "SUPPORT"), txn=a1)
    second = await opened(client, world.key("a", "SUPPORT"), txn=a2)
    other = await opened(client, world.key("agency", "ADMIN"), txn=b1)
    numbers = [t["ticketNumber"].rsplit("-", 1)[1] for t in (first, second, other)]
    assert numbers == ["000001", "000002", "000001"]


async def test_an_integration_opens_and_staff_may_set_the_priority(client, db, world):
    txn = await record_txn(db, world)
    ticket = await opened(client, world.key("a", "INTEGRATION"), txn=txn)
    assert ticket["channel"] == "API"
    urgent = await opened(client, world.key("a", "SUPPORT"), txn=await record_txn(db, world),
                          priority="URGENT", priorityReason="Press enquiry")
    assert urgent["priority"] == "URGENT" and urgent["priorityReason"] == "Press enquiry"
    assert datetime_gap(urgent["createdAt"], urgent["firstResponseDueAt"]) == timedelta(hours=2)


def datetime_gap(start: str, end: str) -> timedelta:
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)


# -- the consumer's receipt ----------------------------------------------------------------------


async def test_a_consumer_complains_about_its_own_payment_or_case(db, world):
    txn = await record_txn(db, world)
    case = await submit(db, world, txn)
    async with db.unit_of_work(consumer(txn)) as uow:
        ticket = await intake.open_ticket(uow, intake.OpenComplaint(
            category=ComplaintCategory.REFUND_DELAY, description="Where is my money?",
            refund_case=(case.tenant_id, case.id)))
        assert (ticket.channel, ticket.opened_by, ticket.transaction_id) == ("WEB", "receipt",
                                                                            txn.id)
    async with db.unit_of_work(consumer(txn)) as uow:
        again = await intake.open_ticket(uow, intake.OpenComplaint(
            category=ComplaintCategory.SERVICE, description="Rude staff",
            transaction=(txn.tenant_id, txn.id)))
        assert again.repeat_of_id == ticket.id


async def test_a_consumer_reaches_no_other_payment_and_sets_no_priority(db, world):
    txn, other = await record_txn(db, world), await record_txn(db, world)
    other_case = await submit(db, world, other)
    attempts = [
        intake.OpenComplaint(category=ComplaintCategory.OTHER, description="x",
                             transaction=(other.tenant_id, other.id)),
        intake.OpenComplaint(category=ComplaintCategory.OTHER, description="x",
                             refund_case=(other_case.tenant_id, other_case.id)),
        intake.OpenComplaint(category=ComplaintCategory.OTHER, description="x",
                             transaction=(world.merchant_b, other.id)),
    ]
    for cmd in attempts:
        with pytest.raises(NotFound):
            async with db.unit_of_work(consumer(txn)) as uow:
                await intake.open_ticket(uow, cmd)
    with pytest.raises(Forbidden):
        async with db.unit_of_work(consumer(txn)) as uow:
            await intake.open_ticket(uow, intake.OpenComplaint(
                category=ComplaintCategory.OTHER, description="x",
                transaction=(txn.tenant_id, txn.id), priority="URGENT"))  # type: ignore[arg-type]
    assert (await counts(db, world))["tickets"] == 0


# -- derived priority and repeats ----------------------------------------------------------------


async def _overdue(db, world, case):
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        past = utcnow() - timedelta(hours=1)
        await unchecked(uow).execute(update(RefundCase).where(RefundCase.id == case.id).values(
            review_due_at=past, next_due_at=past))


async def test_refund_delay_on_a_case_past_its_deadline_is_high(client, db, world):
    key = world.key("a", "SUPPORT")
    late_txn, on_time_txn = await record_txn(db, world), await record_txn(db, world)
    late, on_time = await submit(db, world, late_txn), await submit(db, world, on_time_txn)
    await _overdue(db, world, late)
    assert (await opened(client, key, case=late, category="REFUND_DELAY"))["priority"] == "HIGH"
    assert (await opened(client, key, case=on_time, category="REFUND_DELAY"))["priority"] == \
        "NORMAL"
    other_txn = await record_txn(db, world)
    other = await submit(db, world, other_txn)
    await _overdue(db, world, other)
    assert (await opened(client, key, case=other, category="SERVICE"))["priority"] == "NORMAL"
    # A repeat of an overdue REFUND_DELAY goes one level further.
    repeat = await opened(client, key, case=late, category="REFUND_DELAY")
    assert (repeat["priority"], repeat["isRepeat"]) == ("URGENT", True)


async def test_repeats_by_payment_or_by_contact_within_30_days(client, db, world):
    key = world.key("a", "SUPPORT")
    txn = await record_txn(db, world)
    first = await opened(client, key, txn=txn, contactEmail="wang@example.com")
    same_payment = await opened(client, key, txn=txn)
    assert same_payment["repeatOf"]["id"] == first["id"] and same_payment["priority"] == "HIGH"
    by_mail = await opened(client, key, txn=await record_txn(db, world),
                           contactEmail=" WANG@Example.COM ")
    assert by_mail["repeatOf"]["id"] == first["id"]  # normalised: case and spaces
    phone = await opened(client, key, txn=await record_txn(db, world),
                         contactPhone="+86 138 0013 8000")
    by_phone = await opened(client, key, txn=await record_txn(db, world),
                            contactPhone="+86-13800138000")
    assert by_phone["repeatOf"]["id"] == phone["id"]
    # Another merchant's ticket with the same contact is no repeat.
    elsewhere = await opened(client, world.key("agency"), txn=await record_txn(db, world, "b"),
                             contactEmail="wang@example.com")
    assert elsewhere["isRepeat"] is False and elsewhere["priority"] == "NORMAL"


async def test_the_same_contact_after_30_days_is_no_repeat(client, db, world):
    key = world.key("a", "SUPPORT")
    await opened(client, key, txn=await record_txn(db, world), contactEmail="zhao@example.com")
    async with db.unit_of_work(await scope_of(db, world, "a")) as uow:
        await unchecked(uow).execute(update(ComplaintTicket).values(
            created_at=utcnow() - timedelta(days=31)))
    later = await opened(client, key, txn=await record_txn(db, world),
                         contactEmail="zhao@example.com")
    assert later["isRepeat"] is False and later["priority"] == "NORMAL"
