"""Exports asked for by an agency key restricted to some merchants: the file holds
exactly their rows, and the record is visible only to keys that may read them all."""

from __future__ import annotations

import csv
import io

from tests.exports.helpers import (
    EXPORT_QUERY,
    ask,
    download,
    finished,
    merchant,
    payment,
)
from tests.foundation.test_restricted_keys import restricted_key
from tests.support.graphql import ok


async def test_a_restricted_keys_export_holds_only_its_merchants_rows(
        client, db, world, workers):
    mine = await payment(db, world, "a", amount="11.00")
    await payment(db, world, "b", amount="22.00")  # the agency's, not the key's
    await payment(db, world, "c", amount="33.00")  # another agency's
    key = await restricted_key(client, world, world.merchant_a, role="VIEWER")

    asked = await ask(client, key)  # no merchantIds: every merchant of the key
    assert asked["userErrors"] == [], asked
    assert asked["export"]["merchantIds"] == [merchant(world, "a")]
    done = await finished(client, workers, key, asked["export"]["id"])
    assert done["status"] == "SUCCEEDED" and done["rowsDone"] == 1
    response = await download(client, done["downloadUrl"])
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["merchant_id"], r["transaction_id"]) for r in rows] == [
        (str(world.merchant_a), str(mine.id))]

    # Naming a merchant outside the key's list is not found, and nothing is written.
    foreign = await ask(client, key, merchantIds=[merchant(world, "b")])
    assert foreign["export"] is None
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"


async def test_an_export_is_hidden_from_restricted_keys_that_cannot_read_all_its_rows(
        client, db, world, workers):
    await payment(db, world, "a")
    both = await restricted_key(client, world, world.merchant_a, world.merchant_b)
    only_b = await restricted_key(client, world, world.merchant_b)
    asked = await ask(client, both)
    assert asked["userErrors"] == [] and len(asked["export"]["merchantIds"]) == 2
    export_id = asked["export"]["id"]
    assert (await finished(client, workers, both, export_id))["status"] == "SUCCEEDED"
    # A key restricted to B alone cannot see an export holding A's rows; the agency can.
    for key, visible in ((only_b, False), (world.key("agency"), True),
                         (world.key("a"), False), (world.key("other_agency"), False)):
        found = (await ok(client, EXPORT_QUERY, {"id": export_id}, key=key))["export"]
        assert (found is not None) == visible, key
        node = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": export_id},
                        key=key)
        assert (node["node"] is not None) == visible
    # An agency key's export of everything (the agency too) is no restricted key's; one
    # naming A and B is visible to the key restricted to both, not to B's.
    everything = (await ask(client, world.key("agency")))["export"]["id"]
    named = (await ask(client, world.key("agency"),
                       merchantIds=[merchant(world, "a"), merchant(world, "b")]))["export"]["id"]
    for export, key, visible in ((everything, both, False), (named, both, True),
                                 (named, only_b, False)):
        seen = await ok(client, EXPORT_QUERY, {"id": export}, key=key)
        assert (seen["export"] is not None) == visible
