"""Bearer-token authentication for the small JSON API used by back-office systems."""

import functools

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import ApiToken


def api_token_required(view):
    """`Authorization: Bearer tc_…`; the token's user becomes request.user. 401 otherwise."""

    @login_not_required
    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        token = None
        if scheme.lower() == "bearer" and key:
            # Looked up by hash: a unique index match, so timing reveals nothing about the key.
            token = ApiToken.objects.select_related("user").filter(
                key_hash=ApiToken.hash(key.strip()), is_active=True, user__is_active=True).first()
        if token is None:
            return JsonResponse({"error": "A valid API token is required (Authorization: Bearer …)."},
                                status=401, headers={"WWW-Authenticate": "Bearer"})
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        request.user = token.user
        return view(request, *args, **kwargs)

    return wrapper
