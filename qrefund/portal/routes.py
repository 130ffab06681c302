"""The consumer pages' routes, mounted by :func:`qrefund.app.create_app`."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from qrefund.platform.config import Settings
from qrefund.platform.consumer.storage import evidence_store
from qrefund.platform.crypto import load_key_ring
from qrefund.platform.db import Database
from qrefund.platform.notifications.notifier import notifiers_for
from qrefund.platform.otp import OneTimeCodes
from qrefund.platform.ratelimit import RateLimiter
from qrefund.portal.my import MyRefunds
from qrefund.portal.pages import STATIC, Pages
from qrefund.portal.receipt import ReceiptPages
from qrefund.portal.security import apply_headers


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
    ring = load_key_ring(settings)
    my = MyRefunds(pages, db, OneTimeCodes(settings, ring), notifiers_for(settings))
    return [
        *ReceiptPages(pages, db, evidence_store(settings)).routes(),
        *my.routes(),
        Mount("/static/portal", StaticAssets(settings), name="portal-static"),
    ]
