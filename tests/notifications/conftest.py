"""Fixtures for notification tests: a real SMTP server (aiosmtpd) and the job runtime."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from redis import Redis

from qrefund.platform.config import Settings
from tests.webhooks.support import Jobs, Receiver


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
async def jobs(settings: Settings, redis_conn: Redis, smtp: tuple[Mailbox, int]
               ) -> AsyncIterator[Jobs]:
    runtime_settings = settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "none",
        "smtp_from": "Refunds <refunds@qrefund.test>", "smtp_timeout_seconds": 5.0,
        "public_base_url": "https://refunds.example.com", "webhook_timeout_seconds": 2.0,
    })
    harness = Jobs(runtime_settings, redis_conn)
    yield harness
    await harness.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()
