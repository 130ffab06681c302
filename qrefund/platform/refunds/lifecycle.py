"""The refund case state machine: one explicit table (the README's diagram).

Every status change in the code goes through :func:`next_status`; a move the
table does not list raises :class:`InvalidState` (``INVALID_STATE``).
"""

from __future__ import annotations

from enum import StrEnum

from qrefund.platform.errors import InvalidState
from qrefund.platform.vocabulary import RefundCaseStatus as S


class Action(StrEnum):
    START_REVIEW = "start_review"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    CANCEL = "cancel"
    BEGIN_PAYOUT = "begin_payout"
    COMPLETE_PAYOUT = "complete_payout"
    FAIL_PAYOUT = "fail_payout"
    EXTEND_DEADLINE = "extend_deadline"


# (action, from) -> to. EXTEND_DEADLINE keeps the status: it is allowed wherever a
# deadline is running or paused.
TRANSITIONS: dict[tuple[Action, S], S] = {
    (Action.START_REVIEW, S.SUBMITTED): S.UNDER_REVIEW,
    (Action.APPROVE, S.UNDER_REVIEW): S.APPROVED,
    (Action.REJECT, S.UNDER_REVIEW): S.REJECTED,
    (Action.REJECT, S.AWAITING_INFO): S.REJECTED,
    (Action.REQUEST_INFO, S.UNDER_REVIEW): S.AWAITING_INFO,
    (Action.PROVIDE_INFO, S.AWAITING_INFO): S.UNDER_REVIEW,
    (Action.CANCEL, S.SUBMITTED): S.CANCELLED,
    (Action.CANCEL, S.UNDER_REVIEW): S.CANCELLED,
    (Action.CANCEL, S.AWAITING_INFO): S.CANCELLED,
    (Action.CANCEL, S.APPROVED): S.CANCELLED,
    (Action.CANCEL, S.PAYOUT_FAILED): S.CANCELLED,
    (Action.BEGIN_PAYOUT, S.APPROVED): S.PROCESSING,
    (Action.BEGIN_PAYOUT, S.PAYOUT_FAILED): S.PROCESSING,
    (Action.COMPLETE_PAYOUT, S.PROCESSING): S.REFUNDED,
    (Action.FAIL_PAYOUT, S.PROCESSING): S.PAYOUT_FAILED,
    **{
        (Action.EXTEND_DEADLINE, s): s
        for s in (S.SUBMITTED, S.UNDER_REVIEW, S.AWAITING_INFO, S.APPROVED, S.PROCESSING,
                  S.PAYOUT_FAILED)
    },
}

TERMINAL = frozenset({S.REJECTED, S.CANCELLED, S.REFUNDED})
UNDECIDED = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.AWAITING_INFO})


def next_status(action: Action, current: S) -> S:
    try:
        return TRANSITIONS[(action, current)]
    except KeyError:
        verb = action.value.replace("_", " ")
        raise InvalidState(f"cannot {verb} a case that is {current.value}", field=["id"]) from None


def allowed_actions(current: S) -> list[Action]:
    return [action for (action, source) in TRANSITIONS if source == current]
