"""GraphQL over HTTP: media types, status codes and the JSON error responses.

Follows the GraphQL-over-HTTP specification (checked by graphql-http's audit in
the test suite):

* A client that accepts ``application/graphql-response+json`` gets that media
  type, and a *request error* (the body is not JSON, the parameters are wrong,
  the document does not parse or validate, a variable does not coerce) is a 400
  whose body has ``errors`` and no ``data``.
* A client that accepts ``application/json`` (or anything, or says nothing) gets
  ``application/json`` and, as the specification asks for that legacy type, a
  request error comes back as 200 with ``errors``.
* Whatever the media type: a request without a usable key is 401, too many
  requests 429 with ``Retry-After``, the database unreachable 503 with
  ``Retry-After``, a body over the limit 413, an unsupported content type 415.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

from qrefund.graphql_schema.errors import RequestError

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def accepts_graphql_response(accept: str | None) -> bool:
    """True when the client prefers the GraphQL response media type over plain JSON."""
    if not accept:
        return False
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in (GRAPHQL_RESPONSE, JSON) and quality > 0:
            ranked.append((-quality, position, media.lower()))
    return bool(ranked) and min(ranked)[2] == GRAPHQL_RESPONSE


def media_type(accept: str | None) -> str:
    return GRAPHQL_RESPONSE if accepts_graphql_response(accept) else JSON


def error_body(message: str, code: RequestError, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    message: str, code: RequestError, status: int, *, accept: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(message, code), status_code=status, headers=headers,
                        media_type=media_type(accept))


def request_error_status(accept: str | None) -> int:
    """The status of a request error for this client (see the module docstring)."""
    return 400 if accepts_graphql_response(accept) else 200


def unauthorized(reason: str, accept: str | None = None) -> JSONResponse:
    return error_response(reason, RequestError.UNAUTHENTICATED, 401, accept=accept,
                          headers={"WWW-Authenticate": 'Bearer realm="qrefund"'})


def too_many_requests(retry_after: int, accept: str | None = None) -> JSONResponse:
    return error_response(f"too many requests: retry in {retry_after} s",
                          RequestError.RATE_LIMITED, 429, accept=accept,
                          headers={"Retry-After": str(retry_after)})


def unavailable(accept: str | None = None) -> JSONResponse:
    return error_response("service temporarily unavailable", RequestError.SERVICE_UNAVAILABLE,
                          503, accept=accept, headers={"Retry-After": "5"})


def is_request_error(data: object, errors: Sequence[Any] | None) -> bool:
    """No data and no error tied to a field: the request never started executing."""
    return data is None and bool(errors) and all(
        getattr(e, "path", None) is None for e in errors or ())
