"""The error-code catalogue: every code a client may see is a member of a typed catalogue
(one ``errors.py`` per domain), documented in the schema's ``UserErrorCode`` enum, and
stable: ``error_codes.txt`` beside this file lists every code ever published."""

from __future__ import annotations

import ast
import importlib
import re
from collections import Counter
from pathlib import Path

import graphql
import httpx

import qrefund
from qrefund.graphql_schema.errors import CATALOGUES, RequestError
from qrefund.graphql_schema.schema import SDL_PATH
from qrefund.platform.db import Database
from qrefund.platform.errors import DescribedCode, ErrorCode, catalogue
from qrefund.platform.transactions.models import TransactionStatus
from tests.foundation.helpers import record_errors, record_txn
from tests.refunds import api as refunds_api
from tests.refunds.helpers import record_txn as record_txn_row
from tests.support.graphql import gql
from tests.support.world import World
from tests.webhooks.api import DISABLE, call, codes, create_endpoint, created

PACKAGE = Path(qrefund.__file__).parent
SNAPSHOT = Path(__file__).with_name("error_codes.txt")
# Functions with a positional parameter named ``code`` that is not an error code.
NOT_ERROR_CODES = {"normalize_currency"}  # a currency code (CNY)


def _modules() -> list[tuple[str, ast.AST]]:
    return [(p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text()))
            for p in sorted(PACKAGE.rglob("*.py"))]


def _import_every_catalogue() -> set[type[ErrorCode]]:
    """Import every ``errors.py`` of the package; the user-error catalogues they define."""
    found: set[type[ErrorCode]] = set()
    for path in sorted(PACKAGE.rglob("errors.py")):
        name = ".".join(("qrefund", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = importlib.import_module(name)
        found |= {v for v in vars(module).values() if isinstance(v, type)
                  and issubclass(v, ErrorCode) and v is not ErrorCode
                  and v.__module__ == name}
    return found


def _user_error_codes() -> dict[str, str]:
    _import_every_catalogue()
    return {code.value: code.description for code in catalogue()}


# -- stability ------------------------------------------------------------------------------


def read_snapshot(text: str) -> dict[str, list[str]]:
    """``[Section]`` headers, one code a line; ``#`` comments and blank lines skipped."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = sections.setdefault(header[1], [])
            continue
        assert current is not None, f"{line!r} comes before any [section]"
        current.append(line)
    return sections


def drift(snapshot: dict[str, list[str]], current: dict[str, list[str]]) -> list[str]:
    """What a developer must fix: codes that disappeared, and new ones not yet listed."""
    problems = []
    for section in sorted(snapshot.keys() | current.keys()):
        listed, now = set(snapshot.get(section, ())), set(current.get(section, ()))
        problems += [f"{section}.{code} was renamed or removed: codes are stable (clients "
                     "match on them), restore it" for code in sorted(listed - now)]
        if now - listed:
            problems.append(f"new {section} codes {sorted(now - listed)}: add them to "
                            f"tests/foundation/{SNAPSHOT.name}")
    return problems


def test_drift_names_a_removed_code_and_asks_for_new_ones() -> None:
    snapshot = {"UserErrorCode": ["NOT_FOUND", "OLD_CODE"], "RequestError": ["RATE_LIMITED"]}
    current = {"UserErrorCode": ["NOT_FOUND", "NEW_CODE"], "RequestError": ["RATE_LIMITED"]}
    problems = drift(snapshot, current)
    assert len(problems) == 2, problems
    assert problems[0].startswith("UserErrorCode.OLD_CODE was renamed or removed")
    assert "NEW_CODE" in problems[1] and "add them to tests/foundation/error_codes.txt" in (
        problems[1])
    assert drift(current, current) == []


def test_no_code_disappeared_and_every_new_one_is_listed() -> None:
    snapshot = read_snapshot(SNAPSHOT.read_text())
    current = {"UserErrorCode": sorted(_user_error_codes()),
               "RequestError": sorted(code.value for code in RequestError)}
    problems = drift(snapshot, current)
    assert not problems, "\n".join(problems)
    for section, listed in snapshot.items():
        assert listed == sorted(set(listed)), f"keep [{section}] sorted, each code once"


# -- no bare code strings -------------------------------------------------------------------


def _code_index(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return names.index("code") if "code" in names else None


def code_helpers(modules: list[tuple[str, ast.AST]]) -> dict[tuple[str, str | None], int]:
    """Callables taking ``code`` positionally: (name, module if private) -> its index.

    A class counts by its ``__init__``. Private names (``_refuse``) are matched only in
    their own module, so a namesake elsewhere is not taken for them.
    """
    helpers: dict[tuple[str, str | None], int] = {}
    for relative, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                inits = [f for f in node.body if isinstance(f, ast.FunctionDef)
                         and f.name == "__init__"]
                candidates = [(node.name, _code_index(f)) for f in inits]
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                candidates = [(node.name, _code_index(node))]
            else:
                continue
            for name, index in candidates:
                if index is not None and name != "__init__" and name not in NOT_ERROR_CODES:
                    helpers[(name, relative if name.startswith("_") else None)] = index
    return helpers


def _has_literal(node: ast.AST) -> bool:
    return any(isinstance(n, ast.JoinedStr)
               or (isinstance(n, ast.Constant) and isinstance(n.value, str))
               for n in ast.walk(node))


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def bare_codes(relative: str, tree: ast.AST,
               helpers: dict[tuple[str, str | None], int]) -> list[str]:
    """String literals (or f-strings) where an error code goes: ``code=``, a helper's
    ``code`` argument, a ``{"code": ...}`` entry (GraphQL error extensions)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found += [(kw.lineno, "code=") for kw in node.keywords
                      if kw.arg == "code" and _has_literal(kw.value)]
            name = _called(node)
            index = helpers.get((name, None), helpers.get((name, relative))) if name else None
            if index is not None and index < len(node.args) and _has_literal(node.args[index]):
                found.append((node.lineno, f"{name}(...)"))
        elif isinstance(node, ast.Dict):
            found += [(v.lineno, "{'code': ...}") for k, v in zip(
                node.keys, node.values, strict=True) if isinstance(k, ast.Constant)
                and k.value == "code" and _has_literal(v)]
    return [f"{relative}:{line} {what}" for line, what in sorted(found)]


SAMPLE = '''
def _refuse(message, code, field="amount"): ...
class TargetRefused(Exception):
    def __init__(self, message, code): ...
def normalize_currency(code, field="currency"): ...
raise InvalidInput("bad", field=["x"], code="BARE")
raise _refuse("no", "BARE_POSITIONAL", "amount")
raise TargetRefused("no", f"ENDPOINT_{status}")
extensions = {"code": "RATE_LIMITED"}
raise InvalidState("no", code="X" if busy else CommonError.INVALID_STATE)
raise InvalidInput("fine", code=CommonError.REQUIRED)
raise _refuse("fine", RefundError.REFUND_WINDOW_CLOSED, "transactionId")
normalize_currency("CNY")
'''


def test_the_checker_finds_every_kind_of_bare_code() -> None:
    modules = [("sample.py", ast.parse(SAMPLE))]
    found = bare_codes("sample.py", modules[0][1], code_helpers(modules))
    assert found == ["sample.py:6 code=", "sample.py:7 _refuse(...)",
                     "sample.py:8 TargetRefused(...)", "sample.py:9 {'code': ...}",
                     "sample.py:10 code="]


def test_no_bare_code_strings_in_qrefund() -> None:
    modules = _modules()
    helpers = code_helpers(modules)
    # The helpers this rule was written for are found (a rename would blind it).
    assert {("_refuse", "platform/refunds/intake.py"), ("TargetRefused", None),
            ("error_response", None), ("error_body", None),
            ("_send_error", "graphql_schema/websocket.py")} <= helpers.keys(), helpers
    offenders = [o for relative, tree in modules for o in bare_codes(relative, tree, helpers)]
    assert not offenders, ("pass a member of the domain's ErrorCode catalogue (errors.py), "
                           f"not a string: {offenders}")


def test_catalogues_are_defined_only_in_errors_modules() -> None:
    misplaced = [
        f"{relative}:{node.lineno} {node.name}"
        for relative, tree in _modules() for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and not relative.endswith("errors.py")
        and any(isinstance(b, ast.Name) and b.id in ("ErrorCode", "DescribedCode")
                for b in node.bases)
    ]
    assert not misplaced, misplaced


# -- the catalogue, and the schema's copy of it ---------------------------------------------


def test_every_code_reads_as_its_name_and_has_a_one_line_meaning() -> None:
    for enum in (*_import_every_catalogue(), RequestError):
        assert issubclass(enum, DescribedCode)
        for code in enum:
            assert code.name == code.value, f"{enum.__name__}.{code.name} = {code.value!r}"
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", code.value), code.value
            meaning = code.description.strip()
            assert meaning and "\n" not in meaning and meaning.endswith((".", ")")), (
                f"{enum.__name__}.{code.name}: describe it in one line for client developers")


def test_a_user_error_code_is_declared_once() -> None:
    declared = Counter(code.value for enum in _import_every_catalogue() for code in enum)
    twice = sorted(value for value, n in declared.items() if n > 1)
    assert not twice, f"codes several domains share live once, in CommonError: {twice}"


def test_every_catalogue_is_imported_where_the_schema_enum_is_built() -> None:
    assert _import_every_catalogue() == set(CATALOGUES), (
        "import the new catalogue in qrefund/graphql_schema/errors.py (CATALOGUES)")


def test_the_schema_documents_exactly_the_catalogue() -> None:
    schema = graphql.build_schema(SDL_PATH.read_text())
    enum = schema.type_map["UserErrorCode"]
    assert isinstance(enum, graphql.GraphQLEnumType)
    assert {name: value.description for name, value in enum.values.items()} == (
        _user_error_codes())
    user_error = schema.type_map["UserError"]
    assert isinstance(user_error, graphql.GraphQLObjectType)
    code = user_error.fields["code"]
    assert str(code.type) == "String!", "UserError.code stays String! (clients rely on it)"
    assert code.description and "UserErrorCode" in code.description


# -- end to end: user errors still carry the same codes -------------------------------------


def _documented() -> set[str]:
    enum = graphql.build_schema(SDL_PATH.read_text()).type_map["UserErrorCode"]
    assert isinstance(enum, graphql.GraphQLEnumType)
    return set(enum.values)


async def test_a_domain_refusal_carries_its_code(client: httpx.AsyncClient,
                                                 world: World) -> None:
    first = await record_txn(client, world.key("a", "INTEGRATION"))
    errors = await record_errors(client, world.key("a", "INTEGRATION"),
                                 merchantOrderNo=first["merchantOrderNo"], amount="99.00")
    assert [e["code"] for e in errors] == ["ORDER_NO_CONFLICT"]
    assert "ORDER_NO_CONFLICT" in _documented()


async def test_an_intake_refusal_carries_its_code(client: httpx.AsyncClient, db: Database,
                                                  world: World) -> None:
    txn = await record_txn_row(db, world, status=TransactionStatus.FAILED)
    payload = await refunds_api.submit(client, world.key("a", "INTEGRATION"), txn)
    assert refunds_api.error_code(payload) == "TRANSACTION_NOT_REFUNDABLE"
    assert "TRANSACTION_NOT_REFUNDABLE" in _documented()


async def test_webhook_refusals_carry_their_codes(client: httpx.AsyncClient,
                                                  world: World) -> None:
    refused = await create_endpoint(client, world.key("a"), "ftp://127.0.0.1:9/hooks")
    assert codes(refused) == ["INVALID_URL"]
    endpoint_id, _ = await created(client, world.key("a"), "http://127.0.0.1:9/hooks")
    await call(client, DISABLE, world.key("a"), id=endpoint_id)
    twice = await call(client, DISABLE, world.key("a"), id=endpoint_id)
    assert codes(twice) == ["ENDPOINT_DISABLED"]
    assert {"INVALID_URL", "ENDPOINT_DISABLED"} <= _documented()


async def test_query_and_edge_errors_carry_their_codes(client: httpx.AsyncClient,
                                                       world: World) -> None:
    body = await gql(client, "{ transactions(first: 0) { edges { cursor } } }",
                     key=world.key("a"))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_PAGE_SIZE"], body
    anonymous = await gql(client, "{ transactions { edges { cursor } } }", expect_status=401)
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert "INVALID_PAGE_SIZE" in _documented()
