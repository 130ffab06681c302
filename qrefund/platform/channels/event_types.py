"""The ``payment_channel_account.*`` events (platform bookkeeping, not public): what
changed on an account, never a secret."""

from __future__ import annotations

from qrefund.platform.outbox.catalogue import BOOL, TEXT, UUID, Family, nullable

PAYMENT_CHANNEL_ACCOUNT_EVENTS = Family(
    name="payment_channel_account", aggregate_type="payment_channel_account", public=False,
    description="A merchant's WeChat Pay or Alipay credentials (names of fields changed only).",
    events={"created": "An account was created.",
            "rotated": "Credentials were replaced; `fields` names which.",
            "enabled": "The account was enabled.",
            "disabled": "The account was disabled: payouts fall back as routing says.",
            "tested": "A test call was made; adds `ok`.",
            "merchant_linked": "One of the agency's merchants was linked to this "
                               "service-provider account; adds `merchantId`, `linkId` and "
                               "`linkSubMerchantRef` (WeChat Pay), never the app auth token.",
            "merchant_unlinked": "A merchant's link was ended: new refunds stop using the "
                                 "account; adds `merchantId` and `linkId`."},
    snapshot={"accountId": UUID, "fields": {"type": "array", "items": TEXT}, "channel": TEXT,
              "status": TEXT, "mode": TEXT, "merchantRef": TEXT,
              "subMerchantRef": nullable(TEXT), "keySerial": nullable(TEXT),
              "providerKeyId": nullable(TEXT)},
    extra={"ok": BOOL, "merchantId": UUID, "linkId": UUID,
           "linkSubMerchantRef": nullable(TEXT)},
)
