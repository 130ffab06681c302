"""One Redis pub/sub connection per process, fanned out in memory.

Live subscribers (GraphQL subscriptions, the key watch of open WebSockets)
register a :class:`Listener` for channels. The hub keeps a single Redis
connection subscribed to exactly the channels some local listener wants
(``SUBSCRIBE`` when a channel's first listener arrives, ``UNSUBSCRIBE`` when its
last one leaves) and hands every message to that channel's listeners. It starts
on the first subscription, reconnects with backoff when Redis drops (listeners
stay registered and are subscribed again), and closes with the application.

Pub/sub delivers at most once: what is published while the connection is down,
or before a ``SUBSCRIBE`` took effect, is gone. So the hub tells a channel's
listeners whenever that may have happened (:meth:`Listener.lost`): when it
subscribes a channel again on a new connection, and when a subscription's
confirmation came later than :meth:`Hub.subscribe` waited. Listeners that must not
miss anything catch up from the database then (:mod:`qrefund.platform.outbox.stream`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any, Protocol

log = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
CONFIRM_TIMEOUT_SECONDS = 2.0
# Idle for this long: PING; silent for three times this long: the connection is dead.
HEARTBEAT_SECONDS = 15.0
_POLL_SECONDS = 1.0


class Listener(Protocol):
    def deliver(self, channel: str, data: bytes) -> None:
        """A message; called on the hub's task, so it must not block."""

    def lost(self, channel: str) -> None:
        """Messages on ``channel`` may have been missed (reconnection, late subscription)."""


# client name -> a redis.asyncio client (or fakeredis's) that is not connected yet.
Connect = Callable[[str], Any]


def default_name() -> str:
    """The hub connection's Redis client name: ``CLIENT LIST`` shows one per process."""
    return f"qrefund-hub-{os.getpid()}"


class Hub:
    def __init__(self, connect: Connect, *, name: str | None = None,
                 confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS) -> None:
        self.name = name or default_name()
        self._connect = connect
        self._confirm_timeout = confirm_timeout
        self._listeners: dict[str, set[Listener]] = {}
        # Per channel, resolved when Redis confirms the SUBSCRIBE sent for it on the
        # current connection; a confirmation with no pending future is a re-subscription.
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._late: set[str] = set()  # confirmations nobody waits for any more
        self._client: Any = None
        self._pubsub: Any = None
        self._lock = asyncio.Lock()  # orders (UN)SUBSCRIBE commands and (re)connecting
        self._wanted = asyncio.Event()  # set while some listener wants some channel
        self._task: asyncio.Task[None] | None = None
        self._resync = False
        self._closed = False

    @property
    def channels(self) -> set[str]:
        return set(self._listeners)

    async def subscribe(self, channels: Iterable[str], listener: Listener) -> None:
        """Add ``listener`` to ``channels``; returns once Redis confirmed them (or a timeout
        passed, in which case the listener hears :meth:`Listener.lost` when they are live)."""
        if self._closed:
            raise RuntimeError("the pub/sub hub is closed")
        self._start()
        loop = asyncio.get_running_loop()
        fresh: list[str] = []
        waits: dict[asyncio.Future[None], str] = {}
        for channel in dict.fromkeys(channels):
            listeners = self._listeners.setdefault(channel, set())
            if not listeners:
                fresh.append(channel)
                self._confirmed[channel] = loop.create_future()
            listeners.add(listener)
            pending = self._confirmed.get(channel)
            if pending is not None and not pending.done():
                waits[pending] = channel
        self._wanted.set()
        if fresh:
            await self._send("subscribe", fresh)
        if waits:
            _done, late = await asyncio.wait(waits, timeout=self._confirm_timeout)
            self._late.update(waits[future] for future in late)

    async def unsubscribe(self, channels: Iterable[str], listener: Listener) -> None:
        gone: list[str] = []
        for channel in dict.fromkeys(channels):
            listeners = self._listeners.get(channel)
            if listeners is None:
                continue
            listeners.discard(listener)
            if not listeners:
                del self._listeners[channel]
                self._confirmed.pop(channel, None)
                self._late.discard(channel)
                gone.append(channel)
        if not self._listeners:
            self._wanted.clear()
        if gone and not self._closed:
            await self._send("unsubscribe", gone)

    def is_live(self, channel: str) -> bool:
        """Is ``channel`` subscribed on a connection that is up (confirmed by Redis)?"""
        future = self._confirmed.get(channel)
        return (self._pubsub is not None and future is not None and future.done()
                and channel not in self._late)

    async def publish(self, channel: str, message: str) -> None:
        """Publish on a short-lived connection of its own (a subscribed one cannot)."""
        client = self._connect(f"{self.name}-publish")
        try:
            await client.publish(channel, message)
        finally:
            await client.aclose()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self._discard()
        self._listeners.clear()
        self._confirmed.clear()

    # -- the connection ---------------------------------------------------------

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="qrefund-pubsub-hub")

    async def _send(self, command: str, channels: list[str]) -> None:
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # not connected: connecting subscribes every wanted channel
            try:
                await getattr(pubsub, command)(*channels)
            except Exception as exc:  # the connection is broken: start a new one
                log.warning("pub/sub hub: %s failed (%s); reconnecting", command, exc)
                self._resync = True

    async def _run(self) -> None:
        delay = BACKOFF_MIN_SECONDS
        while not self._closed:
            await self._wanted.wait()
            try:
                await self._open()
                delay = BACKOFF_MIN_SECONDS
                await self._pump()
            except Exception as exc:  # Redis gone, connection reset, protocol error
                log.warning("pub/sub hub lost Redis (%s); reconnecting in %.1f s", exc, delay)
            await self._discard()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)

    async def _open(self) -> None:
        async with self._lock:
            self._resync = False
            self._client = self._connect(self.name)
            self._pubsub = self._client.pubsub()
            # Channels confirmed on the old connection are re-subscriptions now: their
            # confirmations tell the listeners that messages may have been missed.
            for channel, future in list(self._confirmed.items()):
                if future.done():
                    del self._confirmed[channel]
            await self._pubsub.connect()
            if self._listeners:
                await self._pubsub.subscribe(*self._listeners)

    async def _discard(self) -> None:
        async with self._lock:
            pubsub, client = self._pubsub, self._client
            self._pubsub = self._client = None
        for closing in (pubsub, client):
            if closing is not None:
                with suppress(Exception):
                    await closing.aclose()

    async def _pump(self) -> None:
        pubsub = self._pubsub
        heard = time.monotonic()
        pinged = False
        while not self._resync:
            message = await pubsub.get_message(timeout=_POLL_SECONDS)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                self._dispatch(message)
            elif now - heard > 3 * HEARTBEAT_SECONDS:
                raise ConnectionError("no answer to PING")
            elif now - heard > HEARTBEAT_SECONDS and not pinged:
                await self._send("ping", [])
                pinged = True

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        raw = message.get("channel")
        channel = raw.decode() if isinstance(raw, bytes) else raw
        if not isinstance(channel, str):
            return  # a PONG
        if kind == "message":
            for listener in list(self._listeners.get(channel, ())):
                self._call(listener.deliver, channel, message["data"])
        elif kind == "subscribe":
            future = self._confirmed.get(channel)
            if future is not None and not future.done():
                future.set_result(None)
            if future is None or channel in self._late:
                self._late.discard(channel)
                for listener in list(self._listeners.get(channel, ())):
                    self._call(listener.lost, channel)
            if channel in self._listeners:
                self._confirmed.setdefault(channel, _done_future())

    @staticmethod
    def _call(method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except Exception:  # one broken listener must not starve the others
            log.exception("pub/sub listener failed")


def _done_future() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future
