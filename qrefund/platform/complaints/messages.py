# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""What a complaint's consumer is told (zh-CN and en), one kind per ticket event.

Variables: ``merchant``, ``ticket_number``, ``message`` (a public reply's text),
``resolution`` (the resolution note), ``resolution_due``, ``reopen_days`` and
``link`` (see :func:`qrefund.platform.complaints.notifications.context`). None of
them can hold an internal note: they come from events, whose payloads never do.
"""

from __future__ import annotations

from qrefund.platform.notifications.templates import Templates

_ZH = {
    "opened.subject": "投诉已受理（{{ ticket_number }}）",
    "opened.email": (
        "您好：\n\n您对{{ merchant }}的投诉已受理。\n投诉编号：{{ ticket_number }}\n"
        "我们将在 {{ resolution_due }} 前处理完毕。"
    ),
    "opened.sms": "【{{ merchant }}】投诉{{ ticket_number }}已受理，"
                  "将在{{ resolution_due }}前处理。",
    "replied.subject": "您的投诉有新回复（{{ ticket_number }}）",
    "replied.email": (
        "您好：\n\n{{ merchant }}回复了您的投诉 {{ ticket_number }}：\n\n{{ message }}"
    ),
    "replied.sms": "【{{ merchant }}】投诉{{ ticket_number }}回复：{{ message }}",
    "info_requested.subject": "投诉需要补充信息（{{ ticket_number }}）",
    "info_requested.email": (
        "您好：\n\n{{ merchant }}处理您的投诉 {{ ticket_number }} 时需要您补充信息：\n\n"
        "{{ message }}\n\n请尽快通过页面回复，回复前处理时限暂停计算。"
    ),
    "info_requested.sms": "【{{ merchant }}】投诉{{ ticket_number }}需要补充信息：{{ message }}",
    "resolved.subject": "投诉已处理（{{ ticket_number }}）",
    "resolved.email": (
        "您好：\n\n{{ merchant }}已处理您的投诉 {{ ticket_number }}：\n\n{{ resolution }}\n\n"
        "如不满意，可在 {{ reopen_days }} 天内重新打开投诉。"
    ),
    "resolved.sms": "【{{ merchant }}】投诉{{ ticket_number }}已处理：{{ resolution }}",
    "reopened.subject": "投诉已重新打开（{{ ticket_number }}）",
    "reopened.email": (
        "您好：\n\n您的投诉 {{ ticket_number }} 已重新打开，{{ merchant }}将在 "
        "{{ resolution_due }} 前再次处理。"
    ),
    "reopened.sms": "【{{ merchant }}】投诉{{ ticket_number }}已重新打开。",
    "closed.subject": "投诉已关闭（{{ ticket_number }}）",
    "closed.email": "您好：\n\n您的投诉 {{ ticket_number }} 已关闭。感谢您的反馈。",
    "closed.sms": "【{{ merchant }}】投诉{{ ticket_number }}已关闭。",
}

_EN = {
    "opened.subject": "We received your complaint ({{ ticket_number }})",
    "opened.email": (
        "Hello,\n\nYour complaint to {{ merchant }} has been received.\n"
        "Ticket: {{ ticket_number }}\nWe will resolve it by {{ resolution_due }}."
    ),
    "opened.sms": "{{ merchant }}: complaint {{ ticket_number }} received; "
                  "resolution by {{ resolution_due }}.",
    "replied.subject": "New reply to your complaint ({{ ticket_number }})",
    "replied.email": (
        "Hello,\n\n{{ merchant }} replied to complaint {{ ticket_number }}:\n\n{{ message }}"
    ),
    "replied.sms": "{{ merchant }}: complaint {{ ticket_number }}: {{ message }}",
    "info_requested.subject": "More information needed for your complaint ({{ ticket_number }})",
    "info_requested.email": (
        "Hello,\n\n{{ merchant }} needs more information about complaint {{ ticket_number }}:"
        "\n\n{{ message }}\n\nPlease answer on the page; the clock waits for you."
    ),
    "info_requested.sms": "{{ merchant }}: complaint {{ ticket_number }} needs more "
                          "information: {{ message }}",
    "resolved.subject": "Your complaint was resolved ({{ ticket_number }})",
    "resolved.email": (
        "Hello,\n\n{{ merchant }} resolved complaint {{ ticket_number }}:\n\n{{ resolution }}"
        "\n\nNot satisfied? You can reopen it within {{ reopen_days }} days."
    ),
    "resolved.sms": "{{ merchant }}: complaint {{ ticket_number }} resolved: {{ resolution }}",
    "reopened.subject": "Your complaint was reopened ({{ ticket_number }})",
    "reopened.email": (
        "Hello,\n\nComplaint {{ ticket_number }} is open again; {{ merchant }} will resolve it "
        "by {{ resolution_due }}."
    ),
    "reopened.sms": "{{ merchant }}: complaint {{ ticket_number }} reopened.",
    "closed.subject": "Your complaint was closed ({{ ticket_number }})",
    "closed.email": "Hello,\n\nComplaint {{ ticket_number }} is closed. Thank you for telling us.",
    "closed.sms": "{{ merchant }}: complaint {{ ticket_number }} closed.",
}

_LINK = {
    "zh-CN": "{% if link %}\n\n查看进度：{{ link }}{% endif %}",
    "en": "{% if link %}\n\nFollow your complaint: {{ link }}{% endif %}",
}
_SIGNATURE = {"zh-CN": "\n\n—— {{ merchant }}", "en": "\n\n-- {{ merchant }}"}

TEMPLATES = Templates("complaint", {"zh-CN": _ZH, "en": _EN}, link=_LINK, signature=_SIGNATURE)
