"""The endpoints generic providers call: delivery reports and inbound messages.

Webhook order — authenticate (the account's callback token, constant-time) → parse strictly →
store → apply — answering 404 for an unknown token, 400 for a body the provider must fix, 413 for
one too large, 503 when the database is down, never a 500.
"""

import hmac
import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.models import ProviderAccount
from messaging.providers import inbound
from messaging.providers.generic import dlr

from . import providers

logger = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 1024 * 1024


def _account_for_token(token: str) -> ProviderAccount | None:
    account = (ProviderAccount.objects.select_related("generic")
               .filter(callback_token=token, kind=ProviderAccount.Kind.GENERIC, is_active=True).first())
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
    body = request.body if request.method == "POST" else b""
    if len(body) > MAX_CALLBACK_BYTES:
        return _error(413, "body too large")
    try:
        records = dlr.records_from_request(method=request.method, content_type=request.content_type or "",
                                           body=body, query=request.GET.dict())
        reports, skipped = dlr.map_records(account.generic, records)
        providers.reports_apply(account=account, reports=reports)
    except (dlr.Malformed, UnicodeDecodeError) as exc:
        return _error(400, str(exc) if isinstance(exc, dlr.Malformed) else "body is not UTF-8")
    except DatabaseError:
        logger.exception("Could not store a delivery report for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "applied": len(reports), "unmapped": skipped})


@csrf_exempt
@login_not_required
@require_POST
def inbound_receive(request, token):
    account = _account_for_token(token)
    if account is None:
        return _error(404, "not found")
    if len(request.body) > MAX_CALLBACK_BYTES:
        return _error(413, "body too large")
    try:
        stored = providers.inbound_receive(account=account, raw=request.body)
    except inbound.Malformed as exc:
        return _error(400, str(exc))
    except DatabaseError:
        logger.exception("Could not store an inbound message for account %s", account.pk)
        return _error(503, "try again")
    return JsonResponse({"ok": True, "duplicate": stored is None})
