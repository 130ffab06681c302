"""``GET /import-reports/<signed link>``: an import's error report, streamed.

The link (from ``TransactionImport.errorReportUrl``) is the credential, as an export's
link is: it names the merchant and the import, expires after an hour and is checked
against the key ring. An expired, tampered or foreign link, another tenant's import,
or one without a report answers 404, the same for each.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from qrefund.graphql_schema.imports.types import REPORT_LINK
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.consumer import links
from qrefund.platform.db import Database
from qrefund.platform.imports import service, storage
from qrefund.tenants.auth import signed_link_scope


def _not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


class ImportReports:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    async def download(self, request: Request) -> Response:
        link = links.verify(request.path_params["link"], REPORT_LINK, utcnow())
        if link is None:
            return _not_found()
        async with self.db.unit_of_work(signed_link_scope(link.tenant_id),
                                        readonly=True) as uow:
            found = await service.find(uow, link.tenant_id, link.object_id)
            key = found.report_key if found is not None else None
        if key is None:
            return _not_found()
        path = storage.path(self.settings.export_dir, key)
        if not path.is_file():
            return _not_found()
        return FileResponse(path, media_type="text/csv; charset=utf-8", headers={
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"attachment; filename=import-{link.object_id}-errors.csv"})
