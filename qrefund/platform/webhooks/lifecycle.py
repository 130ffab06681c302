"""The allowed transitions of endpoints and deliveries."""

from __future__ import annotations

from qrefund.platform.errors import CommonError, InvalidState
from qrefund.platform.webhooks.errors import WebhookError
from qrefund.platform.webhooks.models import DeliveryStatus as D
from qrefund.platform.webhooks.models import EndpointStatus as E

ENDPOINT_TRANSITIONS: frozenset[tuple[E, E]] = frozenset(
    {(E.ACTIVE, E.DISABLED), (E.DISABLED, E.ACTIVE)}
)

DELIVERY_TRANSITIONS: frozenset[tuple[D, D]] = frozenset(
    {
        (D.PENDING, D.SENDING),
        (D.RETRYING, D.SENDING),
        # A claim whose lease ran out (the worker died mid-request) is claimed again.
        (D.SENDING, D.SENDING),
        (D.SENDING, D.SUCCEEDED),
        (D.SENDING, D.RETRYING),
        (D.SENDING, D.FAILED),
        (D.PENDING, D.CANCELLED),
        (D.RETRYING, D.CANCELLED),
        (D.SENDING, D.CANCELLED),
        # Manual redelivery.
        (D.RETRYING, D.PENDING),
        (D.SUCCEEDED, D.PENDING),
        (D.FAILED, D.PENDING),
        (D.CANCELLED, D.PENDING),
    }
)


# Refusing to move an endpoint to the status it has: the code names that status.
_ENDPOINT_ALREADY = {E.ACTIVE: WebhookError.ENDPOINT_ACTIVE,
                     E.DISABLED: WebhookError.ENDPOINT_DISABLED}


def check_endpoint(current: str, target: E) -> None:
    if (E(current), target) not in ENDPOINT_TRANSITIONS:
        raise InvalidState(f"webhook endpoint is already {current}",
                           code=_ENDPOINT_ALREADY[E(current)])


def check_delivery(current: str, target: D) -> None:
    if (D(current), target) not in DELIVERY_TRANSITIONS:
        raise InvalidState(
            f"webhook delivery is {current} and cannot become {target.value}",
            code=(WebhookError.DELIVERY_IN_PROGRESS if current in (D.PENDING, D.SENDING)
                  else CommonError.INVALID_STATE),
        )


def can_deliver(current: str, target: D) -> bool:
    return (D(current), target) in DELIVERY_TRANSITIONS
