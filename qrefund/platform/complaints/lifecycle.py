"""The complaint ticket state machine: one explicit table.

Every status change goes through :func:`next_status`; a move the table does not
list raises :class:`InvalidState` (``INVALID_STATE``). Steps that keep the status
(an assignment, a note, a rating) are listed too, so the table also says in which
states they are allowed.

    OPEN -> IN_PROGRESS -> WAITING_CUSTOMER -> IN_PROGRESS
    OPEN | IN_PROGRESS | WAITING_CUSTOMER -> RESOLVED -> CLOSED
    RESOLVED -> (reopen, within the policy's window) -> IN_PROGRESS
"""

from __future__ import annotations

from enum import StrEnum

from qrefund.platform.complaints.vocabulary import ComplaintStatus as S
from qrefund.platform.errors import InvalidState


class Action(StrEnum):
    ASSIGN_AGENT = "assign_agent"  # a named agent takes it: work starts
    ASSIGN_TEAM = "assign_team"  # it waits in a team's queue
    REPLY = "reply"  # a staff reply the consumer sees
    NOTE = "note"  # an internal note
    REQUEST_INFO = "request_info"  # a staff reply asking the consumer for more
    CONSUMER_REPLY = "consumer_reply"
    SET_PRIORITY = "set_priority"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    RATE = "rate"


ACTIVE = frozenset({S.OPEN, S.IN_PROGRESS, S.WAITING_CUSTOMER})
WRITABLE = ACTIVE | {S.RESOLVED}  # a CLOSED ticket takes no message


def _keep(action: Action, states: frozenset[S]) -> dict[tuple[Action, S], S]:
    return {(action, s): s for s in states}


# (action, from) -> to.
TRANSITIONS: dict[tuple[Action, S], S] = {
    (Action.ASSIGN_AGENT, S.OPEN): S.IN_PROGRESS,
    (Action.ASSIGN_AGENT, S.IN_PROGRESS): S.IN_PROGRESS,
    (Action.ASSIGN_AGENT, S.WAITING_CUSTOMER): S.WAITING_CUSTOMER,
    **_keep(Action.ASSIGN_TEAM, ACTIVE),
    (Action.REPLY, S.OPEN): S.IN_PROGRESS,
    (Action.REPLY, S.IN_PROGRESS): S.IN_PROGRESS,
    (Action.REPLY, S.WAITING_CUSTOMER): S.WAITING_CUSTOMER,
    (Action.REPLY, S.RESOLVED): S.RESOLVED,
    **_keep(Action.NOTE, WRITABLE),
    (Action.REQUEST_INFO, S.OPEN): S.WAITING_CUSTOMER,
    (Action.REQUEST_INFO, S.IN_PROGRESS): S.WAITING_CUSTOMER,
    (Action.CONSUMER_REPLY, S.WAITING_CUSTOMER): S.IN_PROGRESS,
    **_keep(Action.CONSUMER_REPLY, frozenset({S.OPEN, S.IN_PROGRESS, S.RESOLVED})),
    **_keep(Action.SET_PRIORITY, ACTIVE),
    **{(Action.RESOLVE, s): S.RESOLVED for s in ACTIVE},
    (Action.REOPEN, S.RESOLVED): S.IN_PROGRESS,
    (Action.CLOSE, S.RESOLVED): S.CLOSED,
    **_keep(Action.RATE, frozenset({S.RESOLVED, S.CLOSED})),
}


def next_status(action: Action, current: S) -> S:
    try:
        return TRANSITIONS[(action, current)]
    except KeyError:
        verb = action.value.replace("_", " ")
        raise InvalidState(f"cannot {verb} a ticket that is {current.value}",
                           field=["id"]) from None


def allowed_actions(current: S) -> list[Action]:
    return [action for (action, source) in TRANSITIONS if source == current]
