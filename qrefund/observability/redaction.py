"""The log redaction processor: secrets and personal data never reach a log line.

Two nets, because a log call can carry a secret either way:

* by name: any event key that names a secret or a personal field (``secret``,
  ``password``, ``token``, ``phone``, ``email``, ``payer_account``, ...) has its
  value replaced, whatever the value looks like;
* by shape: every string left (the message itself, stdlib ``%s`` arguments once
  formatted, tracebacks) is scanned for API keys, webhook secrets, bearer
  tokens, PEM keys, e-mail addresses, phone numbers, account numbers and long
  random tokens.

The shapes are deliberately greedy: a wrongly hidden number costs a debugging
minute, a leaked payer account costs far more. UUIDs (the ids logs are for) are
left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

_SENSITIVE_NAMES = re.compile(
    r"secret|passw|token|authorization|api_?key|credential|private_?key|payer|account_?n|"
    r"destination|bank|phone|mobile|e_?mail|contact|cookie|otp|signature|iban",
    re.IGNORECASE,
)
# Keys the logging machinery owns: never renamed, never blanked.
_KEEP = frozenset({"event", "level", "logger", "timestamp", "request_id", "job_id",
                   "tenant_id", "key_id", "operation", "case_id", "ticket_id",
                   "enqueued_by", "exc_info", "stack_info"})

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.DOTALL), REDACTED),
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer " + REDACTED),
    # API keys keep their public prefix (qrk_<tag>), which is what operators look up.
    (re.compile(r"\b(qrk_[0-9a-f]{8})[^\s\"',;)]*"), r"\1" + REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]+"), "whsec_" + REDACTED),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), REDACTED),
    # International phone numbers (+86 138 0013 8000), mainland mobiles, and any
    # unbroken run of 7 to 19 digits (phones, bank cards, payer accounts).
    (re.compile(r"\+\d[\d\s().-]{5,18}\d"), REDACTED),
    (re.compile(r"(?<![\w.-])\d{7,19}(?![\w-])"), REDACTED),
    # IBAN-like account identifiers.
    (re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b"), REDACTED),
)
# Long random strings: keys, tokens, signatures. Checked one by one to spare UUIDs.
_LONG_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_+/=-]{32,}(?![\w-])")


def _scrub_token(match: re.Match[str]) -> str:
    text = match.group(0)
    if _UUID.fullmatch(text) or not re.search(r"\d", text) or not re.search(r"[A-Za-z]", text):
        return text
    return REDACTED


def scrub(text: str) -> str:
    """The text with every secret- or personal-looking part replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _LONG_TOKEN.sub(_scrub_token, text)


def _scrub_value(name: str, value: Any) -> Any:
    if name not in _KEEP and _SENSITIVE_NAMES.search(name):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(name, v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


def redact(_logger: Any, _method: str,
           event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: run after exceptions are formatted, before rendering."""
    return {key: _scrub_value(key, value) for key, value in event_dict.items()}
