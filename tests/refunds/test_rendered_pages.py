"""A page whose every shown field has a recipe gets its JSON from PostgreSQL
(:mod:`qrefund.graphql_schema.rendering`). The answer must be the one the types and the
stock executor give, byte for byte: a generated set of documents over every recipe
(aliases, fragment spreads, inline fragments, ``@skip``/``@include`` on variables,
``__typename``, nested objects, nulls) runs both ways and the responses are compared
in full, on cases in every kind of state, in currencies of 0, 2 and 3 decimals, with
instants with and without a fraction of a second."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from qrefund.graphql_schema import ids, paging, rendering
from qrefund.graphql_schema import node as node_module
from qrefund.graphql_schema.complaints.recipes import ticket_recipes
from qrefund.graphql_schema.refunds.recipes import case_recipes, event_recipes
from qrefund.graphql_schema.transactions.recipes import transaction_recipes
from qrefund.platform.db import Database
from qrefund.platform.refunds import intake
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions import service as payments
from qrefund.platform.transactions.models import PaymentChannel, TransactionStatus
from qrefund.platform.vocabulary import RefundReason, RequestChannel
from qrefund.tenants.auth import authenticate
from tests.foundation.test_sql_count import _worked_tickets
from tests.support.graphql import gql
from tests.support.raw import unchecked
from tests.support.world import World

pytestmark = pytest.mark.postgres_only

MONEY = ["amount", "currency", "__typename"]
PAGES = {  # root field -> its recipes
    "refundCases": case_recipes,
    "transactions": transaction_recipes,
    "complaintTickets": ticket_recipes,
}
NODE_TYPES = {"refundCases": "RefundCase", "transactions": "Transaction",
              "complaintTickets": "ComplaintTicket"}
USES = "__typename @include(if: $yes) @skip(if: $no)"  # both variables are always used
NESTED = {"transaction": transaction_recipes, "lastEvent": event_recipes}


async def _cases(db: Database, world: World) -> None:
    """Seven payments in CNY, JPY and KWD, each with a case; the cases submitted, under
    review, approved in part, rejected; one instant on a whole second. Three complaint
    tickets about cases (repeats of each other, one resolved)."""
    scope = await authenticate(db, world.key("a", "INTEGRATION"))
    amounts = [("CNY", "20.00", "5.00"), ("JPY", "2000", "700"), ("KWD", "3.250", "1.005"),
               ("CNY", "0.05", "0.05"), ("CNY", "12345.60", "100.10"),
               ("JPY", "7", "7"), ("CNY", "9.99", "9.99")]
    cases = []
    async with db.unit_of_work(scope) as uow:
        for i, (currency, paid, asked) in enumerate(amounts):
            txn = await payments.record(uow, payments.RecordTransaction(
                merchant_id=None, merchant_order_no=f"render-{i}", channel=PaymentChannel.ALIPAY,
                provider_reference=f"render{i}", amount=Decimal(paid), currency=currency,
                status=TransactionStatus.SUCCEEDED, terminal_id="T1" if i % 2 else None,
                paid_at=datetime(2026, 11, 1, 8, 0, i, 123400 * (i % 3), tzinfo=UTC)))
            cases.append(await intake.submit(uow, intake.SubmitRefund(
                tenant_id=txn.tenant_id, transaction_id=txn.id, amount=Decimal(asked),
                reason=RefundReason.OTHER, channel=RequestChannel.API,
                description="colour \"wrong\" \\ naïve 退款" if i == 1 else None)))
        await unchecked(uow).execute(update(RefundCase).where(
            RefundCase.id == cases[0].id).values(
            review_due_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC) + timedelta(days=1)))
    agent = await authenticate(db, world.key("a", "REFUND_AGENT"))
    async with db.unit_of_work(agent) as uow:
        for case in cases[1:4]:
            await refunds.start_review(uow, case.tenant_id, case.id, assignee="ann")
        await refunds.approve(uow, cases[2].tenant_id, cases[2].id, amount=Decimal("1.000"),
                              note="part")
        await refunds.reject(uow, cases[3].tenant_id, cases[3].id, reason="not ours")
    # Tickets about cases (repeats of each other, every other one resolved).
    await _worked_tickets(db, world, 3)


def _fields(rng: random.Random, recipes: Any, depth: int) -> str:
    """A random selection over the recipes, spelled in the ways a client may."""
    names = sorted(recipes)
    chosen = rng.sample(names, rng.randint(1, len(names)))
    parts = []
    for name in chosen:
        if name in NESTED and depth < 2:
            inner = f"{{ {_fields(rng, NESTED[name](), depth + 1)} }}"
        elif name in NESTED:
            continue
        elif isinstance(recipes[name], rendering.Nested):
            inner = "{ " + " ".join(rng.sample(MONEY, rng.randint(1, 3))) + " }"
        else:
            inner = ""
        spelled = f"{name} {inner}"
        roll = rng.random()
        if roll < 0.15:
            spelled = f"a{len(parts)}: {spelled}"
        elif roll < 0.25:
            spelled = f"{name} @include(if: $yes) {inner} {name} @skip(if: $yes) {inner}"
        elif roll < 0.3:
            spelled = f"... @skip(if: $no) {{ {spelled} }}"
        parts.append(spelled)
    if rng.random() < 0.3:
        parts.append("__typename")
    return " ".join(parts)


def _document(rng: random.Random, root: str) -> str:
    node_type = NODE_TYPES[root]
    fields = _fields(rng, PAGES[root](), 0)
    if rng.random() < 0.4:
        # The edges' own fields under aliases, and edges asked for in two places (merged).
        cursor = rng.choice(["cursor", "c: cursor", "cursor k: cursor"])
        again = rng.choice(["", "edges { cursor }", "edges { node { __typename } }"])
        return (f"query Q($yes: Boolean! = true, $no: Boolean! = false) {{ {root}(first: 20) "
                f"{{ pageInfo {{ hasNextPage endCursor }} "
                f"edges {{ {USES} {cursor} node {{ ...f }} }} {again} }} }}"
                f" fragment f on {node_type} {{ {fields} }}")
    return (f"query Q($yes: Boolean! = true, $no: Boolean! = false) {{ {root}(first: 20) "
            f"{{ edges {{ {USES} node {{ ... on {node_type} {{ {fields} }} }} }} }} }}")


async def _both_ways(client: httpx.AsyncClient, key: str, document: str,
                     monkeypatch: pytest.MonkeyPatch, variables: dict[str, Any] | None = None,
                     module: Any = paging, name: str = "compile_items"
                     ) -> tuple[Any, Any, bool]:
    """The response rendered (``module.name`` as it is, watched) and through the types
    (``module.name`` answering None), and whether anything rendered."""
    compiled: list[Any] = []
    compile_ = getattr(rendering, name)

    def spy(*args: Any) -> Any:
        compiled.append(compile_(*args))
        return compiled[-1]

    with monkeypatch.context() as patch:
        patch.setattr(module, name, spy)
        rendered = await gql(client, document, variables, key=key)
    with monkeypatch.context() as patch:
        patch.setattr(module, name, lambda *args: None)
        stock = await gql(client, document, variables, key=key)
    return rendered, stock, any(c is not None for c in compiled)


@pytest.mark.parametrize("root", sorted(PAGES))
async def test_rendered_pages_answer_what_the_types_answer(
    client: httpx.AsyncClient, db: Database, world: World, root: str,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    await _cases(db, world)
    key = world.key("a")
    rng = random.Random(f"render-{root}")
    rendered_count = 0
    for _ in range(60):
        document = _document(rng, root)
        rendered, stock, was_rendered = await _both_ways(client, key, document, monkeypatch)
        assert "errors" not in stock, (document, stock)
        assert rendered == stock, document
        rendered_count += was_rendered
    assert rendered_count == 60  # every generated document took the rendered path


async def test_every_recipe_at_once(client: httpx.AsyncClient, db: Database, world: World,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await _cases(db, world)
    money = "{ amount currency }"

    def every(recipes: Any) -> str:
        return " ".join(f"{n} {money}" if isinstance(r, rendering.Nested) else n
                        for n, r in sorted(recipes.items()) if n not in NESTED)
    document = (f"{{ refundCases(first: 30) {{ edges {{ node {{ {every(case_recipes())} "
                f"transaction {{ {every(transaction_recipes())} }} "
                f"lastEvent {{ {every(event_recipes())} }} }} }} }} }}")
    edges: list[Any] = []

    def spy(info: Any) -> Any:
        edges.append(rendering.compile_edges(info))
        return edges[-1]

    monkeypatch.setattr(paging, "compile_edges", spy)
    rendered, stock, was_rendered = await _both_ways(client, world.key("a"), document,
                                                     monkeypatch)
    assert was_rendered and rendered == stock
    assert edges[0] == ("RefundCaseEdge", (("node", "node"),))  # the edges were handed over
    nodes = [e["node"] for e in stock["data"]["refundCases"]["edges"]]
    assert {n["requestedAmount"]["amount"] for n in nodes} >= {"700", "1.005", "0.05"}
    assert {n["status"] for n in nodes} >= {"SUBMITTED", "UNDER_REVIEW", "APPROVED",
                                            "REJECTED"}
    assert any(n["reviewDueAt"].endswith(":00+00:00") for n in nodes)  # no fraction


@pytest.mark.parametrize("extra", [
    "overdue", "events { seq }", "evidence { filename }", "riskFlags",
    "transaction { receiptUrl }", "payouts { id }",
])
async def test_a_field_without_a_recipe_resolves_through_the_types(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch,
    extra: str
) -> None:
    await _cases(db, world)
    document = f"{{ refundCases(first: 3) {{ edges {{ node {{ id {extra} }} }} }} }}"
    rendered, stock, was_rendered = await _both_ways(client, world.key("a"), document,
                                                     monkeypatch)
    assert not was_rendered
    assert rendered == stock and "errors" not in stock


NODES = {"RefundCase": case_recipes, "Transaction": transaction_recipes}


def _node_document(rng: random.Random, node_type: str) -> str:
    """``node(id)`` over a random selection of ``node_type``'s recipes, through a named
    fragment, an inline fragment, or beside the ``Node`` interface's own ``id``."""
    fields = _fields(rng, NODES[node_type](), 0)
    other = "Transaction" if node_type == "RefundCase" else "RefundCase"
    head = "query Q($id: ID!, $yes: Boolean! = true, $no: Boolean! = false)"
    roll = rng.random()
    if roll < 0.3:
        return (f"{head} {{ node(id: $id) {{ {USES} ...f }} }}"
                f" fragment f on {node_type} {{ {fields} }}")
    if roll < 0.6:
        return (f"{head} {{ node(id: $id) {{ {USES} ... on Node {{ id }} "
                f"... on {other} {{ id }} ... on {node_type} {{ {fields} }} }} }}")
    return (f"{head} {{ n: node(id: $id) {{ ... on {node_type} {{ {fields} }} "
            f"... @skip(if: $no) {{ {USES} }} }} }}")


async def _node_both_ways(client: httpx.AsyncClient, key: str, document: str, gid: str,
                          monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, bool]:
    return await _both_ways(client, key, document, monkeypatch, {"id": gid},
                            node_module, "compile_object_at")


@pytest.mark.parametrize("node_type", sorted(NODES))
async def test_rendered_nodes_answer_what_the_types_answer(
    client: httpx.AsyncClient, db: Database, world: World, node_type: str,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """``node(id)`` of each case and payment, rendered and through the types; another
    merchant's key finds nothing either way."""
    await _cases(db, world)
    key = world.key("a")
    page = await gql(client, "{ refundCases(first: 50) { edges { node { id "
                             "transaction { id } } } } }", key=key)
    nodes = [e["node"] for e in page["data"]["refundCases"]["edges"]]
    gids = sorted({n["id"] if node_type == "RefundCase" else n["transaction"]["id"]
                   for n in nodes})
    assert len(gids) >= 7  # the seven of _cases, and those the tickets are about
    rng = random.Random(f"render-node-{node_type}")
    rendered_count = 0
    for n in range(40):
        document, gid = _node_document(rng, node_type), gids[n % len(gids)]
        rendered, stock, was_rendered = await _node_both_ways(client, key, document, gid,
                                                              monkeypatch)
        assert "errors" not in stock and next(iter(stock["data"].values())), (document, stock)
        assert rendered == stock, document
        rendered_count += was_rendered
    assert rendered_count == 40  # every generated document took the rendered path
    for n in range(5):  # out of scope: null both ways, and nothing rendered
        document = _node_document(rng, node_type)
        rendered, stock, _ = await _node_both_ways(client, world.key("b"), document, gids[n],
                                                   monkeypatch)
        assert rendered == stock and next(iter(stock["data"].values())) is None


@pytest.mark.parametrize("extra", ["overdue", "events { seq }", "transaction { receiptUrl }"])
async def test_a_node_with_a_field_without_a_recipe_resolves_through_the_types(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch,
    extra: str
) -> None:
    await _cases(db, world)
    key = world.key("a")
    page = await gql(client, "{ refundCases(first: 1) { edges { node { id } } } }", key=key)
    gid = page["data"]["refundCases"]["edges"][0]["node"]["id"]
    document = f"query Q($id: ID!) {{ node(id: $id) {{ ... on RefundCase {{ id {extra} }} }} }}"
    rendered, stock, was_rendered = await _node_both_ways(client, key, document, gid,
                                                          monkeypatch)
    assert not was_rendered
    assert rendered == stock and "errors" not in stock and stock["data"]["node"]["id"] == gid


@pytest.mark.parametrize(("root", "order"), [
    ("refundCases", "CREATED_DESC"), ("refundCases", "CREATED_ASC"), ("refundCases", "DUE_ASC"),
    ("complaintTickets", "CREATED_ASC"), ("complaintTickets", "DUE_ASC"), ("transactions", None),
])
async def test_rendered_cursors_page_like_the_types(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch,
    root: str, order: str | None
) -> None:
    """The cursors PostgreSQL builds (in each order; a closed case's due time is NULL)
    are the types' own, and walking the pages with them meets every row once."""
    await _cases(db, world)
    ordering = f", orderBy: {order}" if order else ""
    document = (f"query Q($after: String) {{ {root}(first: 3, after: $after{ordering}) {{ "
                "pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }")
    after, seen = None, []
    while True:
        rendered, stock, was_rendered = await _both_ways(
            client, world.key("a"), document, monkeypatch, {"after": after})
        assert was_rendered and rendered == stock
        page = stock["data"][root]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) >= 3


FILTERED = """query Q($f: TransactionFilterInput, $after: String) {
  transactions(first: 3, filter: $f, after: $after) {
    pageInfo { hasNextPage endCursor } edges { cursor node { id merchantOrderNo } } } }"""


async def test_rendered_payments_filter_like_the_types(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each filter of the payments page (its values are parameters of a statement compiled
    once per set of filters) alone, together, and past a cursor, rendered and typed."""
    await _cases(db, world)
    filters: list[dict[str, Any]] = [
        {}, {"status": ["SUCCEEDED"]}, {"status": ["FAILED", "PENDING"]},
        {"channel": ["ALIPAY"]}, {"channel": ["WECHAT_PAY"]},
        {"paidFrom": "2026-11-01T08:00:02Z"}, {"paidTo": "2026-11-01T08:00:03Z"},
        {"paidFrom": "2026-11-01T16:00:02+08:00", "paidTo": "2026-11-01T08:00:05Z"},
        {"amountMin": "9.99", "currency": "CNY"}, {"amountMax": "20", "currency": "CNY"},
        {"terminalId": "T1"}, {"merchantOrderNo": "render-4"}, {"storeId": "nowhere"},
        {"terminalId": "T1", "channel": ["ALIPAY"], "status": ["SUCCEEDED"],
         "paidFrom": "2026-11-01T08:00:00Z"},
    ]
    filters.append({"merchantIds": [ids.encode("Tenant", world.merchant_a)]})
    filters.append({"merchantIds": [ids.encode("Tenant", world.merchant_a),
                                    ids.encode("Tenant", world.merchant_b)],
                    "status": ["SUCCEEDED"]})
    counts = []
    for key in (world.key("a"), world.key("agency")):
        for f in filters:
            after = None
            seen = 0
            for _ in range(4):  # every page of it
                rendered, stock, was_rendered = await _both_ways(
                    client, key, FILTERED, monkeypatch, {"f": f, "after": after})
                assert rendered == stock, f
                if "errors" in stock:  # merchant A naming merchant B: not found both ways
                    assert key == world.key("a") and len(f.get("merchantIds", ())) == 2
                    assert stock["errors"][0]["extensions"]["code"] == "NOT_FOUND"
                    break
                assert was_rendered
                page = stock["data"]["transactions"]
                seen += len(page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            counts.append(seen)
    assert counts[0] >= 7 and 0 in counts, counts
    assert len(set(counts)) > 4, counts  # the filters did filter


async def test_a_kept_plan_follows_the_switches_and_the_document(
    client: httpx.AsyncClient, db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled selection is kept per document, field and @skip/@include values: the
    same document with the switch turned each way, and a document that differs only
    after the field, each answer as the types do."""
    await _cases(db, world)
    key = world.key("a")
    page = ("query Q($show: Boolean!, $first: Int) { transactions(first: $first) { edges {"
            " cursor node { id merchantOrderNo @include(if: $show) "
            "... @skip(if: $show) { paidAt } } } } }")
    for show in (True, False, True, False):
        for first in (2, 3):
            rendered, stock, was_rendered = await _both_ways(
                client, key, page, monkeypatch, {"show": show, "first": first})
            assert rendered == stock and was_rendered, stock
            node = stock["data"]["transactions"]["edges"][0]["node"]
            assert ("merchantOrderNo" in node, "paidAt" in node) == (show, not show)
    for suffix in ("", "\n# the same operation in another text"):
        document = ("query One($id: ID!, $hide: Boolean = false) { node(id: $id) { "
                    "... on Transaction @skip(if: $hide) { id status } } }" + suffix)
        gid = stock["data"]["transactions"]["edges"][0]["node"]["id"]
        for hide in (False, True, False):
            rendered, stock_node, _ = await _both_ways(
                client, key, document, monkeypatch, {"id": gid, "hide": hide},
                module=node_module, name="compile_object_at")
            assert rendered == stock_node, stock_node
            assert stock_node["data"]["node"] == ({} if hide else {"id": gid,
                                                                  "status": "SUCCEEDED"})


async def test_the_look_ahead_is_kept_per_document_and_field(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    """Whether a page counts (``totalCount``) or joins its payments is worked out once per
    document and field and kept: a document without the field, one with it, and one
    asking the same list twice (once with, once without) each get their own answer,
    whatever order they come in."""
    await _cases(db, world)
    key = world.key("a")
    without = "{ transactions(first: 2) { edges { cursor } } }"
    counted = "{ transactions(first: 2) { totalCount edges { cursor } } }"
    both = ("{ a: transactions(first: 2) { edges { cursor } } "
            "b: transactions(first: 2) { totalCount } }")
    cases = ("{ refundCases(first: 2) { edges { node { id transaction { id } } } } }")
    for _ in range(2):
        assert "totalCount" not in (await gql(client, without, key=key))["data"]["transactions"]
        total = (await gql(client, counted, key=key))["data"]["transactions"]["totalCount"]
        assert isinstance(total, int) and total > 0
        pair = (await gql(client, both, key=key))["data"]
        assert pair["b"]["totalCount"] == total and "totalCount" not in pair["a"]
        edges = (await gql(client, cases, key=key))["data"]["refundCases"]["edges"]
        assert edges and all(e["node"]["transaction"]["id"] for e in edges)
