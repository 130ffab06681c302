"""Plain fields completed without graphql-core's per-field machinery.

A 50-case page has about 1,750 fields. graphql-core runs each through the same steps:
a ``Path`` and a ``GraphQLResolveInfo`` built for it, the resolver called through
Strawberry's wrapper, two awaitable checks, ``complete_value``'s type dispatch and, for
an object, ``complete_object_value`` and the sub-selection's own loop. Most of those
fields are *plain*: Strawberry's basic fields (no resolver, no permission classes, no
field extensions: the value is ``getattr(source, python_name)``) without arguments,
whose type is a scalar, an enum, an object type, or a list of an object type.

This execution context compiles each collected selection set once per request into a
list of steps (``_Step``), one per response key, and runs it in one loop:

* a plain **leaf** is read and coerced, with no ``Path`` and no ``info``;
* a plain **object** or **list of objects** is read, checked (``is_type_of``, no
  ``None`` where the type forbids it, no awaitable or exception in it) and its
  sub-selection completed by this same loop, with the paths, error handling and null
  propagation graphql-core would apply (``handle_field_error`` on the field's type,
  then on the item type);
* every other field (a resolver, arguments, an abstract type, a directive other than
  ``@skip``/``@include``) goes through graphql-core's own ``execute_field``.

A plain value that is out of the ordinary (``None`` for a non-null field, an exception
or an awaitable as a value, a failed coercion or ``is_type_of``) is *not* handled here:
the field is handed, before anything of its subtree ran, to the stock ``execute_field``,
which reads the attribute again and does exactly what it always did (the error, its
path, null propagation). ``tests/foundation/test_fast_path.py`` runs a generated set of
documents through this context and the stock one and compares the responses in full.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from qrefund.graphql_schema.loaders import BATCH_ATTRIBUTE
from qrefund.graphql_schema.rendering import Rendered, RenderedList

# Values that are never awaitable nor exceptions: their checks are skipped.
_PLAIN_TYPES = frozenset({str, int, float, bool})
_LEAF, _OBJECT, _LIST, _BATCH, _STOCK = range(5)
_MISSING = object()
_PREFETCH_DEPTH = 3  # how far below a list's items its batched relations are looked for
_KEPT_DIRECTIVES = frozenset({"skip", "include"})
_STR_AS_IS = (serialize_string, serialize_id)  # already applied by field collection
_STRAWBERRY_FIELD = "strawberry-definition"


@dataclass(frozen=True, slots=True)
class _Step:
    """How to complete one response key of a selection set."""

    name: str
    kind: int
    details: FieldDetailsList
    attr: str = ""
    return_type: GraphQLOutputType | None = None
    non_null: bool = False
    coerce: Callable[[Any], Any] | None = None  # leaves
    str_as_is: bool = False  # a String or ID leaf: graphql-core returns a str unchanged
    object_type: GraphQLObjectType | None = None  # objects and list items
    item_type: GraphQLOutputType | None = None  # lists
    batch: tuple[Callable[[Any], Any], Callable[[Any], Any]] | None = None  # by_loader


def _plain_attribute(field_def: Any) -> str | None:
    """The attribute a basic Strawberry field reads, or None for any other field."""
    definition = field_def.extensions.get(_STRAWBERRY_FIELD)
    resolve = field_def.resolve
    if (definition is None or field_def.args or not definition.is_basic_field
            or definition.default_resolver is not getattr
            or getattr(resolve, "__name__", "") != "_get_basic_result"):
        return None
    return str(definition.python_name)


def _by_loader(field_def: Any) -> tuple[Any, Any] | None:
    """(loader factory, key) of a resolver made by ``loaders.by_loader`` that nothing
    else wraps (no permission classes, no field extensions), or None."""
    definition = field_def.extensions.get(_STRAWBERRY_FIELD)
    if definition is None or definition.extensions or definition.base_resolver is None:
        return None
    func = definition.base_resolver.wrapped_func
    batch = getattr(func, BATCH_ATTRIBUTE, None)
    return batch if isinstance(batch, tuple) else None


def _compile(schema: Any, parent_type: GraphQLObjectType, name: str,
             details: FieldDetailsList) -> _Step:
    node = details[0].node
    field_def = schema.get_field(parent_type, node.name.value)
    if field_def is None or any(d.name.value not in _KEPT_DIRECTIVES
                                for fd in details for d in fd.node.directives or ()):
        return _Step(name, _STOCK, details)
    return_type = field_def.type
    non_null = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if non_null else return_type
    attr = _plain_attribute(field_def)
    if attr is None:
        batch = _by_loader(field_def)
        if batch is not None and isinstance(inner, GraphQLObjectType):
            return _Step(name, _BATCH, details, "", return_type, non_null,
                         object_type=inner, batch=batch)
        return _Step(name, _STOCK, details)
    if is_leaf_type(inner):
        coerce = inner.coerce_output_value
        return _Step(name, _LEAF, details, attr, return_type, non_null, coerce=coerce,
                     str_as_is=coerce in _STR_AS_IS)
    if isinstance(inner, GraphQLObjectType):
        return _Step(name, _OBJECT, details, attr, return_type, non_null, object_type=inner)
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        item = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(item, GraphQLObjectType):
            return _Step(name, _LIST, details, attr, return_type, non_null,
                         object_type=item, item_type=item_type)
    return _Step(name, _STOCK, details)


class FastPathExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the compiled plain-field path above."""

    _plans: dict[int, tuple[GroupedFieldSet, list[_Step]]] | None = None
    # (id(step), id(source)) -> the value a by_loader field has for that source;
    # sources are the request's own objects, alive until it ends.
    _batched: dict[tuple[int, int], Any] | None = None

    def _plan(self, parent_type: GraphQLObjectType,
              grouped_field_set: GroupedFieldSet) -> list[_Step]:
        # Collected field sets are memoized per request (collect_subfields), so the 50
        # rows of a page share one; the tuple keeps it alive so its id is never reused.
        plans = self._plans
        if plans is None:
            plans = self._plans = {}
        cached = plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan = [_compile(self.schema, parent_type, name, details)
                for name, details in grouped_field_set.items()]
        plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def build_response(self, data: dict[str, Any] | None) -> Any:
        # The context is part of reference cycles (graphql-core keeps bound methods on
        # it): drop what it alone holds, or every object a request loaded would wait
        # for the cyclic GC, whose walks over it cost more than building it did.
        self._plans = self._batched = None
        self._relevant_sub_fields.clear()  # graphql-core's collect_subfields memo
        response = super().build_response(data)
        # graphql-core's async helpers hold bound methods of this context, which holds
        # them: a cycle that kept the whole request (its context, Starlette's request
        # and response, the variables, the errors) for the cyclic GC, about 50 objects
        # a request, whose young collections then took milliseconds each. Resolve
        # infos keep the helpers they were given; the execution is over.
        self.async_helpers = None  # type: ignore[assignment]
        return response

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: GroupedFieldSet,
                       position_context: Any) -> Any:
        # Strawberry passes a middleware manager on every request; it wraps resolvers
        # only when a schema extension implements ``resolve`` (then: the stock path).
        manager = self.middleware_manager
        if position_context is not None or (manager is not None and manager.middlewares):
            return super().execute_fields(parent_type, source_value, path,
                                          grouped_field_set, position_context)
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for step in self._plan(parent_type, grouped_field_set):
                kind = step.kind
                if kind == _LEAF:
                    try:
                        value = getattr(source_value, step.attr)
                    except Exception:
                        value = Undefined
                    else:
                        if type(value) is str and step.str_as_is:
                            results[step.name] = value  # String and ID return str as is
                            continue
                        value = self._leaf(step, value)
                    if value is not Undefined:
                        results[step.name] = value
                        continue
                elif kind == _OBJECT:
                    value = self._object(step, parent_type, source_value, path)
                elif kind == _LIST:
                    value = self._list(step, parent_type, source_value, path)
                elif kind == _BATCH:
                    value = self._batched_value(step, parent_type, source_value, path)
                else:
                    value = Undefined
                if value is Undefined:
                    value = self.execute_field(parent_type, source_value, step.details,
                                               Path(path, step.name, parent_type.name),
                                               position_context)
                    if value is Undefined:
                        continue
                results[step.name] = value
                if is_awaitable(value):
                    pending.append(step.name)
        except Exception:
            if pending:  # settle what other fields started: they may fail too
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results
        return self._gather_fields(results, pending)

    async def _gather_fields(self, results: dict[str, Any],
                             pending: list[str]) -> dict[str, Any]:
        if len(pending) == 1:
            results[pending[0]] = await results[pending[0]]
        else:
            done = await gather_with_cancel(*(results[name] for name in pending))
            results.update(zip(pending, done, strict=True))
        return results

    def _leaf(self, step: _Step, value: Any) -> Any:
        """A leaf's completed value, or ``Undefined`` for "let the stock path do it"."""
        if value is None:
            return Undefined if step.non_null else None
        if type(value) not in _PLAIN_TYPES and (isinstance(value, Exception)
                                                or self.is_awaitable(value)):
            return Undefined
        try:
            coerced = step.coerce(value)  # type: ignore[misc]
        except Exception:
            return Undefined
        if coerced is None or coerced is Undefined:
            return Undefined  # the stock path raises its TypeError for this field
        return coerced

    def _read_object(self, step: _Step, source: Any) -> Any:
        """The attribute of an object or list field, None for a null one, or
        ``Undefined`` when it is not plain enough to complete here."""
        try:
            value = getattr(source, step.attr)
        except Exception:
            return Undefined
        if value is None:
            return Undefined if step.non_null else None
        if isinstance(value, Exception) or self.is_awaitable(value):
            return Undefined
        return value

    def _is_object(self, object_type: GraphQLObjectType, value: Any) -> bool:
        if object_type.is_type_of is None:
            return True
        try:  # Strawberry's is_type_of is an isinstance check that never reads info
            return object_type.is_type_of(value, None) is True  # type: ignore[arg-type]
        except Exception:
            return False

    def complete_value(self, return_type: GraphQLOutputType,
                       field_details_list: FieldDetailsList, info: Any, path: Path,
                       result: Any, position_context: Any) -> Any:
        if type(result) is Rendered or type(result) is RenderedList:
            return result  # completed by PostgreSQL (graphql_schema.rendering)
        return super().complete_value(return_type, field_details_list, info, path, result,
                                      position_context)

    def _object(self, step: _Step, parent_type: GraphQLObjectType, source: Any,
                path: Path | None) -> Any:
        value = self._read_object(step, source)
        if value is None or value is Undefined or type(value) is Rendered:
            return value
        return self._complete_object(step, parent_type, value, path)

    def _batched_value(self, step: _Step, parent_type: GraphQLObjectType, source: Any,
                       path: Path | None) -> Any:
        """A by_loader field whose value a list prefetched; without one: stock."""
        batched = self._batched
        value = batched.get((id(step), id(source)), _MISSING) if batched else _MISSING
        if value is _MISSING or isinstance(value, Exception):
            return Undefined
        if value is None:
            return Undefined if step.non_null else None
        return self._complete_object(step, parent_type, value, path)

    def _complete_object(self, step: _Step, parent_type: GraphQLObjectType, value: Any,
                         path: Path | None) -> Any:
        object_type = step.object_type
        assert object_type is not None
        if not self._is_object(object_type, value):
            return Undefined
        grouped, defer_usages, _ = self.collect_subfields(object_type, step.details)
        if defer_usages:
            return Undefined
        field_path = Path(path, step.name, parent_type.name)
        return self._subtree(object_type, value, field_path, grouped, step.return_type,
                             step.details)

    def _list(self, step: _Step, parent_type: GraphQLObjectType, source: Any,
              path: Path | None) -> Any:
        items = self._read_object(step, source)
        if items is None or items is Undefined or type(items) is RenderedList:
            return items
        object_type = step.object_type
        assert object_type is not None
        if not isinstance(items, list | tuple):
            return Undefined
        item_non_null = isinstance(step.item_type, GraphQLNonNull)
        for item in items:  # all checked before any item's subtree runs
            if item is None:
                if item_non_null:
                    return Undefined
            elif (isinstance(item, Exception) or self.is_awaitable(item)
                  or not self._is_object(object_type, item)):
                return Undefined
        grouped, defer_usages, _ = self.collect_subfields(object_type, step.details)
        if defer_usages:
            return Undefined
        field_path = Path(path, step.name, parent_type.name)
        targets = self._batch_targets(object_type, step.details, items, _PREFETCH_DEPTH)
        if targets:
            return self._prefetch_then_items(targets, step, items, field_path, grouped)
        return self._items(step, items, field_path, grouped)

    def _items(self, step: _Step, items: Sequence[Any], field_path: Path,
               grouped: GroupedFieldSet) -> Any:
        """Complete each item as graphql-core's ``complete_iterable_value`` would."""
        completed: list[Any] = []
        pending: list[int] = []
        try:
            for index, item in enumerate(items):
                if item is None:
                    completed.append(None)
                    continue
                value = self._subtree(step.object_type, item,  # type: ignore[arg-type]
                                      field_path.add_key(index, None), grouped,
                                      step.item_type, step.details)
                completed.append(value)
                if self.is_awaitable(value):
                    pending.append(index)
        except Exception as error:
            if pending:
                self.settle_in_background([completed[index] for index in pending])
            self.handle_field_error(error, step.return_type,  # type: ignore[arg-type]
                                    step.details, field_path)
            return None
        if not pending:
            return completed
        return self._gather_items(step, completed, pending, field_path)

    async def _gather_items(self, step: _Step, completed: list[Any], pending: list[int],
                            field_path: Path) -> list[Any] | None:
        try:
            if len(pending) == 1:
                completed[pending[0]] = await completed[pending[0]]
            else:
                done = await gather_with_cancel(*(completed[index] for index in pending))
                for index, value in zip(pending, done, strict=True):
                    completed[index] = value
        except Exception as error:
            self.handle_field_error(error, step.return_type,  # type: ignore[arg-type]
                                    step.details, field_path)
            return None
        return completed

    def _subtree(self, object_type: GraphQLObjectType, value: Any, path: Path,
                 grouped: GroupedFieldSet, error_type: Any,
                 details: FieldDetailsList) -> Any:
        """An object's sub-selection, its errors handled against ``error_type`` (the
        field's type, or the item type in a list) as ``execute_field`` would."""
        try:
            completed = self.execute_fields(object_type, value, path, grouped, None)
        except Exception as error:
            self.handle_field_error(error, error_type, details, path)
            return None
        if self.is_awaitable(completed):
            return self._guarded(completed, error_type, details, path)
        return completed

    async def _guarded(self, completed: Awaitable[Any], error_type: Any,
                       details: FieldDetailsList, path: Path) -> Any:
        try:
            return await completed
        except Exception as error:
            self.handle_field_error(error, error_type, details, path)
            return None

    def _batch_targets(self, object_type: GraphQLObjectType, details: FieldDetailsList,
                       sources: Sequence[Any], depth: int) -> list[tuple[_Step, list[Any]]]:
        """The by_loader fields the items of a list (or plain objects below them, down
        to ``depth``) will ask for, each with the objects that will ask."""
        grouped, defer_usages, _ = self.collect_subfields(object_type, details)
        if defer_usages:
            return []
        targets: list[tuple[_Step, list[Any]]] = []
        for step in self._plan(object_type, grouped):
            if step.kind == _BATCH:
                targets.append((step, [s for s in sources if s is not None]))
            elif step.kind == _OBJECT and depth > 0 and step.object_type is not None:
                children = [getattr(s, step.attr, None) for s in sources if s is not None]
                targets += self._batch_targets(step.object_type, step.details,
                                               [c for c in children if c is not None],
                                               depth - 1)
        return [(step, objects) for step, objects in targets if objects]

    async def _prefetch_then_items(self, targets: list[tuple[_Step, list[Any]]],
                                   step: _Step, items: Sequence[Any], field_path: Path,
                                   grouped: GroupedFieldSet) -> Any:
        """Ask each by_loader field's loader for every object at once (the loaders
        batch them into their usual statements), then complete the items. A loader
        that fails leaves its objects to the stock path, which meets the same failure
        field by field."""
        batched = self._batched
        if batched is None:
            batched = self._batched = {}
        asked = []
        for target, objects in targets:
            loader, key = target.batch  # type: ignore[misc]
            try:
                asked.append((target, objects, loader(self.context_value).load_many(
                    [key(o) for o in objects])))
            except Exception:
                continue
        for target, objects, values in asked:
            try:
                found = await values
            except Exception:
                continue
            for obj, value in zip(objects, found, strict=True):
                batched[(id(target), id(obj))] = value
        completed = self._items(step, items, field_path, grouped)
        if self.is_awaitable(completed):
            return await completed
        return completed
