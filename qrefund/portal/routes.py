"""The consumer pages' routes, mounted by :func:`qrefund.app.create_app`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from qrefund.platform.config import Settings
from qrefund.platform.crypto import load_key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import NotFound
from qrefund.platform.notifications.notifier import notifiers_for
from qrefund.platform.otp import OneTimeCodes
from qrefund.platform.ratelimit import RateLimiter
from qrefund.platform.transactions import service as transactions
from qrefund.portal.my import MyRefunds
from qrefund.portal.pages import STATIC, Pages
from qrefund.portal.security import apply_headers
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import receipt_scope

TOKEN_MAX = 256


class StaticAssets(StaticFiles):
    """The stylesheet and GraphiQL's files, with the portal's headers, cached a day
    (the pages link them with a content hash in the query string)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(directory=STATIC)
        self.settings = settings

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=86400"
        return apply_headers(response, self.settings)


def portal_routes(settings: Settings, db: Database, limiter: RateLimiter) -> list[BaseRoute]:
    pages = Pages(settings, limiter)

    async def receipt(request: Request) -> Response:
        token = request.path_params["token"]
        if (refusal := await pages.refused(request, token)) is not None:
            return refusal
        scope = receipt_scope(token) if len(token) <= TOKEN_MAX else None
        if scope is None:
            return pages.not_found(request)
        try:
            async with db.unit_of_work(scope, readonly=True) as uow:
                txn = await transactions.by_receipt_token(uow, token)
                merchant = await tenants.get_tenant(uow, txn.tenant_id)
                # Rendered inside the unit: its rows expire when the read-only unit ends.
                return pages.render(request, "receipt.html", txn=txn,
                                    merchant_name=merchant.name)
        except NotFound:
            return pages.not_found(request)

    ring = load_key_ring(settings)
    my = MyRefunds(pages, db, OneTimeCodes(settings, ring), notifiers_for(settings))
    return [
        Route("/r/{token}", receipt, methods=["GET"]),
        *my.routes(),
        Mount("/static/portal", StaticAssets(settings), name="portal-static"),
    ]
