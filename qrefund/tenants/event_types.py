"""The ``tenant.*`` and ``api_key.*`` events (platform bookkeeping, not public)."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import DATETIME, TEXT, UUID, Family, nullable, one_of

TENANT_EVENTS = Family(
    name="tenant", aggregate_type="tenant", public=False,
    description="A merchant or agency, written to its creator's (its parent's) stream.",
    events={"created": "A merchant or agency was created under the caller.",
            "suspended": "A merchant was suspended (read-only); adds `status`, `reason` and "
                         "`openCases` (CONTINUE: its open cases go on; FREEZE: they wait).",
            "reactivated": "A suspension was lifted; `frozenSince`: when its open cases "
                           "were frozen (their deadlines move on by the frozen time).",
            "closed": "A merchant was closed for good (data kept)."},
    snapshot={"kind": TEXT, "slug": TEXT},
    extra={"merchantId": UUID, "status": TEXT, "reason": nullable(TEXT),
           "openCases": nullable(one_of("CONTINUE", "FREEZE")),
           "frozenSince": nullable(DATETIME)},
)

API_KEY_EVENTS = Family(
    name="api_key", aggregate_type="api_key", public=False,
    description="An API key (never its secret).",
    events={"created": "A key was created; carries `role`, `prefix` and `merchantIds` (an "
                       "agency key restricted to those merchants; null: all).",
            "revoked": "A key was revoked; its sockets close everywhere."},
    snapshot={"prefix": TEXT},
    extra={"role": TEXT, "merchantIds": nullable({"type": "array", "items": UUID})},
)
