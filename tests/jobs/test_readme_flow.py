"""The README's "A refund, start to finish" documents, run as written, with real workers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, parse, print_ast

from tests.foundation.helpers import recent_paid_at, record_txn
from tests.jobs.support import JobHarness
from tests.support.graphql import ok
from tests.support.world import World

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_operations() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### A refund, start to finish", 1)[1].split("\n### ", 1)[0]
    found: dict[str, str] = {}
    for block in re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL):
        for definition in parse(block).definitions:
            assert isinstance(definition, OperationDefinitionNode) and definition.name
            found[definition.name.value] = print_ast(definition)
    return found


async def test_the_readme_refund_flow_runs_to_refunded(
    client: httpx.AsyncClient, world: World, jobs: JobHarness
) -> None:
    docs = _readme_operations()
    assert set(docs) == {"PublishPolicy", "Submit", "Review", "Approve", "Watch"}
    admin, agent = world.key("a"), world.key("a", "REFUND_AGENT")

    async def run(name: str, key: str, **variables: Any) -> dict[str, Any]:
        data = await ok(client, docs[name], variables, key=key)
        payload = next(iter(data.values()))
        assert not (payload or {}).get("userErrors"), data
        return data

    policy = await run("PublishPolicy", admin)
    assert policy["publishRefundPolicy"]["refundPolicy"]["version"] == 1
    txn = await record_txn(client, world.key("a", "INTEGRATION"), amount="36.50",
                           paidAt=recent_paid_at())
    submitted = await run("Submit", world.key("a", "INTEGRATION"), txn=txn["id"])
    case = submitted["submitRefundRequest"]["refundCase"]
    assert case["status"] == "SUBMITTED"  # 36.50 is over the auto-approval limit of 20.00
    again = await run("Submit", world.key("a", "INTEGRATION"), txn=txn["id"])
    assert again["submitRefundRequest"]["refundCase"]["id"] == case["id"]  # idempotent
    await run("Review", agent, case=case["id"])
    approved = await run("Approve", agent, case=case["id"])
    assert approved["approveRefund"]["refundCase"]["status"] == "APPROVED"
    await jobs.drain()
    watched = (await run("Watch", world.key("a", "VIEWER"), case=case["id"]))["node"]
    assert watched["status"] == "REFUNDED", watched
    assert [p["status"] for p in watched["payouts"]] == ["SUCCEEDED"]
    assert [e["toStatus"] for e in watched["events"] if e["toStatus"]] == [
        "SUBMITTED", "UNDER_REVIEW", "APPROVED", "PROCESSING", "REFUNDED"]
