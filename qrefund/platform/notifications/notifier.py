"""Notifier adapters: how a rendered message reaches a consumer.

* :class:`EmailNotifier` sends over SMTP (stdlib ``smtplib``/``email``) with the
  ``QREFUND_SMTP_*`` settings; with no ``QREFUND_SMTP_HOST`` the
  :class:`LoggingEmailNotifier` writes e-mails to the log instead.
* :class:`SmsNotifier` is the interface an SMS gateway adapter implements;
  :class:`LoggingSmsNotifier` (the default) writes messages to the log.
  ``QREFUND_SMS_ADAPTER=package.module:ClassName`` selects another one; the class
  is built with the :class:`Settings`.

``send`` returns the provider's message id and raises :class:`NotifierError` when
the message was not accepted.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import smtplib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from qrefund.platform.config import Settings
from qrefund.platform.ids import new_id
from qrefund.platform.notifications.models import Channel

log = logging.getLogger(__name__)


class NotifierError(Exception):
    """The message was not accepted; the text goes into the notification's error."""


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    subject: str | None
    body: str
    # Shown in logs instead of the address.
    to_masked: str = ""


class Notifier(ABC):
    channel: Channel
    provider: str

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; returns the provider's message id."""


class EmailNotifier(Notifier):
    """SMTP with STARTTLS (default), implicit TLS or none, optional login."""

    channel = Channel.EMAIL
    provider = "smtp"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("EmailNotifier needs QREFUND_SMTP_HOST")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.sender = settings.smtp_from
        self.security = settings.smtp_security
        self.timeout = settings.smtp_timeout_seconds

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "qrefund.invalid"
        email["From"] = self.sender
        email["To"] = message.to
        # Header values never carry line breaks (no header injection from data).
        email["Subject"] = " ".join((message.subject or "").split())
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=new_id().hex, domain=domain)
        email.set_content(message.body, charset="utf-8")
        return email

    def _send_sync(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(email)

    async def send(self, message: OutgoingMessage) -> str:
        email = self.build(message)
        try:
            # smtplib blocks: keep it off the event loop.
            await asyncio.to_thread(self._send_sync, email)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifierError(f"SMTP: {type(exc).__name__}: {exc}"[:500]) from exc
        return str(email["Message-ID"])


class LoggingEmailNotifier(Notifier):
    """Development default when no SMTP server is configured."""

    channel = Channel.EMAIL
    provider = "log"

    async def send(self, message: OutgoingMessage) -> str:
        message_id = f"log-{new_id().hex}"
        log.info("e-mail %s to %s: %s\n%s", message_id, message.to_masked or "(masked)",
                 message.subject, message.body)
        return message_id


class SmsNotifier(Notifier):
    """Interface of SMS gateway adapters (one ``send`` per text message).

    Adapters are built with the settings (credentials come from the environment).
    """

    channel = Channel.SMS

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings


class LoggingSmsNotifier(SmsNotifier):
    provider = "log"

    async def send(self, message: OutgoingMessage) -> str:
        message_id = f"log-{new_id().hex}"
        log.info("SMS %s to %s: %s", message_id, message.to_masked or "(masked)", message.body)
        return message_id


def _load_sms_adapter(spec: str, settings: Settings) -> SmsNotifier:
    module_name, _, class_name = spec.partition(":")
    adapter = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(adapter, type) and issubclass(adapter, SmsNotifier)):
        raise TypeError(f"QREFUND_SMS_ADAPTER {spec!r} is not a SmsNotifier")
    instance: SmsNotifier = adapter(settings)
    return instance


def notifiers_for(settings: Settings) -> dict[Channel, Notifier]:
    email: Notifier = EmailNotifier(settings) if settings.smtp_host else LoggingEmailNotifier()
    sms: Notifier = (
        _load_sms_adapter(settings.sms_adapter, settings)
        if settings.sms_adapter not in ("", "log")
        else LoggingSmsNotifier()
    )
    return {Channel.EMAIL: email, Channel.SMS: sms}
