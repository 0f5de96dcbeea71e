"""What every /api/v1 endpoint shares: token auth with a scope per operation, the rate limit,
JSON parsing with depth limits, errors as {"errors": [{"field": …, "message": …}]}, and
idempotency keys for the requests that send.

Endpoints only translate between JSON and the same services the dashboard calls; the rules
(policy checks, state machine, import mapping) live there.
"""

import functools
import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Header
from ninja.decorators import decorate_view
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from messaging import audit, safejson
from messaging.api_auth import rate_limited, token_from_header
from messaging.models import API_SCOPES, ApiToken, IdempotencyKey

MAX_BODY_BYTES = 2 * 1024 * 1024


class ApiError(Exception):
    """An answer other than success: `status` and the errors, each {"field": path, "message": …}."""

    def __init__(self, status: int, message: str, *, field: str = "", headers: dict | None = None):
        super().__init__(message)
        self.status, self.errors, self.headers = status, [{"field": field, "message": message}], headers or {}


def problem(status: int, errors: list[dict], headers: dict | None = None) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status, headers=headers)


class Scope(HttpBearer):
    """`Authorization: Bearer tc_…` with `scope` among the token's scopes and its user holding the
    scope's permissions (messaging.models.API_SCOPES); also counts the request against the
    token's rate limit."""

    openapi_scheme = "bearer"

    def __init__(self, scope: str):
        if scope not in API_SCOPES:
            raise ValueError(f"Unknown API scope {scope!r}")
        self.scope = scope
        super().__init__()
        self.openapi_description = f"An API token with the scope `{scope}`: {API_SCOPES[scope][0]}."

    def authenticate(self, request, token: str) -> ApiToken | None:
        api_token = token_from_header(f"Bearer {token}")
        if api_token is None:
            return None
        if not api_token.allows(self.scope):
            raise ApiError(403, f"This token may not do this: it needs the scope “{self.scope}”, and its user "
                                f"the permissions behind it.", field="Authorization")
        if wait := rate_limited(api_token):
            raise ApiError(429, f"Too many requests for this token; try again in {wait} s.",
                           headers={"Retry-After": str(wait)})
        request.user = api_token.user
        audit.act_as(request)
        return api_token


def _no_nul(value) -> None:
    """PostgreSQL text cannot hold NUL: refused here rather than failing (a 500) where it is stored."""
    if isinstance(value, str):
        if "\x00" in value:
            raise safejson.JSONError("contains a NUL character", "contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)


class SafeParser(Parser):
    """Bodies through messaging.safejson: depth and size limits, no NaN, no NUL."""

    def parse_body(self, request):
        data = safejson.loads(request.body, max_size=MAX_BODY_BYTES, allow_constants=False)
        _no_nul(data)
        return data


def field_path(loc) -> str:
    """A pydantic location as a field path: ("body", "payload", "recipients", 3) → "recipients[3]"."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:]  # the source and the (only) body parameter's name
    elif parts and parts[0] in ("query", "path", "header", "form", "file", "cookie"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def install_error_handlers(api) -> None:
    def validation(request, exc: ValidationError):
        return problem(422, [{"field": field_path(error.get("loc", ())), "message": error.get("msg", "Invalid.")}
                             for error in exc.errors])

    def http_error(request, exc: HttpError):
        message = str(exc)
        if isinstance(exc.__cause__, safejson.JSONError):  # ninja's "Cannot parse request body"
            message = f"The body is not JSON we accept: {exc.__cause__.detail}."
        return problem(exc.status_code, [{"field": "", "message": message}])

    def api_error(request, exc: ApiError):
        return problem(exc.status, exc.errors, exc.headers)

    def unauthenticated(request, exc):
        return problem(401, [{"field": "Authorization", "message": "A valid API token is required "
                                                                    "(Authorization: Bearer …)."}],
                       {"WWW-Authenticate": "Bearer"})

    def not_found(request, exc):
        return problem(404, [{"field": "", "message": str(exc) or "Not found."}])

    api.add_exception_handler(ValidationError, validation)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(Http404, not_found)


def form_errors(form) -> ApiError:
    """A Django form's errors (the dashboard's own validation) as a 422."""
    error = ApiError(422, "Invalid.")
    error.errors = [{"field": "" if name == "__all__" else name, "message": message}
                    for name, messages in form.errors.items() for message in messages]
    return error


# --- Idempotency keys ---------------------------------------------------------------------------------

IdempotencyKeyHeader = Header(..., alias="Idempotency-Key", min_length=1, max_length=255,
                              description="A key of your choosing, unique per request you mean to make once: a "
                                          "retry with the same key and body gets the first answer again and sends "
                                          "nothing more.")
# Answers that did nothing and that a retry may well change: not kept.
_NOT_KEPT = {401, 403, 429}


def idempotency_keys_prune(*, now=None) -> int:
    """Delete every expired key (a claim only clears its own token's; a token no longer used would
    keep its keys for ever); returns how many. Beat runs it hourly."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def _claim(token: ApiToken, key: str, fingerprint: str) -> IdempotencyKey | HttpResponse:
    now = timezone.now()
    IdempotencyKey.objects.filter(token=token, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                token=token, key=key, fingerprint=fingerprint,
                expires_at=now + timedelta(hours=settings.API_IDEMPOTENCY_HOURS))
    except IntegrityError:
        pass
    first = IdempotencyKey.objects.filter(token=token, key=key).first()
    if first is None:  # expired and deleted meanwhile: rare enough to ask for a retry
        return problem(409, [{"field": "Idempotency-Key", "message": "Retry the request."}])
    if first.fingerprint != fingerprint:
        return problem(422, [{"field": "Idempotency-Key", "message": "This key was used for a different request; "
                                                                     "use a new key for a new request."}])
    if first.status is None:
        return problem(409, [{"field": "Idempotency-Key", "message": "A request with this key is still running; "
                                                                     "retry shortly."}])
    return HttpResponse(first.response, status=first.status, content_type="application/json",
                        headers={"Idempotent-Replayed": "true"})


def idempotent(run):
    """Wraps an operation's view: the first answer for (token, Idempotency-Key) is stored and given
    again to a retry with the same method, path and body; the request runs at most once."""

    @functools.wraps(run)
    def wrapper(request, *args, **kwargs):
        token = token_from_header(request.headers.get("Authorization", ""))
        key = request.headers.get("Idempotency-Key", "").strip()
        if token is None or not key or len(key) > 255:
            return run(request, *args, **kwargs)  # refused by auth, or by the header's own validation
        fingerprint = hashlib.sha256(b"\n".join((request.method.encode(), request.path.encode(), request.body)))
        claimed = _claim(token, key, fingerprint.hexdigest())
        if isinstance(claimed, HttpResponse):
            return claimed
        try:
            response = run(request, *args, **kwargs)
        except BaseException:
            claimed.delete()
            raise
        if response.status_code in _NOT_KEPT or (response.status_code >= 500 and response.status_code != 504):
            claimed.delete()  # nothing happened (504: the provider may have sent it, so it is kept)
        else:
            IdempotencyKey.objects.filter(pk=claimed.pk).update(status=response.status_code,
                                                                response=response.content.decode())
        return response

    return wrapper


decorate_idempotent = decorate_view(idempotent)
