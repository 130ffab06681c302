# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""What a refund case's consumer is told (zh-CN and en), one kind per case event.

Variables: ``merchant``, ``case_number``, ``amount``, ``review_due``, ``new_due``,
``note`` and ``link`` (see :func:`qrefund.platform.refunds.notifications.context`).
"""

from __future__ import annotations

from qrefund.platform.notifications.templates import Templates

_ZH = {
    "submitted.subject": "退款申请已受理（{{ case_number }}）",
    "submitted.email": (
        "您好：\n\n您在{{ merchant }}的退款申请已受理。\n"
        "申请编号：{{ case_number }}\n申请金额：{{ amount }}\n"
        "商户将在 {{ review_due }} 前处理。"
    ),
    "submitted.sms": "【{{ merchant }}】退款申请{{ case_number }}已受理，金额{{ amount }}，"
                     "将在{{ review_due }}前处理。",
    "info_requested.subject": "退款申请需要补充信息（{{ case_number }}）",
    "info_requested.email": (
        "您好：\n\n{{ merchant }}处理您的退款申请 {{ case_number }} 时需要您补充信息：\n\n"
        "{{ note }}\n\n请尽快通过退款页面回复，回复前处理时限暂停计算。"
    ),
    "info_requested.sms": "【{{ merchant }}】退款申请{{ case_number }}需要补充信息：{{ note }}",
    "deadline_extended.subject": "退款处理期限已延长（{{ case_number }}）",
    "deadline_extended.email": (
        "您好：\n\n{{ merchant }}已将您的退款申请 {{ case_number }} 的处理期限延长至 "
        "{{ new_due }}。\n原因：{{ note }}"
    ),
    "deadline_extended.sms": "【{{ merchant }}】退款申请{{ case_number }}处理期限延长至"
                             "{{ new_due }}。",
    "approved.subject": "退款已同意（{{ case_number }}）",
    "approved.email": (
        "您好：\n\n{{ merchant }}已同意您的退款申请 {{ case_number }}，退款金额 {{ amount }}。"
        "\n款项将退回您的付款账户，请留意到账。"
    ),
    "approved.sms": "【{{ merchant }}】退款申请{{ case_number }}已同意，退款{{ amount }}。",
    "rejected.subject": "退款申请未获同意（{{ case_number }}）",
    "rejected.email": (
        "您好：\n\n很抱歉，{{ merchant }}未同意您的退款申请 {{ case_number }}。\n"
        "原因：{{ note }}\n\n如有疑问，可在退款页面提出投诉。"
    ),
    "rejected.sms": "【{{ merchant }}】退款申请{{ case_number }}未获同意：{{ note }}",
    "refunded.subject": "退款已到账（{{ case_number }}）",
    "refunded.email": (
        "您好：\n\n您的退款申请 {{ case_number }} 已完成，{{ amount }} 已退回您的付款账户。"
    ),
    "refunded.sms": "【{{ merchant }}】退款{{ amount }}已退回（{{ case_number }}）。",
    "payout_failed.subject": "退款支付未成功（{{ case_number }}）",
    "payout_failed.email": (
        "您好：\n\n您的退款 {{ case_number }}（{{ amount }}）支付未成功：{{ note }}\n"
        "商户将重新支付，或与您联系改用银行转账。"
    ),
    "payout_failed.sms": "【{{ merchant }}】退款{{ case_number }}支付未成功，商户将重新处理。",
}

_EN = {
    "submitted.subject": "We received your refund request ({{ case_number }})",
    "submitted.email": (
        "Hello,\n\nYour refund request to {{ merchant }} has been received.\n"
        "Case: {{ case_number }}\nAmount: {{ amount }}\n"
        "The merchant will decide by {{ review_due }}."
    ),
    "submitted.sms": "{{ merchant }}: refund request {{ case_number }} for {{ amount }} received; "
                     "decision by {{ review_due }}.",
    "info_requested.subject": "More information needed for your refund ({{ case_number }})",
    "info_requested.email": (
        "Hello,\n\n{{ merchant }} needs more information to review refund {{ case_number }}:\n\n"
        "{{ note }}\n\nPlease answer on the refund page; the review clock waits for you."
    ),
    "info_requested.sms": "{{ merchant }}: refund {{ case_number }} needs more information: "
                          "{{ note }}",
    "deadline_extended.subject": "Your refund deadline was extended ({{ case_number }})",
    "deadline_extended.email": (
        "Hello,\n\n{{ merchant }} extended the deadline of refund {{ case_number }} to "
        "{{ new_due }}.\nReason: {{ note }}"
    ),
    "deadline_extended.sms": "{{ merchant }}: refund {{ case_number }} deadline extended to "
                             "{{ new_due }}.",
    "approved.subject": "Your refund was approved ({{ case_number }})",
    "approved.email": (
        "Hello,\n\n{{ merchant }} approved refund {{ case_number }} for {{ amount }}.\n"
        "The money goes back to the account you paid with."
    ),
    "approved.sms": "{{ merchant }}: refund {{ case_number }} approved, {{ amount }}.",
    "rejected.subject": "Your refund request was declined ({{ case_number }})",
    "rejected.email": (
        "Hello,\n\nWe are sorry: {{ merchant }} declined refund request {{ case_number }}.\n"
        "Reason: {{ note }}\n\nYou can file a complaint on the refund page."
    ),
    "rejected.sms": "{{ merchant }}: refund {{ case_number }} declined: {{ note }}",
    "refunded.subject": "Your refund was paid ({{ case_number }})",
    "refunded.email": (
        "Hello,\n\nRefund {{ case_number }} is complete: {{ amount }} went back to the account "
        "you paid with."
    ),
    "refunded.sms": "{{ merchant }}: refund {{ case_number }} paid, {{ amount }}.",
    "payout_failed.subject": "Your refund payment did not go through ({{ case_number }})",
    "payout_failed.email": (
        "Hello,\n\nThe payment of refund {{ case_number }} ({{ amount }}) failed: {{ note }}\n"
        "The merchant will try again or contact you about a bank transfer."
    ),
    "payout_failed.sms": "{{ merchant }}: refund {{ case_number }} payment failed; "
                         "the merchant will retry.",
}

_LINK = {
    "zh-CN": "{% if link %}\n\n查看进度：{{ link }}{% endif %}",
    "en": "{% if link %}\n\nFollow your refund: {{ link }}{% endif %}",
}
_SIGNATURE = {"zh-CN": "\n\n—— {{ merchant }}", "en": "\n\n-- {{ merchant }}"}

TEMPLATES = Templates("refund_case", {"zh-CN": _ZH, "en": _EN}, link=_LINK, signature=_SIGNATURE)
