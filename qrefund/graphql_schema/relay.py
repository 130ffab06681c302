"""Relay building blocks: the Node interface, PageInfo and cursor connections."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import strawberry

from qrefund.platform.pagination import Page

T = TypeVar("T")


@strawberry.interface(description="An object with a global ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="Total matching objects; counted only when asked for."
    )

    @classmethod
    def build(cls, page: Page[Any], nodes: list[T], total_count: int | None) -> Connection[T]:
        edges = [Edge(node=n, cursor=c) for n, c in zip(nodes, page.cursors, strict=True)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=total_count,
        )
