"""What the overview's "Needs attention" shows about callbacks. A template tag, because the
overview is campaigns' page and campaigns sits below callbacks (it never imports it)."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone

from callbacks.models import CallbackEvent
from callbacks.selectors import PENDING_MAX_AGE

register = template.Library()
COUNT_CAP = 10_000


@register.simple_tag
def unmatched_clicks() -> int:
    """Clicks stored for a while that name no message Textcast knows: they count on no figure.
    (MessageWhiz names a broadcast's messages in clicks by an id its delivery reports do not carry.)
    Counted up to COUNT_CAP, along the index of waiting events."""
    now = timezone.now()
    late = now - timedelta(seconds=settings.DELIVERY_REPORTS_LATE_SECONDS)
    waiting = CallbackEvent.objects.filter(applied_at__isnull=True, received_at__gte=now - PENDING_MAX_AGE,
                                           received_at__lt=late, kind=CallbackEvent.Kind.CLICK)
    return waiting.values("pk")[:COUNT_CAP].count()
