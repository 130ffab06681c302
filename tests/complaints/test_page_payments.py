"""A complaint ticket page that shows each ticket's payment reads the payments in the
page's own statement (an outer join) and hands them to the payment loader."""

from __future__ import annotations

import httpx

from qrefund.platform.db import Database
from tests.foundation.test_sql_count import _worked_tickets
from tests.support.statements import costs_no_more
from tests.support.world import World

WITH_PAYMENTS = ("{ complaintTickets(first: 5) { edges { node { id "
                 "transaction { id merchantOrderNo } refundCase { transaction { id } } } } } }")
WITH_CASES = "{ complaintTickets(first: 5) { edges { node { id refundCase { id } } } } }"


async def test_a_page_with_payments_costs_no_statement_for_them(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await _worked_tickets(db, world, 3)
    # The payments of the tickets and of their cases are the same rows, already primed:
    # the page costs what the page with its cases costs.
    data = await costs_no_more(client, db, world.key("a"), WITH_CASES, WITH_PAYMENTS)
    nodes = [edge["node"] for edge in data["complaintTickets"]["edges"]]
    assert len(nodes) == 3
    for node in nodes:
        assert node["transaction"]["merchantOrderNo"].startswith("C-")
        assert node["transaction"]["id"] == node["refundCase"]["transaction"]["id"]
