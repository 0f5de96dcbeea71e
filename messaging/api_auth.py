"""Bearer-token authentication for the JSON APIs (the older /api/otp and /api/consent endpoints and
/api/v1): the token, its scopes intersected with its user's permissions, and a rate limit per token."""

import functools
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import audit
from .models import ApiToken


def token_from_header(value: str) -> ApiToken | None:
    """The active token of an active user named by an `Authorization: Bearer …` header value."""
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    # Looked up by hash: a unique index match, so timing reveals nothing about the key.
    token = ApiToken.objects.select_related("user").filter(
        key_hash=ApiToken.hash(key.strip()), is_active=True, user__is_active=True).first()
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def rate_limited(token: ApiToken) -> int:
    """Count one request against the token's limit (API_RATE_LIMIT requests per
    API_RATE_WINDOW_SECONDS, in the cache, so shared by every web process with Redis); the seconds
    to wait when it is over the limit, else 0."""
    window = settings.API_RATE_WINDOW_SECONDS
    now = time.time()
    start = int(now // window * window)
    key = f"textcast:api:rate:{token.key_hash[:32]}:{start}"  # never reused, unlike a pk
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count <= settings.API_RATE_LIMIT:
        return 0
    return max(1, int(start + window - now + 0.999))


def api_token_required(view=None, *, scope: str | None = None):
    """`Authorization: Bearer tc_…`; the token's user becomes request.user. 401 without a valid
    token, 403 when it lacks `scope` (or its user the scope's permissions), 429 over its rate."""
    if view is None:
        return functools.partial(api_token_required, scope=scope)

    @login_not_required
    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token = token_from_header(request.headers.get("Authorization", ""))
        if token is None:
            return JsonResponse({"error": "A valid API token is required (Authorization: Bearer …)."},
                                status=401, headers={"WWW-Authenticate": "Bearer"})
        if scope is not None and not token.allows(scope):
            return JsonResponse({"error": f"This token may not do this: it needs the scope “{scope}” "
                                          f"(and its user the permissions behind it)."}, status=403)
        if wait := rate_limited(token):
            return JsonResponse({"error": f"Too many requests; try again in {wait} s."}, status=429,
                                headers={"Retry-After": str(wait)})
        request.user = token.user
        request.api_token = token
        audit.act_as(request)
        return view(request, *args, **kwargs)

    return wrapper
