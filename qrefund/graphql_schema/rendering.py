"""Objects whose JSON PostgreSQL builds: the selection compiled into a render tree.

A list resolver whose items are read-only rows asks :func:`compile_items` for the
selection below it (``edges { node { ... } }``). When every field there has a
*recipe* (a plain column, a money amount, an instant, a global id, a nested object of
such fields), the result is a :class:`~qrefund.platform.json_render.Obj` that the
repository turns into one JSON expression of the page's statement; the resolver hands
each row's object to the executor as :class:`Rendered`, which it returns as it is
(``FastPathExecutionContext.complete_value``). When any field has no recipe (a
resolver, arguments, a directive other than ``@skip``/``@include``, ``@defer``, an
enum whose stored values are not its names), the answer is None and the list resolves
through the types as always.

A recipe says what the type's ``of()`` copies from the row; the recipes sit next to
their types. ``tests/refunds/test_rendered_pages.py`` generates documents over every
recipe (aliases, fragments, ``@skip``/``@include``, ``__typename``) and compares the
rendered responses with the stock executor's, in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FieldDetailsList,
    FragmentDetails,
    collect_subfields,
)
from graphql.execution.values import VariableValues

from qrefund.graphql_schema.plans import kept
from qrefund.platform import json_render as jr

_KEPT_DIRECTIVES = frozenset({"skip", "include"})
T = TypeVar("T")


class Rendered(dict[str, Any]):
    """An object completed by PostgreSQL: the executor returns it as it is."""


class RenderedList(list[Any]):
    """A list of completed objects (a rendered page's edges): returned as it is."""


_EDGE_FIELDS = frozenset({"cursor", "node", "__typename"})


@dataclass(frozen=True, slots=True)
class Nested:
    """A field whose value is an object of its own recipes (``present``: a column that is
    NULL exactly when the field is null)."""

    recipes: Mapping[str, Recipe]
    present: Any = None


Recipe = jr.Value | jr.Instant | jr.Amount | jr.GlobalId | Nested


@dataclass(frozen=True, slots=True)
class FieldSite:
    """Where a field sits in an operation, as much of graphql-core's resolve info as
    compiling its selection reads: for a root field answered without the executor
    (:mod:`qrefund.graphql_schema.root_fields`)."""

    schema: GraphQLSchema
    fragments: Mapping[str, Any]
    variable_values: Any
    operation: Any
    field_nodes: list[Any]


def can_render(info: Any) -> bool:
    """PostgreSQL only, and only under the fast-path executor, which returns a
    ``Rendered`` object as it is (the stock executor completes every value itself)."""
    return renders(info.context)


def renders(context: Any) -> bool:
    """:func:`can_render` for a request's context."""
    return not context.db.is_sqlite and bool(context.settings.graphql_fast_path)


def compile_object(info: Any, type_name: str,
                   recipes: Mapping[str, Recipe]) -> jr.Obj | None:
    """The render tree of the current field's value taken as a ``type_name`` (the
    object a field of an abstract type resolves to, e.g. ``node(id)``'s, whose type
    the id names), or None when some field selected for that type has no recipe."""
    return compile_object_at(info._raw_info, type_name, recipes)


def compile_object_at(raw: Any, type_name: str,
                      recipes: Mapping[str, Recipe]) -> jr.Obj | None:
    """:func:`compile_object` for a field's resolve info or :class:`FieldSite`."""

    def build() -> jr.Obj | None:
        parent = raw.schema.get_type(type_name)
        if not isinstance(parent, GraphQLObjectType):
            return None
        return _Compiler.of(raw).obj(parent, _details(raw), recipes, None)

    return kept(raw, ("object", type_name, id(recipes)), build)


def compile_items(info: Any, path: tuple[str, ...],
                  recipes: Mapping[str, Recipe]) -> jr.Obj | None:
    """The render tree of the objects at ``path`` below the current field (e.g.
    ``("edges", "node")``), or None when some field selected there has no recipe."""
    raw = info._raw_info

    def build() -> jr.Obj | None:
        compiler = _Compiler.of(raw)
        found = _walk(compiler, raw, path)
        return None if found is None else compiler.obj(*found, recipes, None)

    return kept(raw, ("items", path, id(recipes)), build)


def compile_edges(info: Any) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """What the current connection field's edges show, when it is only ``cursor``,
    ``node`` and ``__typename`` (then a rendered page hands its edges over as a
    :class:`RenderedList`): the edge type's name, and each response key with the field
    it names; else None."""
    raw = info._raw_info

    def build() -> tuple[str, tuple[tuple[str, str], ...]] | None:
        compiler = _Compiler.of(raw)
        found = _walk(compiler, raw, ("edges",))
        if found is None:
            return None
        edge, details = found
        children = compiler.children(edge, details)
        if children is None:
            return None
        keys = tuple((key, group[0].node.name.value) for key, group in children.items())
        if any(name not in _EDGE_FIELDS for _key, name in keys):
            return None
        return edge.name, keys

    return kept(raw, ("edges",), build)




def _walk(compiler: _Compiler, raw: Any, path: tuple[str, ...]
          ) -> tuple[GraphQLObjectType, FieldDetailsList] | None:
    """The object type at ``path`` below the current field and its field nodes (merged
    from every place the document asks for it), or None when it is not one object
    asked for under one response key."""
    details = _details(raw)
    parent = get_named_type(raw.return_type)
    for name in path:
        if not isinstance(parent, GraphQLObjectType):
            return None
        found = compiler.children(parent, details)
        if found is None:
            return None
        matching = [(key, d) for key, d in found.items() if d[0].node.name.value == name]
        if len(matching) != 1:  # absent, or asked twice under two aliases
            return None
        details = matching[0][1]
        field = parent.fields.get(name)
        parent = get_named_type(field.type) if field is not None else None
    if not isinstance(parent, GraphQLObjectType):
        return None
    return parent, details


def _details(raw: Any) -> FieldDetailsList:
    return [FieldDetails(node, None) for node in raw.field_nodes]


class _Compiler:
    @classmethod
    def of(cls, raw: Any) -> _Compiler:
        """The compiler for a field's ``GraphQLResolveInfo``."""
        return cls(raw.schema, raw.fragments, raw.variable_values, raw.operation)

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, Any],
                 variables: Any, operation: Any) -> None:
        self.schema = schema
        self.fragments = {name: f if isinstance(f, FragmentDetails) else FragmentDetails(f)
                          for name, f in fragments.items()}
        # Resolvers see the coerced values; field collection wants them with their
        # sources, which only matter for fragment variables (not used here).
        self.variables = (variables if isinstance(variables, VariableValues)
                          else VariableValues({}, dict(variables)))
        self.operation = operation

    def children(self, parent: GraphQLObjectType,
                 details: FieldDetailsList) -> Mapping[str, FieldDetailsList] | None:
        collected = collect_subfields(self.schema, self.fragments,  # type: ignore[arg-type]
                                      self.variables, self.operation, parent, details)
        if collected.new_defer_usages:
            return None
        for group in collected.grouped_field_set.values():
            for fd in group:
                if fd.node.arguments or any(d.name.value not in _KEPT_DIRECTIVES
                                            for d in fd.node.directives or ()):
                    return None
        return collected.grouped_field_set

    def obj(self, parent: GraphQLObjectType, details: FieldDetailsList,
            recipes: Mapping[str, Recipe], present: Any) -> jr.Obj | None:
        found = self.children(parent, details)
        if found is None:
            return None
        parts: list[tuple[str, jr.Render]] = []
        for key, group in found.items():
            part = self.part(parent, group, recipes)
            if part is None:
                return None
            parts.append((key, part))
        if len(parts) > jr.MAX_PARTS:
            return None
        return jr.Obj(tuple(parts), present)

    def part(self, parent: GraphQLObjectType, group: FieldDetailsList,
             recipes: Mapping[str, Recipe]) -> jr.Render | None:
        name = group[0].node.name.value
        if name == "__typename":
            return jr.Literal(parent.name)
        recipe, field = recipes.get(name), parent.fields.get(name)
        if recipe is None or field is None:
            return None
        named = get_named_type(field.type)
        if isinstance(recipe, Nested):
            if not isinstance(named, GraphQLObjectType) or (
                    recipe.present is not None and isinstance(field.type, GraphQLNonNull)):
                return None  # a non-null field the row may lack: the stock error path
            return self.obj(named, group, recipe.recipes, recipe.present)
        if isinstance(named, GraphQLEnumType) and not _names_are_values(named):
            return None
        return recipe


def _names_are_values(enum: GraphQLEnumType) -> bool:
    """Whether the enum's stored values are its names (then the column is the answer)."""
    return all(getattr(v.value, "value", v.value) == name for name, v in enum.values.items())


def money(minor: Any, currency: Any, *, nullable: bool = False) -> Nested:
    """The recipe of a ``Money`` field: ``MoneyType.of(minor, currency)``."""
    return Nested({"amount": jr.Amount(minor, currency), "currency": jr.Value(currency)},
                  minor if nullable else None)

