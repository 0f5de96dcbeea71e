"""Reads for broadcast pages: figures come from pre-aggregated counters, never from counting messages."""

from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest

from .estimates import reconciled_estimate
from .models import Broadcast, Message

OUTCOMES = ("delivered", "undelivered", "expired", "rejected", "failed", "unknown")
# What "failed" counts on every page: messages with a final answer other than delivered (refused by
# us or the provider, undelivered, expired, rejected; callbacks count "deleted" as undelivered).
# Unknown is left out: a late report may still deliver it.
FAILED_COUNTERS = ("failed", "undelivered", "expired", "rejected")
# Clicks as Broadcast.clicked counts them: ours, or MessageWhiz's count where that is higher.
CLICKED = Greatest("clicks_unique", Coalesce("reported_clicks_unique", 0))
CLICKS = Greatest("clicks_total", Coalesce("reported_clicks_total", 0))


def failed_total(counters) -> int:
    """The failure count of a broadcast's counters, or of their sums (a Broadcast or a dict)."""
    get = counters.get if isinstance(counters, dict) else lambda name: getattr(counters, name)
    return sum(get(name) or 0 for name in FAILED_COUNTERS)


def broadcast_figures(broadcast: Broadcast) -> dict:
    """Funnel and status breakdown from the broadcast's own counters (one row read)."""
    final = sum(getattr(broadcast, name) for name in OUTCOMES)
    in_flight = max(0, broadcast.sent - final)
    # A provider that sends no delivery reports (Message Central) leaves "delivered" at 0: say so
    # rather than show a 0% delivery rate.
    generic = getattr(broadcast.account, "generic", None)
    reports = generic is None or generic.has_dlr
    return {
        "recipients": broadcast.recipients_count,
        "funnel": [("Submitted", broadcast.sent), *([("Delivered", broadcast.delivered)] if reports else []),
                   ("Clicked", broadcast.clicked)],
        "breakdown": [("In flight", in_flight), *((name.capitalize(), getattr(broadcast, name)) for name in OUTCOMES)],
        "failed": failed_total(broadcast),
        "delivery_reports": reports,
        "delivery_rate": _percent(broadcast.delivered, broadcast.sent) if reports else None,
        "click_rate": _percent(broadcast.clicked, broadcast.delivered or broadcast.sent),
        "cost": broadcast.cost,
        "currency": broadcast.account.currency,
        # What the confirmed estimate said, beside what the reports say it cost.
        "estimated_cost": reconciled_estimate(broadcast)["cost"] if broadcast.estimate else None,
        "clicks_total": max(broadcast.clicks_total, broadcast.reported_clicks_total or 0),
        "state": broadcast.state,
        "is_final": broadcast.is_final,
    }


def campaign_figures(campaign) -> dict:
    """A campaign's figures: the sums of its broadcasts' counters (one aggregate over its broadcasts,
    never over messages), so exact whenever theirs are. Recurring schedules' definitions are never
    sent themselves and are left out.

    Keys: broadcasts, recipients, sent, delivered, undelivered, expired, rejected, failed, unknown,
    failed_total (see failed_total), in_flight, cost (Decimal), clicks_total, clicks_unique,
    conversion (% of recipients who clicked, None before the first click), delivery_rate and
    click_rate (% as on a broadcast, None when nothing was sent).
    """
    totals = Broadcast.objects.filter(campaign=campaign, recurrence__isnull=True).aggregate(
        broadcasts=Count("pk"), recipients=Sum("recipients_count"), sent=Sum("sent"),
        **{name: Sum(name) for name in (*OUTCOMES, "cost")}, clicks_total=Sum(CLICKS), clicks_unique=Sum(CLICKED),
    )
    figures = {name: value or 0 for name, value in totals.items()}
    figures["cost"] = Decimal(figures["cost"])
    figures["failed_total"] = failed_total(figures)
    figures["in_flight"] = max(0, figures["sent"] - sum(figures[name] for name in OUTCOMES))
    figures["conversion"] = (100.0 * figures["clicks_unique"] / figures["recipients"]
                             if figures["recipients"] and figures["clicks_unique"] else None)
    figures["delivery_rate"] = _percent(figures["delivered"], figures["sent"])
    figures["click_rate"] = _percent(figures["clicks_unique"], figures["delivered"] or figures["sent"])
    return figures


def broadcast_messages(broadcast: Broadcast, *, status: str = "", phone: str = "") -> QuerySet[Message]:
    """A broadcast's messages in phone order, optionally of one status and with a phone prefix.

    Read a page of them inside `messages_in_index_order()`.
    """
    messages = Message.objects.filter(broadcast=broadcast)
    if status in Message.Status.values:
        messages = messages.filter(status=status)
    digits = "".join(ch for ch in phone if ch in "0123456789")
    if digits:
        # A range, not LIKE 'prefix%': the (broadcast, …, phone) btree indexes serve a range in
        # any collation, LIKE only with a pattern_ops index. "3809" → [3809, 381).
        messages = messages.filter(phone__gte=digits)
        upper = digits.rstrip("9")
        if upper:
            messages = messages.filter(phone__lt=upper[:-1] + str(int(upper[-1]) + 1))
    return messages.order_by("phone")  # the order of the indexes, so a page never sorts a million rows


@contextmanager
def messages_in_index_order():
    """Within the block, PostgreSQL reads a page of messages from an index in phone order.

    Right after a broadcast's messages are inserted, the table's statistics do not know the
    broadcast yet: PostgreSQL then guesses a few dozen rows for (broadcast, status) and fetches
    and sorts all of them — a million, 0.5 s — instead of reading the first 50 from the index that
    is already in phone order. Sorting is what such a plan needs, so it is ruled out here.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_sort = off")
        yield


def broadcasts_search(*, query: str = "", state: str = "", campaign=None) -> QuerySet[Broadcast]:
    broadcasts = Broadcast.objects.select_related("campaign", "account").filter(recurrence__isnull=True)
    if campaign is not None:
        broadcasts = broadcasts.filter(campaign=campaign)
    if query:
        broadcasts = broadcasts.filter(Q(name__icontains=query) | Q(campaign__name__icontains=query))
    if state in Broadcast.State.values:
        broadcasts = broadcasts.filter(state=state)
    return broadcasts.order_by("-created_at")


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def overview(*, days: int) -> dict:
    """The overview page: totals over broadcasts submitted in the last `days` days (counter sums)."""
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    from messaging.models import ProviderAccount
    from messaging.selectors import mirror_sync_problems

    since = timezone.now() - timedelta(days=days)
    totals = Broadcast.objects.filter(submitted_at__gte=since).aggregate(
        sent=Sum("sent"), delivered=Sum("delivered"), clicked=Sum(CLICKED), cost=Sum("cost"),
        **{name: Sum(name) for name in FAILED_COUNTERS},
    )
    totals = {name: value or 0 for name, value in totals.items()}
    totals["failed"] = failed_total(totals)
    # One currency per account: a sum over accounts billed in different ones has none.
    currencies = set(Broadcast.objects.filter(submitted_at__gte=since).values_list("account__currency", flat=True)
                     .distinct()[:2]) or set(ProviderAccount.objects.filter(is_active=True)
                                             .values_list("currency", flat=True).distinct()[:2])
    return {
        "days": days,
        "totals": totals,
        "currency": currencies.pop() if len(currencies) == 1 else "",
        "recent": Broadcast.objects.filter(recurrence__isnull=True).exclude(state=Broadcast.State.DRAFT)
        .select_related("campaign").order_by("-created_at")[:8],
        "scheduled": Broadcast.objects.filter(state=Broadcast.State.SCHEDULED).order_by("send_at")[:8],
        "drafts": Broadcast.objects.filter(state__in=[Broadcast.State.DRAFT, Broadcast.State.ESTIMATED],
                                           recurrence__isnull=True).order_by("-created_at")[:5],
        "lists": apps.get_model("recipients.RecipientList").objects.filter(enabled=True).order_by("-updated_at")[:6],
        "sync_problems": mirror_sync_problems(limit=10),
        "reports_missing": broadcasts_missing_reports(limit=10),
        "trend": overview_trend(since=since),
    }


def broadcasts_missing_reports(*, limit: int) -> list[Broadcast]:
    """Sent broadcasts whose delivery reports should have come by now and have not, all or some
    (`missing` on each): their figures say nothing yet about what recipients got. Providers that
    send no reports at all are left out."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import F
    from django.utils import timezone

    from messaging.models import ProviderAccount

    late = timezone.now() - timedelta(seconds=settings.DELIVERY_REPORTS_LATE_SECONDS)
    missing = F("sent") - sum((F(name) for name in OUTCOMES[1:]), F(OUTCOMES[0]))
    reporting = Q(account__kind=ProviderAccount.Kind.MESSAGEWHIZ) | Q(account__generic__dlr_enabled=True)
    return list(Broadcast.objects.filter(reporting, state__in=(Broadcast.State.SUBMITTED, Broadcast.State.COMPLETED),
                                         submitted_at__lt=late, recurrence__isnull=True)
                .annotate(missing=missing).filter(missing__gt=0).order_by("-submitted_at")[:limit])


def overview_trend(*, since) -> list[dict]:
    """Per day (in the site's zone) of the period, oldest first: the counters of the broadcasts
    submitted that day, summed the same way as the overview's totals (so the bars add up to them;
    the first day is the part of it inside the period). Days without any are 0."""
    from datetime import timedelta

    from django.db.models.functions import TruncDate
    from django.utils import timezone

    rows = (Broadcast.objects.filter(submitted_at__gte=since)
            .annotate(day=TruncDate("submitted_at", tzinfo=timezone.get_current_timezone()))
            .values("day").order_by("day")
            .annotate(sent=Sum("sent"), delivered=Sum("delivered"), clicked=Sum(CLICKED),
                      **{name: Sum(name) for name in FAILED_COUNTERS}))
    by_day = {row["day"]: row for row in rows}
    first = timezone.localdate(since)
    trend = []
    for offset in range((timezone.localdate() - first).days + 1):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        trend.append({"day": day.isoformat(), "sent": row.get("sent") or 0, "delivered": row.get("delivered") or 0,
                      "failed": failed_total(row), "clicked": row.get("clicked") or 0})
    return trend

