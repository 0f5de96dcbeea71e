"""The endpoints generic providers call: delivery reports and inbound messages.

Webhook order — authenticate (the account's callback token, constant-time) → read (bounded) →
parse strictly, every report → store the raw request → apply — answering 404 for an unknown
token, 400 for a body the provider must fix (and then nothing is stored), 413 for one too large,
503 when the database or Redis is down, never a 500.
"""

import hmac
import logging

import redis
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.models import ProviderAccount
from messaging.providers import inbound

from . import parsing, providers, selectors, services
from .views import read_body

logger = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 1024 * 1024


def _account_for_token(token: str, kinds=(ProviderAccount.Kind.GENERIC,)) -> ProviderAccount | None:
    if not selectors.token_is_well_formed(token):
        return None
    account = (ProviderAccount.objects.select_related("generic")
               .filter(callback_token=token, kind__in=kinds, is_active=True).first())
    # The database finds the row; the comparison that decides is constant-time.
    if account is None or not hmac.compare_digest(account.callback_token.encode(), token.encode()):
        return None
    return account


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": reason}, status=status)


@csrf_exempt
@login_not_required
def dlr_receive(request, token):
    account = _account_for_token(token)
    if account is None:
        return _error(404, "not found")
    if request.method not in ("GET", "POST"):
        return _error(405, "use GET or POST")
    if not account.generic.has_dlr:
        return _error(404, "delivery reports are not enabled for this account")
    if request.method == "GET":
        # What a GET report says, stored as it came (WSGI hands the query over as ISO-8859-1 text).
        raw = request.META.get("QUERY_STRING", "").encode("iso-8859-1")
        if not raw:
            return _error(400, "no report fields in the query")
    elif (raw := read_body(request, MAX_CALLBACK_BYTES)) is None:
        return _error(413, "body too large")
    elif parsing.is_click(raw):
        return _click_receive(account, raw)
    try:
        text = raw.decode("utf-8")
        parsed, reports, skipped = parsing.parse_generic(text, account.generic, content_type=request.content_type or "")
    except UnicodeDecodeError:
        return _error(400, "body is not UTF-8")
    except parsing.Rejected as exc:
        return _error(400, str(exc))
    try:
        providers.reports_receive(account=account, parsed=parsed, reports=reports, body=text)
    except (DatabaseError, redis.RedisError):
        logger.exception("Could not store a delivery report for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "applied": len(reports), "unmapped": skipped})


def _click_receive(account, raw: bytes) -> JsonResponse:
    """MessageWhiz's /sms (as a generic provider) posts a message's link clicks to the callback URL
    its DLRs go to, in its own click shape; the click names the message by the id /sms answered."""
    try:
        body, parsed = parsing.parse(raw, allowed=frozenset({"click"}))
    except parsing.Rejected as exc:
        return _error(400, str(exc))
    try:
        services.callback_receive(account_id=account.pk, parsed=parsed, body=body)
    except (DatabaseError, redis.RedisError):
        logger.exception("Could not store a click for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "clicks": len(parsed.items)})


@csrf_exempt
@login_not_required
@require_POST
def inbound_receive(request, token):
    # MessageWhiz accounts too: replies to their senders, forwarded here, carry STOP and START.
    account = _account_for_token(token, kinds=ProviderAccount.Kind.values)
    if account is None:
        return _error(404, "not found")
    if (raw := read_body(request, MAX_CALLBACK_BYTES)) is None:
        return _error(413, "body too large")
    try:
        stored = providers.inbound_receive(account=account, raw=raw)
    except inbound.Malformed as exc:
        return _error(400, str(exc))
    except DatabaseError:
        logger.exception("Could not store an inbound message for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "duplicate": stored is None})
