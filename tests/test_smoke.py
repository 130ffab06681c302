from qrefund.graphql_schema import ids
from tests.support.graphql import gql, ok


async def test_viewer_and_merchants(client, world):
    data = await ok(
        client,
        "{ viewer { role tenant { slug kind } } merchants { edges { node { slug } } } }",
        key=world.key("agency"),
    )
    assert data["viewer"] == {"role": "ADMIN", "tenant": {"slug": "agency-one", "kind": "AGENCY"}}
    assert sorted(e["node"]["slug"] for e in data["merchants"]["edges"]) == [
        "merchant-a",
        "merchant-b",
    ]


async def test_missing_key_is_401(client, world):
    body = await gql(client, "{ viewer { role } }", expect_status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_record_transaction(client, world):
    q = """mutation($input: RecordTransactionInput!) { recordTransaction(input: $input) {
      transaction { id merchantOrderNo amount { amount currency }
                    refundableAmount { amount } receiptToken }
      userErrors { code field message } } }"""
    variables = {
        "input": {
            "merchantOrderNo": "ORD-1",
            "channel": "WECHAT_PAY",
            "providerReference": "wx1",
            "amount": "12.50",
            "currency": "CNY",
            "status": "SUCCEEDED",
            "paidAt": "2026-11-01T10:00:00+08:00",
            "payerAccount": "wx_123456789",
        }
    }
    data = await ok(client, q, variables, key=world.key("a", "INTEGRATION"))
    payload = data["recordTransaction"]
    assert payload["userErrors"] == []
    assert payload["transaction"]["amount"] == {"amount": "12.50", "currency": "CNY"}
    assert ids.decode_any(payload["transaction"]["id"])[0] == "Transaction"
