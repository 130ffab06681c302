"""Digest tests run on the notification tests' real SMTP server, job runtime and
webhook receiver."""

from tests.notifications.conftest import jobs, receiver, smtp

__all__ = ["jobs", "receiver", "smtp"]
