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
# Values the logging machinery itself made from checked input (ids, levels, names).
_TRUSTED = frozenset({"level", "logger", "timestamp", "job_id", "tenant_id", "key_id",
                      "case_id", "ticket_id"})

# Ids are hex (UUIDs, RQ job and worker ids, "ev-<hex>-<hex>"): logs are for them.
# Generated secrets here are base64url (API keys, receipt tokens) or prefixed (whsec_).
_IDENTIFIER = re.compile(r"(?:[a-z]{1,12}[-_])?[0-9a-f]+(?:[-_][0-9a-f]+)*|"
                         r"[0-9A-F]+(?:-[0-9A-F]+)*")
# One alternation, one pass over the text (a log line pays for it: see bench/observability).
_SHAPES = re.compile("|".join((
    r"(?P<pem>-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----)",
    r"(?P<bearer>(?i:\bbearer)\s+\S+)",
    # API keys keep their public prefix (qrk_<tag>), which is what operators look up.
    r"(?P<apikey>\bqrk_[0-9a-f]{8})[^\s\"',;)]*",
    r"(?P<whsec>\bwhsec_)[A-Za-z0-9_-]+",
    r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
    # International phone numbers (+86 138 0013 8000), and any unbroken run of 7 to 19
    # digits (mainland mobiles, bank cards, payer accounts).
    r"(?P<phone>\+\d[\d\s().-]{5,18}\d)",
    r"(?P<digits>(?<![\w.-])\d{7,19}(?![\w-]))",
    r"(?P<card>(?<![\w-])\d{4}(?:[ -]\d{4}){2,4}(?![\w-]))",  # 6222 0000 1111 2222
    # IBAN-like account identifiers.
    r"(?P<iban>\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b)",
    # Long random strings (keys, tokens, signatures); UUIDs are let through below.
    r"(?P<token>(?<![\w-])[A-Za-z0-9_+/=-]{32,}(?![\w-]))",
)), re.DOTALL)
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[A-Za-z]")


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "bearer":
        return "Bearer " + REDACTED
    if kind in ("apikey", "whsec"):
        return match.group(kind) + REDACTED
    if kind == "token":
        text = match.group(0)
        if (_IDENTIFIER.fullmatch(text) or not _HAS_DIGIT.search(text)
                or not _HAS_LETTER.search(text)):
            return text
    return REDACTED


def scrub(text: str) -> str:
    """The text with every secret- or personal-looking part replaced."""
    return _SHAPES.sub(_replace, text)


def _scrub_value(name: str, value: Any) -> Any:
    if name in _TRUSTED:
        return value
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
