"""WebSocket plumbing: the pub/sub hub's Redis clients, and a socket's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qrefund.graphql_schema.context import Context
from qrefund.platform.config import Settings
from qrefund.platform.outbox.hub import Connect, Hub


def redis_connector(settings: Settings) -> Connect:
    """Asyncio Redis clients for the hub: ``QREFUND_REDIS_URL``'s server, or the embedded
    runtime's in-process one (which the relay publishes on when no URL is set)."""
    from qrefund.jobs import runtime

    url = settings.redis_url
    if url:
        from redis.asyncio import Redis

        def connect(name: str) -> Any:
            return Redis.from_url(
                url, client_name=name, socket_keepalive=True,
                socket_connect_timeout=runtime.REDIS_CONNECT_TIMEOUT,
                socket_timeout=runtime.REDIS_SOCKET_TIMEOUT,
            )

        return connect

    def embedded(name: str) -> Any:
        import fakeredis

        return fakeredis.FakeAsyncRedis(server=runtime.embedded_server(), client_name=name)

    return embedded


@dataclass(kw_only=True)
class SocketContext(Context):
    """The context of a WebSocket: what its subscriptions need beyond a request's."""

    hub: Hub
