"""Reads: which account a callback token belongs to, callback URLs, and recounts of the counters."""

import hashlib
import hmac
import time
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMinute
from django.urls import reverse

from campaigns.models import Broadcast, Link, Message
from messaging.models import ProviderAccount

from .models import CallbackEvent, Click

CENT = Decimal("0.0001")

S = Message.Status

# The broadcast counter each status is counted in. Statuses without one are in flight (the
# dashboard shows sent - outcomes). DELETED is final and was not delivered.
BUCKETS = {
    S.UNKNOWN: "unknown",
    S.DELIVERED: "delivered",
    S.UNDELIVERED: "undelivered",
    S.EXPIRED: "expired",
    S.REJECTED: "rejected",
    S.FAILED: "failed",
    S.DELETED: "undelivered",
}
# `sent` counts messages that left us (status rank ≥ 1): campaigns sets it when it submits, and a
# report for a message still QUEUED here (rank 0) adds it.
COUNTERS = ("sent", "delivered", "undelivered", "expired", "rejected", "failed", "unknown", "cost",
            "clicks_total", "clicks_unique", "conversion")

# token digest → (account id, token, valid until). Providers post thousands of callbacks a second
# and the account behind a token almost never changes; a rotated token keeps working for at most
# TOKEN_CACHE_SECONDS in processes that saw it.
TOKEN_CACHE_SECONDS = 10
_tokens: dict[bytes, tuple[int, str, float]] = {}


def account_id_for_token(token: str) -> int | None:
    """The account whose callback token this is, or None. Inactive accounts still get their
    reports: messages they sent are still in flight."""
    if not token or len(token) > 128:
        return None
    given = token.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(given).digest()
    now = time.monotonic()
    cached = _tokens.get(digest)
    if cached and cached[2] > now and hmac.compare_digest(cached[1].encode(), given):
        return cached[0]
    row = ProviderAccount.objects.filter(callback_token=token).values_list("pk", "callback_token").first()
    # The lookup is by the token itself; comparing again in constant time keeps any collation or
    # index quirk from letting a near-miss through.
    if row is None or not hmac.compare_digest(row[1].encode(), given):
        _tokens.pop(digest, None)
        return None
    if len(_tokens) >= 1000:  # a bound, not an LRU: there are a handful of accounts
        _tokens.clear()
    _tokens[digest] = (row[0], row[1], now + TOKEN_CACHE_SECONDS)
    return row[0]


def token_cache_clear() -> None:
    _tokens.clear()


def callback_urls(account: ProviderAccount) -> dict[str, str]:
    """The absolute URLs an account's provider posts to (PUBLIC_BASE_URL + path)."""
    base = settings.PUBLIC_BASE_URL
    return {name: base + reverse(f"callbacks:{name}", kwargs={"token": account.callback_token})
            for name in ("dlr", "dlr_batch", "click")}


def pending_counts() -> dict[int, int]:
    """Account id → events still waiting for their message."""
    rows = CallbackEvent.objects.filter(applied_at__isnull=True).values("account_id").annotate(n=Count("pk"))
    return {row["account_id"]: row["n"] for row in rows}


def counters(broadcast_id: int) -> dict:
    """The broadcast's stored counters."""
    return Broadcast.objects.filter(pk=broadcast_id).values(*COUNTERS).get()


def recount(broadcast_id: int) -> dict:
    """The counters computed again from the rows callbacks were applied to (message statuses and
    prices, recorded clicks): equal to `counters` unless something bypassed callbacks.services."""
    messages = Message.objects.filter(broadcast_id=broadcast_id)
    clicks = Click.objects.filter(message__broadcast_id=broadcast_id)
    figures = {name: 0 for name in COUNTERS}
    figures.update(messages.aggregate(sent=Count("pk", filter=Q(status_rank__gte=1))))
    figures["cost"] = (messages.aggregate(cost=Sum("price"))["cost"] or Decimal(0)).quantize(CENT)
    for row in messages.filter(status__in=list(BUCKETS)).values("status").annotate(n=Count("pk")):
        figures[BUCKETS[row["status"]]] += row["n"]
    figures["clicks_total"] = clicks.count()
    figures["clicks_unique"] = clicks.values("message_id").distinct().count()
    recipients = Broadcast.objects.filter(pk=broadcast_id).values_list("recipients_count", flat=True).get()
    figures["conversion"] = conversion(figures["clicks_unique"], recipients)
    return figures


def conversion(unique_clickers: int, recipients: int) -> float | None:
    """% of recipients who clicked; None until someone has (the column is only written by clicks)."""
    return 100.0 * unique_clickers / recipients if recipients and unique_clickers else None


def mismatches(broadcast_ids=None) -> list[dict]:
    """Where stored counters differ from a recount: [{broadcast, field, stored, recounted}]."""
    if broadcast_ids is None:
        broadcast_ids = Broadcast.objects.order_by("pk").values_list("pk", flat=True)
    found = []
    for broadcast_id in broadcast_ids:
        stored, fresh = counters(broadcast_id), recount(broadcast_id)
        stored["cost"] = Decimal(stored["cost"]).quantize(CENT)
        for name, value in fresh.items():
            if not _same(stored[name], value):
                found.append({"broadcast": broadcast_id, "field": name, "stored": stored[name], "recounted": value})
    return found


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-9
    return a == b


def broadcast_timeline(broadcast: Broadcast) -> dict:
    """Delivery reports per minute (by the time each message reached its status) and clicks per link.

    Read by the chart endpoint (not by the page itself) and cached briefly, so a page showing a
    million-message broadcast never waits for it.
    """
    # Keyed by the counters: any applied report or click makes a new entry.
    progress = (broadcast.delivered, broadcast.undelivered, broadcast.expired, broadcast.rejected, broadcast.failed,
                broadcast.unknown, broadcast.clicks_total)
    key = f"textcast:timeline:{broadcast.pk}:{'-'.join(map(str, progress))}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    delivered = {Message.Status.DELIVERED}
    failed = {Message.Status.UNDELIVERED, Message.Status.EXPIRED, Message.Status.REJECTED, Message.Status.FAILED,
              Message.Status.DELETED}
    minutes: dict[str, dict] = {}
    rows = (Message.objects.filter(broadcast=broadcast, status_at__isnull=False)
            .annotate(minute=TruncMinute("status_at")).values("minute", "status").annotate(n=Count("pk")))
    for row in rows:
        bucket = minutes.setdefault(row["minute"].isoformat(), {"delivered": 0, "failed": 0, "other": 0})
        kind = "delivered" if row["status"] in delivered else "failed" if row["status"] in failed else "other"
        bucket[kind] += row["n"]
    links = list(Click.objects.filter(message__broadcast=broadcast).values("link_id")
                 .annotate(clicks=Count("pk"), people=Count("message", distinct=True)).order_by("-clicks")[:20])
    # A click names the short link the recipient opened; when that is a link's MessageWhiz id, show its name.
    ids = {link["link_id"]: int(link["link_id"]) for link in links
           if link["link_id"].isascii() and link["link_id"].isdigit() and len(link["link_id"]) <= 18}
    names = dict(Link.objects.filter(account_id=broadcast.account_id, remote_id__in=ids.values())
                 .values_list("remote_id", "name"))
    for link in links:
        link["name"] = names.get(ids.get(link["link_id"]))
        link["conversion"] = round(100 * link["people"] / broadcast.recipients_count, 2) \
            if broadcast.recipients_count else None
    result = {"minutes": sorted(minutes.items()), "links": links}
    cache.set(key, result, timeout=15 if not broadcast.is_final else 3600)
    return result
