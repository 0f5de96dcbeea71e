"""Reads for broadcast pages: figures come from pre-aggregated counters, never from counting messages."""

from django.db.models import Q, QuerySet, Sum

from .models import Broadcast, Message

OUTCOMES = ("delivered", "undelivered", "expired", "rejected", "failed", "unknown")


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
                   ("Clicked", broadcast.clicks_unique)],
        "breakdown": [("In flight", in_flight), *((name.capitalize(), getattr(broadcast, name)) for name in OUTCOMES)],
        "delivery_reports": reports,
        "delivery_rate": _percent(broadcast.delivered, broadcast.sent) if reports else None,
        "click_rate": _percent(broadcast.clicks_unique, broadcast.delivered or broadcast.sent),
        "cost": broadcast.cost,
        "clicks_total": broadcast.clicks_total,
        "state": broadcast.state,
        "is_final": broadcast.is_final,
    }


def campaign_figures(campaign) -> dict:
    """A campaign's figures: the sum of its broadcasts' counters (broadcasts, not messages)."""
    totals = Broadcast.objects.filter(campaign=campaign).aggregate(
        **{name: Sum(name) for name in ("sent", "delivered", "undelivered", "expired", "rejected", "failed", "unknown",
                                        "cost", "clicks_total", "clicks_unique", "recipients_count")}
    )
    return {name: value or 0 for name, value in totals.items()}


def broadcast_messages(broadcast: Broadcast, *, status: str = "", phone: str = "") -> QuerySet[Message]:
    messages = Message.objects.filter(broadcast=broadcast)
    if status in Message.Status.values:
        messages = messages.filter(status=status)
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits:
        messages = messages.filter(phone__startswith=digits)
    return messages.order_by("phone")  # the order of the indexes, so a page never sorts a million rows


def broadcasts_search(*, query: str = "", state: str = "") -> QuerySet[Broadcast]:
    broadcasts = Broadcast.objects.select_related("campaign", "account").filter(recurrence__isnull=True)
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

    from messaging.mirror import SyncState

    since = timezone.now() - timedelta(days=days)
    totals = Broadcast.objects.filter(submitted_at__gte=since).aggregate(
        sent=Sum("sent"), delivered=Sum("delivered"), clicked=Sum("clicks_unique"),
        failed=Sum("failed") , undelivered=Sum("undelivered"), rejected=Sum("rejected"), expired=Sum("expired"),
        cost=Sum("cost"),
    )
    totals = {name: value or 0 for name, value in totals.items()}
    totals["not_delivered"] = sum(totals.pop(name) for name in ("failed", "undelivered", "rejected", "expired"))
    problems = []
    for label in ("campaigns.Campaign", "campaigns.Template", "campaigns.Link", "campaigns.LinkList",
                  "campaigns.WordSpinner", "campaigns.Trigger", "messaging.Sender", "messaging.SenderList",
                  "recipients.RecipientList", "recipients.UnsubscribeList"):
        model = apps.get_model(label)
        for obj in model.objects.filter(sync_state=SyncState.FAILED).order_by("-updated_at")[:5]:
            problems.append((model._meta.verbose_name, obj))
    return {
        "days": days,
        "totals": totals,
        "recent": Broadcast.objects.filter(recurrence__isnull=True).exclude(state=Broadcast.State.DRAFT)
        .select_related("campaign").order_by("-created_at")[:8],
        "scheduled": Broadcast.objects.filter(state=Broadcast.State.SCHEDULED).order_by("send_at")[:8],
        "drafts": Broadcast.objects.filter(state__in=[Broadcast.State.DRAFT, Broadcast.State.ESTIMATED],
                                           recurrence__isnull=True).order_by("-created_at")[:5],
        "lists": apps.get_model("recipients.RecipientList").objects.filter(enabled=True).order_by("-updated_at")[:6],
        "sync_problems": problems[:10],
    }

