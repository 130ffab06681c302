"""JSON of read-only rows built by PostgreSQL, exactly as the API writes it.

A page of 50 cases is about 1,750 values. Built in Python, each is read from a row into
an object, then completed field by field by the GraphQL executor; built here, each is
one expression of the page's own statement, and the API receives one JSON object per
row. The shapes are described by a small tree (:data:`Render`), which the GraphQL layer
derives from a query's selection and this module turns into SQL:

* :class:`Value`: a column as it is (text, integer, boolean; JSON null for NULL);
* :class:`Instant`: a ``timestamptz`` as ``UTCDateTime`` reads it and ``isoformat()``
  writes it: UTC, microseconds only when there are any;
* :class:`Amount`: minor units as the decimal string ``Money.decimal`` gives ("12.50",
  "7" for JPY, "1.250" for KWD): exactly the currency's exponent in decimals;
* :class:`GlobalId`: ``ids.encode``: unpadded URL-safe base64 of ``Type:uuid:uuid``;
* :class:`Literal`: a constant string (``__typename``);
* :class:`Cursor`: ``pagination.encode_cursor`` of a row's sort key (an instant, ""
  when it is NULL, then an id);
* :class:`Obj`: an object of named parts, in order; NULL when its ``present`` column is.

PostgreSQL only (SQLite runs the stock path). ``tests/refunds/test_rendered_pages.py``
compares every rendered response with the stock executor's, in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from babel.numbers import list_currencies
from sqlalchemy import String, case, cast, func, literal, literal_column, null
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from qrefund.platform.money import exponent

# json_build_object takes at most 100 arguments: 50 named parts.
MAX_PARTS = 50


@dataclass(frozen=True, slots=True)
class Value:
    column: Any


@dataclass(frozen=True, slots=True)
class Instant:
    column: Any


@dataclass(frozen=True, slots=True)
class Amount:
    minor: Any
    currency: Any


@dataclass(frozen=True, slots=True)
class GlobalId:
    type_name: str
    columns: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    value: str


@dataclass(frozen=True, slots=True)
class Cursor:
    """A page's cursor: ``encode_cursor([at.isoformat() if at else "", str(ident)])``.
    Neither part ever needs escaping in JSON (an ISO instant, a UUID), so the JSON
    text is spelled directly."""

    at: Any
    ident: Any


@dataclass(frozen=True, slots=True)
class Obj:
    parts: tuple[tuple[str, Render], ...]
    present: Any = None  # a column that is NULL exactly when the object is absent


Render = Value | Instant | Amount | GlobalId | Literal | Cursor | Obj


def to_sql(render: Render) -> ColumnElement[Any]:
    """The SQL expression that yields ``render``'s JSON value (:func:`to_sql_text`)."""
    return literal_column(to_sql_text(render))


def to_sql_text(render: Render) -> str:
    """The SQL text of the expression that yields ``render``'s JSON value.

    Built and rendered to text once per shape, then used as a literal column: an
    expression of a few hundred nodes costs milliseconds to build and as much again for
    SQLAlchemy's cache key on every execution; a literal column costs neither. Its
    constants (keys, formats, currency codes) are inlined: they come from the schema and
    the code, never from a request's values (a key is a GraphQL name or alias)."""
    # The tree a document compiled is kept with it (graphql_schema.plans), so the same
    # object comes back on every request: found by identity, without walking it.
    same = _by_tree.get(id(render))
    if same is not None and same[1] is render:
        return same[0]
    key = _shape(render)
    found = _rendered.get(key)
    if found is None:
        if len(_rendered) >= _SHAPES:
            _rendered.clear()
        text = str(_expression(render).compile(dialect=postgresql.dialect(),
                                               compile_kwargs={"literal_binds": True}))
        # The tree stays with its text: the leaves its key names by id stay alive.
        found = _rendered[key] = (text, render)
    if len(_by_tree) >= _SHAPES:
        _by_tree.clear()
    _by_tree[id(render)] = (found[0], render)  # holds the tree: its id is not reused
    return found[0]


# Shapes seen: one per (document, @skip/@include outcome) a client sends; bounded so a
# stream of distinct documents can't grow it without end.
_SHAPES = 512
_rendered: dict[Any, tuple[str, Render]] = {}
_by_tree: dict[int, tuple[str, Render]] = {}


def _shape(render: Render) -> Any:
    """A hashable key of a tree: its objects and literals by value, its recipe leaves by
    identity (the cache keeps the tree, so those ids are never reused while it holds
    them)."""
    if isinstance(render, Obj):
        return ("obj", id(render.present),
                tuple((key, _shape(part)) for key, part in render.parts))
    if isinstance(render, Literal):
        return ("literal", render.value)
    return id(render)


def _expression(render: Render) -> ColumnElement[Any]:
    if isinstance(render, Value):
        return render.column  # type: ignore[no-any-return]
    if isinstance(render, Instant):
        return _instant(render.column)
    if isinstance(render, Amount):
        return _amount(render.minor, render.currency)
    if isinstance(render, GlobalId):
        return _global_id(render.type_name, render.columns)
    if isinstance(render, Literal):
        return literal(render.value, String)
    if isinstance(render, Cursor):
        return _cursor(render.at, render.ident)
    if len(render.parts) > MAX_PARTS:
        raise ValueError(f"an object of more than {MAX_PARTS} parts")
    built = func.json_build_object(
        *[arg for key, part in render.parts
          for arg in (literal(key, String), _expression(part))])
    if render.present is None:
        return built  # type: ignore[no-any-return]
    return case((render.present.is_(None), null()), else_=built)


def _instant(column: Any) -> ColumnElement[Any]:
    # UTCDateTime gives aware UTC datetimes, whose isoformat() is
    # "2026-11-30T22:31:28.123456+00:00", without ".ffffff" when it is 0: one to_char
    # (the date part can't hold ".000000+", so the replace touches only the fraction).
    formatted = func.to_char(func.timezone("UTC", column),
                             'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    return func.replace(formatted, ".000000+", "+")  # type: ignore[no-any-return]


def _amount(minor: Any, currency: Any) -> ColumnElement[Any]:
    # An integer times 0.01 is a numeric of exactly two decimals ("12.50", "0.05"):
    # Money.decimal's digits, for each exponent a currency has.
    def scaled(places: int) -> Any:
        return cast(minor if places == 0 else minor * literal_column(f"0.{'0' * (places - 1)}1"),
                    String)
    # Membership as one strpos in ",JPY,KRW,...,": cheaper per row than = ANY(array).
    needle = literal(",", String).op("||")(currency).op("||")(literal(",", String))
    return case(*[(func.strpos(f",{','.join(codes)},", needle) > 0, scaled(places))
                  for places, codes in _odd_exponents()], else_=scaled(2))


@cache
def _odd_exponents() -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The currencies whose minor unit is not a hundredth, by exponent (JPY 0, KWD 3)."""
    odd: dict[int, list[str]] = {}
    for code in sorted(list_currencies()):
        if (places := exponent(code)) != 2:
            odd.setdefault(places, []).append(code)
    return tuple((places, tuple(codes)) for places, codes in sorted(odd.items()))


def _global_id(type_name: str, columns: tuple[Any, ...]) -> ColumnElement[Any]:
    return _base64url(func.concat_ws(":", literal(type_name, String),
                                     *[cast(c, String) for c in columns]))


def _cursor(at: Any, ident: Any) -> ColumnElement[Any]:
    # json.dumps(["<instant or empty>", "<uuid>"]): '["', the parts joined by '", "', '"]'.
    text = func.concat('["', func.coalesce(_instant(at), ""), '", "', cast(ident, String),
                       '"]')
    return _base64url(text)


def _base64url(raw: Any) -> ColumnElement[Any]:
    """Unpadded URL-safe base64 of a text's UTF-8 bytes."""
    b64 = func.encode(func.convert_to(raw, "UTF8"), "base64")
    # encode() breaks lines every 76 characters; three replaces (newline, then the
    # URL-safe alphabet) cost half what one translate() does.
    for plain, safe in (("\n", ""), ("+", "-"), ("/", "_")):
        b64 = func.replace(b64, plain, safe)
    return func.rtrim(b64, "=")  # type: ignore[no-any-return]
