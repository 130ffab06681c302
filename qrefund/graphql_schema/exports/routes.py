"""``GET /exports/<signed link>``: an export's file, streamed from the export directory.

The link (from ``Export.downloadUrl``) is the credential, as an evidence link is: it
names the owner tenant and the export, expires after an hour and is checked against
the key ring. An expired, tampered or foreign link, an export of another tenant, or
one not finished answers 404, the same for each.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from qrefund.graphql_schema.exports.types import EXPORT_LINK
from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.consumer import links
from qrefund.platform.db import Database
from qrefund.platform.exports import files, service
from qrefund.platform.exports.models import ExportFormat, ExportStatus
from qrefund.tenants.auth import signed_link_scope

MEDIA = {ExportFormat.CSV.value: "text/csv; charset=utf-8",
         ExportFormat.JSONL.value: "application/x-ndjson; charset=utf-8"}


def _not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


class ExportDownloads:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    async def download(self, request: Request) -> Response:
        link = links.verify(request.path_params["link"], EXPORT_LINK, utcnow())
        if link is None:
            return _not_found()
        async with self.db.unit_of_work(signed_link_scope(link.tenant_id),
                                        readonly=True) as uow:
            found = await service.find(uow, link.tenant_id, link.object_id)
            if found is None or found.status != ExportStatus.SUCCEEDED or not found.storage_key:
                return _not_found()
            key, fmt = found.storage_key, found.format
            name = (f"{found.kind.lower().replace('_', '-')}-{found.period_from:%Y%m%d}-"
                    f"{found.period_to:%Y%m%d}.{'csv' if fmt == ExportFormat.CSV else 'jsonl'}")
        path = files.path_of(self.settings.export_dir, key)
        if not path.is_file():
            return _not_found()
        # FileResponse streams the file in chunks: memory stays flat for any size.
        return FileResponse(path, media_type=MEDIA[fmt], headers={
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
