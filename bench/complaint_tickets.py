"""Complaint tickets for the ``bench.refund_cases`` data set, opened and worked through
the services, so that every merchant of its keys file has a complaint page to read
(``bench.compare``'s ``complaintTickets`` read).

Per merchant ``count`` tickets opened by its SUPPORT key: one in three about one of the
merchant's payments, the others about one of its refund cases (the ticket then names
the case's payment too); categories, channels and contacts (e-mail or phone) in
rotation, each ticket its own contact. A ticket about a payment that already has
one is a repeat and its priority is raised, as in production: the data set has few
payments per merchant (cases / 10), so most tickets are repeats (HIGH).

Then each ticket is worked into a status mix, out of ten: 2 left OPEN, 1 queued with
a team (still OPEN), 2 assigned to an agent (IN_PROGRESS), 1 assigned and answered
with an internal note (IN_PROGRESS, first response given), 1 asked for more
(WAITING_CUSTOMER, resolution clock paused), 1 set URGENT with a reason and answered
(deadlines recomputed), 1 RESOLVED, 1 resolved and CLOSED. Every ticket is one unit
of work; 8 run at a time (20-40 tickets/s on the shared 2-core machine). The
spare payments of the write runs are never complained about.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

Key = tuple[uuid.UUID, uuid.UUID]
CATEGORIES = ["REFUND_DELAY", "REFUND_REJECTED", "WRONG_AMOUNT", "SERVICE", "QUALITY", "OTHER"]
CHANNELS = ["PHONE", "WEB", "APP", "API", "POS_QR"]
TEAMS = ["payments", "store-ops", "tier-2"]


def _opening(n: int, payments: Sequence[Key], cases: Sequence[Key]) -> Any:
    from qrefund.platform.complaints import intake
    from qrefund.platform.complaints.vocabulary import ComplaintCategory
    from qrefund.platform.vocabulary import RequestChannel

    about_case = bool(n % 3) and bool(cases)
    category = CATEGORIES[n % len(CATEGORIES)]
    return intake.OpenComplaint(
        category=ComplaintCategory(category),
        description=f"Complaint {n}: {category.lower().replace('_', ' ')}, "
                    "the customer asks what happened to the refund.",
        transaction=None if about_case else payments[n % len(payments)],
        refund_case=cases[(n * 7) % len(cases)] if about_case else None,
        channel=RequestChannel(CHANNELS[n % len(CHANNELS)]),
        contact_email=f"customer{n}@example.com" if n % 2 else None,
        contact_phone=None if n % 2 else f"+86 138 {n:08d}")


async def _work(uow: Any, key: Key, step: int) -> None:
    """Take a freshly opened ticket to the state ``step`` (0-9) stands for."""
    from qrefund.platform.complaints import service
    from qrefund.platform.complaints.vocabulary import (
        AssigneeKind,
        ComplaintPriority,
        ComplaintResolution,
    )

    agent = f"agent-{key[1].int % 7}"
    if step == 2:
        await service.assign(uow, *key, assignee=TEAMS[key[1].int % 3], kind=AssigneeKind.TEAM)
        return
    if step in (3, 4, 5, 7, 8, 9):
        await service.assign(uow, *key, assignee=agent, team=TEAMS[key[1].int % 3])
    if step == 5:
        await service.reply(uow, *key, message="Thank you, we are looking into it.")
        await service.reply(uow, *key, message="Checked the POS log.", internal=True)
    elif step == 6:
        await service.request_info(uow, *key, message="Please send the receipt number.")
    elif step == 7:
        await service.set_priority(uow, *key, priority=ComplaintPriority.URGENT,
                                   reason="Customer escalated by phone.")
        await service.reply(uow, *key, message="We have escalated your complaint.")
    elif step in (8, 9):
        await service.resolve(uow, *key, resolution=ComplaintResolution.EXPLAINED,
                              note="The refund was sent on Monday; it takes 3 days.")
        if step == 9:
            await service.close(uow, *key, note="Customer confirmed.")


async def fill(db: Any, support_key: str, payments: Sequence[Key], cases: Sequence[Key],
               count: int) -> None:
    """``count`` tickets for the merchant of ``support_key`` (a SUPPORT key)."""
    from qrefund.platform.complaints import intake
    from qrefund.tenants.auth import authenticate

    scope = await authenticate(db, support_key)

    async def one(n: int) -> None:
        async with db.unit_of_work(scope) as uow:
            ticket = await intake.open_ticket(uow, _opening(n, payments, cases))
            await _work(uow, ticket.key, n % 10)

    for start in range(0, count, 8):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 8, count))))
