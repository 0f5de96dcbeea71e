"""Callback endpoints (providers → us) and the page that shows their URLs.

Each account's provider posts to URLs carrying the account's secret callback token; the token is
the authentication, so an unknown one gets a bare 404. Order: authenticate → read (bounded) →
parse strictly → store raw (services.callback_receive). 4xx answers are only for what the sender
can fix; a storage outage is a 503 so that the provider retries.
"""

import logging

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import DatabaseError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.models import Broadcast
from messaging import audit
from messaging.models import ProviderAccount
from messaging.permissions import CALLBACK_URLS

from . import buffer, parsing, selectors, services, tracking

logger = logging.getLogger(__name__)

# Which shapes each URL takes. MessageWhiz posts a /sms message's DLRs *and* link clicks to the
# one `callback` URL it was given, so the DLR URL takes both.
ENDPOINTS = {
    "dlr": frozenset({"dlr", "click"}),
    "dlr_batch": frozenset({"dlr_batch"}),
    "click": frozenset({"click"}),
}


def max_bytes() -> int:
    # A DLR carries the message text (up to 100,000 characters) twice, text and parts, and JSON
    # may escape each character as 6-12 bytes. Bodies are read only once the token is known.
    return getattr(settings, "CALLBACK_MAX_BYTES", 4 * 1024 * 1024)


@csrf_exempt
@login_not_required
def receive(request, token: str, endpoint: str):
    try:
        account_id = selectors.account_id_for_token(token)
    except DatabaseError:
        return _unavailable()
    if account_id is None:
        return _error(404, "not found")
    if request.method != "POST":
        response = _error(405, "use POST")
        response["Allow"] = "POST"
        return response
    raw = read_body(request, max_bytes())
    if raw is None:
        return _error(413, f"body larger than {max_bytes()} bytes")
    try:
        body, parsed = parsing.parse(raw, allowed=ENDPOINTS[endpoint])
    except parsing.Rejected as exc:
        return _error(400, str(exc))
    try:
        services.callback_receive(account_id=account_id, parsed=parsed, body=body)
    except (redis.RedisError, DatabaseError):
        logger.exception("Could not store a %s callback", parsed.kind)
        return _unavailable()
    return JsonResponse({"ok": True})


@csrf_exempt
@login_not_required
def ping(request, token: str):
    """For a provider's "test the URL" button, and the benchmark's ceiling: authentication only."""
    try:
        known = selectors.account_id_for_token(token) is not None
    except DatabaseError:
        return _unavailable()
    return JsonResponse({"ok": True}) if known else _error(404, "not found")


@permission_required(CALLBACK_URLS, raise_exception=True)
def settings_page(request):
    pending = selectors.pending_counts()
    rows = [{"account": account, "urls": selectors.callback_urls(account), "pending": pending.get(account.pk, 0)}
            for account in ProviderAccount.objects.order_by("name")]
    # The URLs carry the tokens that authenticate delivery reports: seeing them is seeing a secret.
    audit.record("secret_view", None, object_type="messaging.provideraccount", object_repr="Callback URLs",
                 detail=f"Callback URLs of {len(rows)} account{'s' if len(rows) != 1 else ''}")
    try:
        backlog = buffer.backlog()
    except redis.RedisError:
        backlog = None
    return render(request, "callbacks/settings.html", {"rows": rows, "backlog": backlog,
                                                       "buffered": buffer.enabled()})


def read_body(request, limit: int) -> bytes | None:
    """The body without NUL bytes, or None when it is larger than `limit` (said by Content-Length
    or found reading). Read from the stream, not request.body, which refuses more than
    DATA_UPLOAD_MAX_MEMORY_SIZE with a 400 of its own.

    A chunked body has no Content-Length, and Django then reads nothing; a server that decodes
    chunked requests says so with `wsgi.input_terminated` (gunicorn, mod_wsgi), and its input is
    read to its end instead, within the same limit.

    NUL is stripped, not refused: PostgreSQL cannot store it (every retry would be a 503), and a
    provider cannot be asked to fix a report or a user's reply; nothing we read means NUL."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    if declared or not request.META.get("wsgi.input_terminated"):
        data = request.read(limit + 1)
    else:
        data = _read_to_end(request.META["wsgi.input"], limit + 1)
    return None if len(data) > limit else data.replace(b"\x00", b"")


def _read_to_end(stream, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit and (part := stream.read(min(64 * 1024, limit - size))):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _unavailable() -> JsonResponse:
    response = _error(503, "temporarily unavailable, retry later")
    response["Retry-After"] = "30"
    return response


def broadcast_timeline_json(request, pk):
    """The DLR timeline and per-link clicks, fetched by the broadcast page's charts after it rendered."""
    return JsonResponse(selectors.broadcast_timeline(get_object_or_404(Broadcast, pk=pk)))


@login_not_required
@require_http_methods(["GET", "HEAD"])
def link_redirect(request, token: str):
    """A recipient opening one of Textcast's own links: counted, then sent on to the link's URL.
    HEAD (link previewers) is answered without counting."""
    url = tracking.link_open(token=token, count=request.method == "GET")
    if url is None:
        return render(request, "callbacks/link_gone.html", status=404)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"  # each opening is counted, so no cached redirect
    response["Referrer-Policy"] = "no-referrer"  # the token stays ours
    return response


@login_not_required
@require_http_methods(["GET", "POST"])
def optout(request, token: str):
    """The opt-out link: a page asking to confirm (a link previewer's GET opts no one out), and the
    confirmation."""
    message = tracking.optout_message(token=token)
    if message is None:
        return render(request, "callbacks/link_gone.html", status=404)
    done = request.method == "POST"
    if done:
        tracking.optout_confirm(message=message, user_agent=request.headers.get("User-Agent", ""))
    return render(request, "callbacks/optout.html", {
        "sender": message.account.name, "phone": "…" + message.phone[-4:], "done": done})
