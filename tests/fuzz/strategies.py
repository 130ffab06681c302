"""Hypothesis strategies for the schema's scalars, registered with schemathesis.

Values are GraphQL literals (AST nodes): schemathesis writes them inline in the
generated document. Each scalar mostly gets well-formed values, so requests get
past coercion into the services, and sometimes hostile ones (the audit's: huge
exponents, naive or out-of-range datetimes, ids that do not decode).

``ID`` draws mostly from :data:`POOL`, the global ids of the real objects of
every tenant (the fuzz world fills it in before the first case is drawn), so
generated calls reach real rows, the caller's own and other tenants'. ``Int`` and
``String`` are ours too: mostly page sizes in range, words the API knows and real
cursors, else arbitrary text (NUL included) and boundary numbers.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from qrefund.graphql_schema import ids
from qrefund.platform.pagination import encode_cursor

# Filled in by the fuzz world fixture; read when a value is drawn, not when defined:
# global ids of real objects by type, and cursors of real pages.
POOL: dict[str, list[str]] = {}
CURSORS: list[str] = []
TOKENS: list[str] = []  # receipt tokens of real payments (the world's)



def _weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as often as its weight (``st.one_of`` ignores repeats
    and leans on its last branches)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy)


OBJECT_TYPES = ("Tenant", "Transaction", "RefundCase", "WebhookEndpoint", "WebhookDelivery",
                "ApiKey", "RefundPolicy", "Payout", "Notification")

_plain_decimals = st.builds(
    "{}.{:02d}".format, st.integers(0, 99_999), st.integers(0, 99)
) | st.integers(-10, 10**6).map(str) | st.sampled_from(["0", "0.00", "-1.00", "0.001", "12.5"])
_hostile_decimals = st.sampled_from([
    "1E+600000", "1E+999999", "1e3", "-0", "NaN", "Infinity", " 1.00", "1.00 ", "1,00",
    "9" * 21, "9" * 100_000, "0." + "0" * 12 + "1", "",
    "\u0663.\u0665\u0660",  # Arabic-Indic digits: Python's Decimal() takes them
])

decimals: st.SearchStrategy[graphql.ValueNode] = _weighted(
    (6, _plain_decimals.map(nodes.String)),
    (2, _hostile_decimals.map(nodes.String)),
    (1, st.integers(-(2**31), 2**31 - 1).map(nodes.Int)),  # JSON numbers, refused
    (1, st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)),
)

_offsets = st.sampled_from(["Z", "z", "+08:00", "-05:30", "+0000", "+14:00", "-12:00", ""])
_datetimes = st.builds(
    "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
    st.sampled_from([2026, 2025, 1970, 1969, 2100]) | st.integers(1, 9999),
    st.integers(1, 12), st.integers(1, 28), st.sampled_from(["T", "t", " "]),
    st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
    st.sampled_from(["", ".5", ".123456", ".123456789"]), _offsets,
)
_hostile_datetimes = st.sampled_from([
    "0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-08:00",
    "9999-12-31T23:59:59Z", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z",
    "2026-11-01T24:00:00Z", "2026-11-01", "now", "", "2026-11-01T10:00:00+99:99",
])

datetimes: st.SearchStrategy[graphql.ValueNode] = _weighted(
    (6, _datetimes.map(nodes.String)),
    (3, _hostile_datetimes.map(nodes.String)),
    (1, st.integers(-(2**31), 2**31 - 1).map(nodes.Int)),
)


def _json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (objects and lists as input literals)."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_node(v) for v in value])
    return nodes.Object([graphql.ObjectFieldNode(name=graphql.NameNode(value=k),
                                                 value=_json_node(v)) for k, v in value.items()])


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), inner,
                      max_size=4),
    max_leaves=12,
)
json_values: st.SearchStrategy[graphql.ValueNode] = _json_values.map(_json_node)


@st.composite
def _world_ids(draw: st.DrawFn) -> str:
    """A real object's id: a type first (a Tenant as likely as a RefundCase), then one of
    its ids, of any tenant."""
    if not POOL:
        return ids.encode("Tenant", uuid.uuid4())
    kind = draw(st.sampled_from(sorted(POOL)))
    return draw(st.sampled_from(POOL[kind]))


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_forged_ids = st.builds(  # well-formed ids of objects that do not exist (or of another type)
    lambda kind, parts: ids.encode(kind, *parts),
    st.sampled_from(OBJECT_TYPES), st.lists(st.uuids(), min_size=1, max_size=3),
)
_garbage_ids = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "null", "0", "-1", "=", "====", "Tenant:", "x" * 201,
                     _b64("Tenant"), _b64("Tenant:not-a-uuid"), _b64("\x00:\x00"),
                     _b64("Transaction::"), _b64(":" * 50)]),
    st.uuids().map(str),
)

global_ids: st.SearchStrategy[graphql.ValueNode] = _weighted(
    (6, _world_ids()), (1, _forged_ids), (1, _garbage_ids),
).map(nodes.String)


# Page sizes, levels, hours: mostly in range, so calls get past argument checks.
ints: st.SearchStrategy[graphql.ValueNode] = _weighted(
    (8, st.integers(1, 100)), (1, st.integers(0, 200)),
    (1, st.sampled_from([-1, 0, 101, 168, 169, 1000, 2**31 - 1, -(2**31)])),
).map(nodes.Int)

# Words the API knows (slugs, currencies, locales, event types, URLs, time zones),
# so text fields often pass validation and reach the services.
_WORDS = [
    "merchant-a", "merchant-b", "merchant-c", "agency-one", "agency-two", "new-shop", "CNY",
    "JPY", "USD", "cny", "XXX", "en", "zh-CN", "fr", "Asia/Shanghai", "Asia/Tokyo", "Mars/Base",
    "refund_case.*", "refund_case.approved", "*", "payout.*", "nope.*",
    "http://127.0.0.1:9/hook", "https://hooks.example.com/qrefund", "ftp://x", "http://[::1]/",
    "alice@example.com", "+8613700001234", "6222020200112233445", "T001", "S1", "ORD-1",
    "ops@example.com", "a" * 64, "b" * 201, "x" * 2001, "refund-1", "abc123",
    "0" * 64, "PAYLOAD_TOO_LARGE",
]


@st.composite
def _real_cursors(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(CURSORS)) if CURSORS else "bm9wZQ"


_forged_cursors = st.lists(
    st.one_of(st.uuids().map(str), _hostile_datetimes, _datetimes, st.integers().map(str)),
    min_size=0, max_size=3,
).map(encode_cursor)

# What the audit found text fields choking on: NUL (PostgreSQL refuses it), a lone
# surrogate (psycopg cannot encode it), terminal escapes, bidi overrides, NFD forms.
_hostile_text = st.builds(
    "{}{}{}".format, st.sampled_from(_WORDS),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b[2J", "\x7f", "\u202e", "\ufeff",
                     "e\u0301", "\r\n", "\t", "%s", "'", "\\"]),
    st.sampled_from(["", "x"]),
)


@st.composite
def _real_tokens(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(TOKENS)) if TOKENS else "bm9wZQ"


strings: st.SearchStrategy[graphql.ValueNode] = _weighted(
    (3, st.sampled_from(_WORDS)), (3, _hostile_text), (2, st.text(max_size=30)),
    (2, _real_cursors()), (1, _forged_cursors), (2, _real_tokens()),
).map(nodes.String)


def register() -> None:
    """Give schemathesis a strategy for each custom scalar, and our own for ``ID``."""
    schemathesis.graphql.scalar("Decimal", decimals)
    schemathesis.graphql.scalar("DateTime", datetimes)
    schemathesis.graphql.scalar("JSON", json_values)
    schemathesis.graphql.scalar("ID", global_ids)
    schemathesis.graphql.scalar("Int", ints)
    schemathesis.graphql.scalar("String", strings)
    # A file belongs in a multipart request; inline, whatever stands for it is refused.
    schemathesis.graphql.scalar("Upload", strings)
