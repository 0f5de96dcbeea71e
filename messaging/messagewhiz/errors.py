"""Typed MessageWhiz errors, and the one function that turns a failed response into one of them.

`permanent` tells a Celery task whether retrying the same call can ever help (healthchecks'
`TransportError(permanent=...)`): a 400 never will, a 503 might.

MessageWhiz answers errors in three shapes, all parsed here:
* the v3 envelope `{"errorCode", "errorMessage", "errorType", "result"}`, sometimes inside a 200;
* the NestJS shape of `/sms` and `/api/...`: `{"statusCode", "message": [...] | str, "error"}`;
* anything else (a proxy's HTML page, an empty body), reported by status and a snippet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from messaging import safejson
from messaging.http import maybe_applied, parse_retry_after

if TYPE_CHECKING:
    import requests


class MessageWhizError(Exception):
    permanent = False

    def __init__(
        self,
        message: str,
        status: int | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        validation: list[str] | None = None,
        permanent: bool | None = None,
        *,
        error_type: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.error_type = error_type
        self.validation = list(validation or [])
        self.retry_after = retry_after
        if permanent is not None:
            self.permanent = permanent


class ValidationError(MessageWhizError):
    """400: the request is wrong; `validation` lists what the provider complained about."""

    permanent = True


class AuthenticationError(MessageWhizError):
    """401: the API key is missing or invalid."""

    permanent = True


class ForbiddenError(MessageWhizError):
    """403: the user or company is disabled or lacks the permission."""

    permanent = True


class NotFoundError(MessageWhizError):
    """404: no such entity (or not this account's)."""

    permanent = True


class ConflictError(MessageWhizError):
    """409: duplicate entry."""

    permanent = True


class RedirectError(MessageWhizError):
    """3xx: MessageWhiz never redirects API calls, so the account's base URL is wrong (http for
    https, a proxy, a moved host). Not followed: the key would go to wherever Location points."""

    permanent = True


class RateLimitedError(MessageWhizError):
    """429: slow down; `retry_after` says for how long when the provider told us."""


class ServerError(MessageWhizError):
    """5xx: the provider failed; worth retrying later."""


class TransportError(MessageWhizError):
    """No answer at all: connection refused, reset or timed out (the request was not applied)."""


class AmbiguousRequestError(MessageWhizError):
    """A create/send request went out but no answer came back: it may have been applied.

    Permanent for the purpose of blind retries, because resending could create or send twice.
    Callers reconcile instead (look the object up, or check the delivery report) and only then
    decide to send again.
    """

    permanent = True


class AmbiguousServerError(AmbiguousRequestError):
    """A create/send request was answered with a 5xx other than 503: the provider may have acted
    before it failed. An AmbiguousRequestError, so callers reconcile it like a lost answer."""


class ResultError(MessageWhizError):
    """HTTP 2xx whose envelope carries `errorCode != 0`: the provider refused the request politely."""

    permanent = True


STATUS_CLASSES: dict[int, type[MessageWhizError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def messages(value) -> list[str]:
    """Flatten a message field (a string, a list of strings, class-validator objects...) to strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if "constraints" in value:
            return messages(list(value["constraints"].values()))
        if "message" in value:
            return messages(value["message"])
        return [text for item in value.values() for text in messages(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in messages(item)]
    return [str(value)]


def error_from_response(
    response: requests.Response, *, method: str, path: str, idempotent: bool = True
) -> MessageWhizError:
    """The typed error for a non-2xx response, or for a 2xx whose envelope says errorCode != 0.

    `idempotent` False (a create or a send) turns a 5xx that may have been applied into
    AmbiguousServerError instead of a retryable ServerError.
    """
    status = response.status_code
    try:
        body = safejson.loads(response.content)
    except safejson.JSONError:
        body = None
    error_code = error_type = None
    validation: list[str] = []
    if isinstance(body, dict) and "errorCode" in body:
        error_code = _int(body.get("errorCode"))
        error_type = body.get("errorType") or None
        validation = messages(body.get("errorMessage"))
    elif isinstance(body, dict) and ("statusCode" in body or "message" in body):
        error_type = body.get("error") or None
        validation = messages(body.get("message"))
    detail = "; ".join(validation) or error_type or _snippet(response) or response.reason or ""

    permanent = None
    if 200 <= status < 300:
        cls = ResultError
        summary = f"{method} {path}: errorCode {error_code}: {detail}"
        # errorCode borrows HTTP numbers (the reference's table): a 5xx or 429 there is worth a retry,
        # unless it answers a create or send, which it may have applied like a 5xx status.
        permanent = not (error_code is not None and (error_code == 429 or error_code >= 500))
        if not idempotent and error_code is not None and maybe_applied(error_code):
            cls, permanent = AmbiguousServerError, None
    elif 300 <= status < 400:
        cls = RedirectError
        # Without its query: ours may be echoed there, and the host and path are what help.
        target = urlsplit(response.headers.get("Location", ""))._replace(query="", fragment="").geturl()
        summary = (f"{method} {path}: HTTP {status}: redirected to {target or 'nowhere'}; "
                   "set the account's base URL to MessageWhiz's API address")
    elif not idempotent and maybe_applied(status):
        cls = AmbiguousServerError
        summary = f"{method} {path}: HTTP {status} after sending; it may have been applied: {detail}"
    else:
        cls = STATUS_CLASSES.get(status) or (ServerError if status >= 500 else MessageWhizError)
        summary = f"{method} {path}: HTTP {status}: {detail}"
        # An unknown 4xx is still our mistake; retrying the same request cannot fix it.
        permanent = True if cls is MessageWhizError and status < 500 else None
    return cls(
        summary,
        status=status,
        error_code=error_code,
        error_message="; ".join(validation) or None,
        # Only a 400's messages are field validation; elsewhere they are just the explanation.
        validation=validation if cls is ValidationError else [],
        permanent=permanent,
        error_type=error_type,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _snippet(response: requests.Response) -> str:
    return " ".join(response.text.split())[:200]
