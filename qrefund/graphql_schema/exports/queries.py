"""export(id): an export's status and progress (null when absent or out of scope)."""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.exports.types import ExportType, export_node
from qrefund.platform.errors import NotFound


@strawberry.type
class ExportQueries:
    @strawberry.field(description="An export by id: status, rowsDone/rowsTotal, downloadUrl.")
    async def export(self, info: Info, id: strawberry.ID) -> ExportType | None:
        info.context.require_scope()
        try:
            parts = ids.decode(id, "Export")
        except NotFound:
            return None
        return await export_node(info.context, parts)  # type: ignore[return-value]
