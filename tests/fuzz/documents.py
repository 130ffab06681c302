"""Generated documents, made to show what they touch: ``id`` in every selection.

Schemathesis picks a random subset of each object's fields, so most answers would
carry no id at all and the leak check would have nothing to look at. Adding ``id``
to every selection set whose type has one makes each object in an answer say
whose it is.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    NameNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    print_ast,
    visit,
)


class _AddIds(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> SelectionSetNode | None:
        owner = self.type_info.get_parent_type()
        if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
            return None
        if "id" not in owner.fields or any(
            isinstance(s, FieldNode) and s.name.value == "id" and s.alias is None
            for s in node.selections
        ):
            return None
        id_field = FieldNode(name=NameNode(value="id"), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, id_field))


def with_ids(document: str, schema: GraphQLSchema) -> str:
    """The document with ``id`` selected wherever an object or interface has one;
    a document that does not parse (negative cases) is returned as it is."""
    try:
        tree = parse(document)
    except Exception:  # not ours to judge: the server answers it
        return document
    type_info = TypeInfo(schema)
    return print_ast(visit(tree, TypeInfoVisitor(type_info, _AddIds(type_info))))
