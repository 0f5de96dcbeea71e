"""Outbound webhooks: the endpoints an admin configures, the outbox, and the delivery log.

The outbox (`WebhookMessage`) has one row per event and endpoint, written by `emit()` in the
transaction of the change it reports, so an event is delivered if and only if its change
committed. Rows are claimed with a lease (`lease_until`): a worker that dies mid-request leaves
its rows to the next one once the lease runs out, and they go again under the same webhook-id.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

EVENT_TYPES = (
    ("message.delivered", "A message was delivered"),
    ("message.failed", "A message failed (undelivered, expired, rejected)"),
    ("link.clicked", "A recipient clicked a link"),
    ("broadcast.completed", "A broadcast completed"),
    ("broadcast.failed", "A broadcast failed"),
    ("optout.created", "A number opted out"),
    ("optin.created", "A number opted in"),
)
TEST_EVENT = "webhook.test"  # sent by "Send a test event" to one endpoint, whatever it subscribes to


class WebhookEndpoint(models.Model):
    name = models.CharField(max_length=100)
    url = models.URLField("URL", max_length=500, help_text="Where events are POSTed (https recommended)")
    event_types = models.JSONField(default=list, help_text="Event types this endpoint receives")
    enabled = models.BooleanField(default=True)
    batch = models.BooleanField("batching", default=False,
                                help_text="Send up to “batch size” events per request, as a JSON array")
    batch_size = models.PositiveIntegerField(default=500)
    # The signing secret, "whsec_" + base64. Shown once when created or rotated, never rendered again.
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret keeps signing too (a second signature) until this time, so
    # receivers can switch over without dropping events.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Circuit breaker: consecutive failed requests; at the threshold, no requests until
    # `paused_until`, then one probe request decides (success closes it, failure pauses longer).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    pauses = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    def event_labels(self) -> list[str]:
        return [name for name, _ in EVENT_TYPES if name in self.event_types]


class WebhookMessage(models.Model):
    """One event on its way to one endpoint (the outbox row)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"  # leased by a worker (until lease_until)
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # Indexed only through webhook_due: every index is paid for at 20k rows a second.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages",
                                 db_index=False)
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    # The event as sent, {"id", "type", "timestamp", "data"}: serialised once, when emitted.
    body = models.TextField()
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Retried until then (WEBHOOK_RETRY_WINDOW_SECONDS after it was emitted or redelivered), then failed.
    expires_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    # The webhook-id of the request carrying it: the event id, or a batch's id. Kept across
    # retries, so a repeated request always has the id the receiver de-duplicates on.
    batch_id = models.CharField(max_length=40, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "next_attempt_at", "id"], condition=Q(state="pending"),
                         name="webhook_due"),
            # Rows in flight or waiting to go again under the webhook-id they had: few, so a batch
            # to retry or a dead worker's lease is found without walking the backlog.
            models.Index(fields=["endpoint", "batch_id"], name="webhook_open",
                         condition=Q(state__in=["pending", "sending"]) & ~Q(batch_id="")),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One request to an endpoint: the delivery log."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    webhook_id = models.CharField(max_length=40)
    events = models.PositiveIntegerField(default=1)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)  # truncated
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # truncated
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_log"),
                   models.Index(fields=["webhook_id"], name="webhook_log_id")]

    def __str__(self):
        return f"{self.webhook_id} → {self.response_status or self.error[:40]}"

    @property
    def ok(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
