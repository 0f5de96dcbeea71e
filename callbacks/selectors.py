"""Reads: which account a callback token belongs to, callback URLs, the recount of the counters
from the raw events, and the DLR timeline."""

import hashlib
import hmac
import logging
import re
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count
from django.urls import reverse

from campaigns.models import Broadcast, Link, Message
from campaigns.models.broadcasts import STATUS_RANK
from messaging.models import ProviderAccount

from .matching import CHUNK, resolve, stored_parse
from .models import BroadcastLink, BroadcastMinute, CallbackEvent
from .parsing import LinkClick

logger = logging.getLogger(__name__)

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
NOT_DELIVERED = {S.UNDELIVERED, S.EXPIRED, S.REJECTED, S.FAILED, S.DELETED}
# What our own sending records above "submitted" when a send is refused or unanswered.
SENDING_VERDICTS = {S.FAILED, S.UNKNOWN}
# Events of messages still unknown after this long are left alone (replay_callbacks still has them).
PENDING_MAX_AGE = timedelta(days=7)
# `sent` counts messages that left us (status rank ≥ 1): campaigns sets it when it submits, and a
# report for a message still QUEUED here (rank 0) adds it.
COUNTERS = ("sent", "delivered", "undelivered", "expired", "rejected", "failed", "unknown", "cost",
            "clicks_total", "clicks_unique", "conversion")

# token digest → (account id, token, valid until). Providers post thousands of callbacks a second
# and the account behind a token almost never changes; a rotated token keeps working for at most
# TOKEN_CACHE_SECONDS in processes that saw it.
TOKEN_CACHE_SECONDS = 10
_tokens: dict[bytes, tuple[int, str, float]] = {}
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def account_id_for_token(token: str) -> int | None:
    """The account whose callback token this is, or None. Inactive accounts still get their
    reports: messages they sent are still in flight."""
    if not token_is_well_formed(token):
        return None  # also keeps "%00" and other text the database would refuse away from it
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


def token_is_well_formed(token: str) -> bool:
    """What messaging.models.new_callback_token makes (URL-safe base64) and the column holds."""
    return bool(TOKEN_FORMAT.fullmatch(token))


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


def recount(broadcast_ids=None) -> dict[int, dict]:
    """Broadcast id → its counters computed again from the raw event log, not from what applying
    wrote: every stored event of the broadcasts' accounts is parsed, resolved to its message and
    folded (the highest status rank wins, the first report of that rank; price by
    `report_figure`, whatever the order; distinct clicks per message, link and time); messages no
    report moved keep the status our own sending gave them.
    Streams the events and the messages, in chunks: fit for millions of rows.

    Where the log alone cannot decide, the message row settles it: a status our own sending set
    above every report's (a refused send: FAILED, an unanswered one: UNKNOWN), and which of two
    reports of the same rank came first when applying did not see them in log order (an event that
    waited for its message)."""
    broadcasts = Broadcast.objects.all() if broadcast_ids is None else Broadcast.objects.filter(pk__in=broadcast_ids)
    rows = list(broadcasts.values_list("pk", "account_id", "created_at", "recipients_count"))
    if not rows:
        return {}
    reports, ties, prices, clicks = _fold({account for _, account, _, _ in rows},
                                  since=min(created for _, _, created, _ in rows) - PENDING_MAX_AGE)
    figures = {pk: {**dict.fromkeys(COUNTERS, 0), "cost": Decimal(0)} for pk, _, _, _ in rows}
    messages = Message.objects.filter(broadcast_id__in=list(figures)).values_list(
        "pk", "broadcast_id", "status", "status_rank", "price")
    for pk, broadcast_id, status, rank, price in messages.iterator(chunk_size=10_000):
        counted = figures[broadcast_id]
        counted["sent"] += rank >= 1
        if pk in reports:
            status = _settled(reports[pk], ties.get(pk, ()), status, rank)
        if pk in prices:
            price = prices[pk][0]
        if bucket := BUCKETS.get(status):
            counted[bucket] += 1
        counted["cost"] += price or 0
        if pk in clicks:
            counted["clicks_total"] += clicks[pk]
            counted["clicks_unique"] += 1
    for pk, _, _, recipients in rows:
        figures[pk]["cost"] = figures[pk]["cost"].quantize(CENT)
        figures[pk]["conversion"] = conversion(figures[pk]["clicks_unique"], recipients)
    return figures


def _fold(account_ids: set[int], *, since) -> tuple[dict, dict, dict, Counter]:
    """Every stored event of these accounts since `since`, in the order they were stored →
    message id → (rank, status) of the report that decides it; message id → other statuses
    reported at that rank; message id → (price, its report's rank); message id → distinct clicks."""
    reports: dict[int, tuple] = {}
    ties: dict[int, set] = {}
    prices: dict[int, tuple] = {}
    clicked: set[tuple] = set()
    events = CallbackEvent.objects.filter(account_id__in=account_ids, received_at__gte=since).order_by("pk")
    unreadable = 0
    for batch in _batches(events.values_list("account_id", "kind", "body").iterator(chunk_size=CHUNK), CHUNK):
        parsed = stored_parse(batch, strict=False)
        unreadable += parsed.count(None)
        items = [(row[0], item) for row, p in zip(batch, parsed, strict=True) if p for item in p.items]
        refs = resolve(items)
        for account_id, item in items:
            pk = refs.message(account_id, item)
            if pk is None:
                continue
            if isinstance(item, LinkClick):
                clicked.add((pk, item.link_id, item.at))
                continue
            new_rank = STATUS_RANK[item.status]
            if item.price is not None:
                prices[pk] = report_figure(*prices.get(pk, (None, 0)), item.price, new_rank)
            # Every message reached "submitted" when it was sent: reports below or at it move nothing.
            rank, status = reports.get(pk, (STATUS_RANK[S.SUBMITTED], S.SUBMITTED))
            if new_rank > rank:
                reports[pk] = (new_rank, item.status)
                ties.pop(pk, None)
            elif new_rank == rank and item.status != status and pk in reports:
                ties.setdefault(pk, set()).add(item.status)
    if unreadable:
        logger.warning("The recount skipped %d stored events it could not read", unreadable)
    return reports, ties, prices, Counter(pk for pk, _, _ in clicked)


def _settled(report: tuple, tied, status: str, rank: int) -> str:
    """The status a message must have, from its deciding report and its row."""
    report_rank, report_status = report
    if rank > report_rank and status in SENDING_VERDICTS:
        return status  # our sending's verdict, which no report outranked
    if rank == report_rank and status in tied:
        return status  # an equally ranked report that reached the message first
    return report_status


def report_figure(kept, kept_rank: int, reported, rank: int) -> tuple:
    """(value, rank it came from) after a report of `rank` said `reported` (None: it said nothing).

    Order-free: the most final report that carries a figure decides it (a delivery report's price
    over an en-route estimate), and reports of equal rank settle on the larger value, so any
    arrival order ends with the same price and parts. Applying (callbacks.services) and this
    recount both use it."""
    if reported is None or rank < kept_rank:
        return kept, kept_rank
    if rank > kept_rank or kept is None:
        return reported, rank
    return max(kept, reported), rank


def _batches(rows, size: int):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def conversion(unique_clickers: int, recipients: int) -> float | None:
    """% of recipients who clicked; None until someone has (the column is only written by clicks)."""
    return 100.0 * unique_clickers / recipients if recipients and unique_clickers else None


def mismatches(broadcast_ids=None) -> list[dict]:
    """Where stored counters differ from the recount from raw events: [{broadcast, field, stored, recounted}]."""
    fresh = recount(broadcast_ids)
    found = []
    for stored in Broadcast.objects.filter(pk__in=list(fresh)).order_by("pk").values("pk", *COUNTERS):
        stored["cost"] = Decimal(stored["cost"]).quantize(CENT)
        for name, value in fresh[stored["pk"]].items():
            if not _same(stored[name], value):
                found.append({"broadcast": stored["pk"], "field": name, "stored": stored[name], "recounted": value})
    return found


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-9
    return a == b


def broadcast_timeline(broadcast: Broadcast) -> dict:
    """Status changes per minute (by the provider's time when it gives one) and clicks per link,
    from the rows applying keeps up to date: a few thousand rows for a day-long broadcast, however
    many messages it has. Fetched by the broadcast page's chart every few seconds."""
    minutes: dict[str, dict] = {}
    rows = BroadcastMinute.objects.filter(broadcast=broadcast).order_by("minute").values_list(
        "minute", "status", "changes")
    for minute, status, changes in rows:
        bucket = minutes.setdefault(minute.isoformat(), {"delivered": 0, "failed": 0, "other": 0})
        bucket["delivered" if status == S.DELIVERED else "failed" if status in NOT_DELIVERED else "other"] += changes
    links = list(BroadcastLink.objects.filter(broadcast=broadcast).order_by("-clicks", "link_id")
                 .values("link_id", "clicks", "people")[:20])
    # A click names the short link the recipient opened; when that is a link's MessageWhiz id, show its name.
    ids = {link["link_id"]: int(link["link_id"]) for link in links
           if link["link_id"].isascii() and link["link_id"].isdigit() and len(link["link_id"]) <= 18}
    names = dict(Link.objects.filter(account_id=broadcast.account_id, remote_id__in=ids.values())
                 .values_list("remote_id", "name"))
    for link in links:
        link["name"] = names.get(ids.get(link["link_id"]))
        link["conversion"] = round(100 * link["people"] / broadcast.recipients_count, 2) \
            if broadcast.recipients_count else None
    return {"minutes": list(minutes.items()), "links": links}
