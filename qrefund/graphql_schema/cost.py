"""Cost-based query limit: refuse a query that could return too many objects before
any resolver runs.

Depth, token and alias limits do not bound the rows a query asks for: 30 aliases of
a nested ``refundCases(first: 100)`` pass all three. So after validation, with the
request's variables, the operation's cost is estimated from the schema:

* a field that returns an object costs 1; scalar and enum fields are free, and so is
  introspection (``__typename``, ``__schema``, ``__type``: bounded by the schema);
* a field costs ``multiplier * (1 + the cost of its selections)``. A field with a
  ``first`` argument returns ``first`` items (its default when omitted, else
  ``QREFUND_DEFAULT_PAGE_SIZE``; never more than ``QREFUND_MAX_PAGE_SIZE``, which the
  resolvers refuse): on a connection this multiplies its ``edges``, not ``pageInfo``
  or ``totalCount``. Any other list (``RefundCase.events``, ``Transaction.refundCases``)
  is assumed to hold ``QREFUND_QUERY_COST_LIST_SIZE`` items;
* fragments and inline fragments count where they are spread, every alias counts, and
  on an interface every inline fragment counts (an upper bound).

Over ``QREFUND_MAX_QUERY_COST`` the request is refused with a ``QUERY_TOO_COMPLEX``
error and ``extensions.cost = {estimated, limit}``. What multiplies by what is
compiled once per parsed document (the parser cache hands back the same document for
the same query text) and kept in a small LRU; a request then only plugs in its
variables, and a document whose page sizes are all literals is costed once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)

from qrefund.graphql_schema.errors import ExpectedGraphQLError, RequestError
from qrefund.platform.config import Settings

log = logging.getLogger("qrefund.graphql.cost")

CACHE_SIZE = 1024
_FIELDED = (GraphQLObjectType, GraphQLInterfaceType)


@dataclass(frozen=True, slots=True)
class PageSize:
    """Where a ``first`` comes from: a variable (with its fallback), or a fixed value."""

    variable: str | None
    fixed: int | None  # the literal, the variable's default, or the argument's default


@dataclass(frozen=True, slots=True)
class FieldCost:
    page: PageSize | None  # set when the field takes ``first``
    is_list: bool
    children: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Spread:
    fragment: str


Term = FieldCost | Spread


@dataclass
class Plan:
    """One operation's cost structure; ``constant`` when no variable changes it."""

    terms: tuple[Term, ...]
    fragments: dict[str, tuple[Term, ...]]
    variables: frozenset[str]
    constant: int | None = None


@dataclass(frozen=True)
class CostModel:
    default_page_size: int
    max_page_size: int
    list_size: int
    limit: int

    @classmethod
    def of(cls, settings: Settings) -> CostModel:
        return cls(settings.default_page_size, settings.max_page_size,
                   settings.query_cost_list_size, settings.max_query_cost)


# -- compiling a document into a plan ----------------------------------------------------


class _Compiler:
    """Walks an operation with the schema's types; fragments are compiled once each."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.definitions = {d.name.value: d for d in document.definitions
                            if isinstance(d, FragmentDefinitionNode)}
        self.fragments: dict[str, tuple[Term, ...]] = {}
        self.variables: set[str] = set()
        self.var_defaults: dict[str, int | None] = {}

    def plan(self, operation: OperationDefinitionNode) -> Plan:
        for definition in operation.variable_definitions or ():
            self.var_defaults[definition.variable.name.value] = _int_literal(
                definition.default_value)
        root = self.schema.get_root_type(operation.operation)
        terms = self.selections(operation.selection_set, root) if root else ()
        return Plan(terms, self.fragments, frozenset(self.variables))

    def selections(self, selection_set: SelectionSetNode | None,
                   parent: GraphQLNamedType | None) -> tuple[Term, ...]:
        return tuple(self._terms(selection_set, parent))

    def _terms(self, selection_set: SelectionSetNode | None,
               parent: GraphQLNamedType | None) -> Iterator[Term]:
        if selection_set is None or parent is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                term = self._field(selection, parent)
                if term is not None:
                    yield term
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._terms(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in self.fragments:
                    self.fragments[name] = ()  # validation rules out cycles; this ends one
                    self.fragments[name] = self._fragment(name)
                yield Spread(name)

    def _fragment(self, name: str) -> tuple[Term, ...]:
        definition = self.definitions.get(name)
        if definition is None:
            return ()
        condition = self.schema.get_type(definition.type_condition.name.value)
        return self.selections(definition.selection_set, condition)

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> FieldCost | None:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, _FIELDED):
            return None
        definition: GraphQLField | None = parent.fields.get(name)
        if definition is None:
            return None
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return None
        page = self._page(node, definition) if "first" in definition.args else None
        return FieldCost(page=page, is_list=is_list_type(get_nullable_type(definition.type)),
                         children=self.selections(node.selection_set, named))

    def _page(self, node: FieldNode, definition: GraphQLField) -> PageSize:
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        default = definition.args["first"].default_value
        fallback = default if isinstance(default, int) else None
        if argument is None:
            return PageSize(None, fallback)
        if isinstance(argument.value, VariableNode):
            variable = argument.value.name.value
            self.variables.add(variable)
            declared = self.var_defaults.get(variable)
            return PageSize(variable, declared if declared is not None else fallback)
        return PageSize(None, _int_literal(argument.value))


def _int_literal(value: ValueNode | None) -> int | None:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if value is None or isinstance(value, NullValueNode):
        return None
    return -1  # not an integer: validation refuses it; -1 reads as "the largest page"


def compile_plan(schema: GraphQLSchema, document: DocumentNode,
                 operation_name: str | None) -> Plan | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None  # graphql-core reports the missing or ambiguous operation itself
    return _Compiler(schema, document).plan(operations[0])


# -- evaluating a plan with the request's variables -------------------------------------


@dataclass
class _Evaluation:
    model: CostModel
    plan: Plan
    variables: Mapping[str, Any]
    memo: dict[tuple[str, int | None], int] = field(default_factory=dict)

    def size(self, page: PageSize) -> int:
        value: Any = page.fixed
        if page.variable is not None and page.variable in self.variables:
            value = self.variables[page.variable]
        if value is None:
            return self.model.default_page_size
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return self.model.max_page_size  # refused later; count the worst case
        return min(value, self.model.max_page_size)

    def cost(self, terms: tuple[Term, ...], page: int | None) -> int:
        total = 0
        for term in terms:
            if isinstance(term, Spread):
                key = (term.fragment, page)
                if key not in self.memo:
                    self.memo[key] = self.cost(self.plan.fragments[term.fragment], page)
                total += self.memo[key]
                continue
            inner_page = None
            if term.page is not None:
                size = self.size(term.page)
                multiplier, inner_page = (size, None) if term.is_list else (1, size)
            elif term.is_list:
                # A connection's edges take its page size; any other list the assumed size.
                multiplier = page if page is not None else self.model.list_size
            else:
                multiplier = 1
            total += multiplier * (1 + self.cost(term.children, inner_page))
        return total


def evaluate(plan: Plan, model: CostModel, variables: Mapping[str, Any] | None) -> int:
    if plan.constant is not None:
        return plan.constant
    cost = _Evaluation(model, plan, variables or {}).cost(plan.terms, None)
    if not plan.variables:
        plan.constant = cost
    return cost


class QueryCost:
    """The estimator with its plan cache; one per schema, shared by every request."""

    def __init__(self, model: CostModel, cache_size: int = CACHE_SIZE) -> None:
        self.model = model
        self.cache_size = cache_size
        # (id(document), operation name) -> (document, plan). The document is kept so
        # that its id cannot be reused by another one while the entry lives.
        self._plans: OrderedDict[tuple[int, str | None], tuple[DocumentNode, Plan | None]] = (
            OrderedDict())

    def plan(self, schema: GraphQLSchema, document: DocumentNode,
             operation_name: str | None) -> Plan | None:
        key = (id(document), operation_name)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is document:
            self._plans.move_to_end(key)
            return cached[1]
        plan = compile_plan(schema, document, operation_name)
        self._plans[key] = (document, plan)
        if len(self._plans) > self.cache_size:
            self._plans.popitem(last=False)
        return plan

    def estimate(self, schema: GraphQLSchema, document: DocumentNode,
                 operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
        plan = self.plan(schema, document, operation_name)
        return 0 if plan is None else evaluate(plan, self.model, variables)


def over_limit(cost: QueryCost, context: Any) -> dict[str, int] | None:
    """The estimate and the limit when the operation of Strawberry's execution
    ``context`` costs more than the limit (``extensions.cost`` of the refusal), else
    None."""
    document = context.graphql_document
    if document is None:
        return None
    return refusal(cost, context.schema._schema, document, context.operation_name,
                   context.variables)


def refusal(cost: QueryCost, schema: Any, document: Any, operation_name: str | None,
            variables: Any) -> dict[str, int] | None:
    """:func:`over_limit` for a graphql-core ``schema``, a parsed ``document`` and the
    operation's name and variables."""
    estimated = cost.estimate(schema, document, operation_name, variables)
    limit = cost.model.limit
    log.debug("estimated cost %d (limit %d)", estimated, limit)
    return {"estimated": estimated, "limit": limit} if estimated > limit else None


def too_complex(refused: Mapping[str, int]) -> ExpectedGraphQLError:
    """The error that refuses an operation :func:`over_limit` found too costly (raised,
    not set as the result: that also stops a subscription)."""
    return ExpectedGraphQLError(
        f"query is too complex: its estimated cost is {refused['estimated']}, over the "
        f"limit of {refused['limit']} (page sizes multiply through nesting; ask for "
        "smaller pages, fewer aliases or fewer nested lists)",
        extensions={"code": RequestError.QUERY_TOO_COMPLEX},
    )

