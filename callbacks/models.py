"""The raw callback log and the clicks applied from it.

`CallbackEvent` is one accepted request, kept exactly as received: it is what `replay_callbacks`
re-applies, what the recount (check_callbacks) folds, and what an operator reads when a figure
looks wrong. `Click` is one de-duplicated link click; its unique constraint is what makes a
re-delivered click count once. `BroadcastMinute` and `BroadcastLink` are the DLR timeline and the
clicks per link, pre-aggregated as events are applied, so the broadcast page never counts rows.
"""

from django.db import models
from django.db.models import Q


class CallbackEvent(models.Model):
    class Kind(models.TextChoices):
        DLR = "dlr", "Delivery report"
        DLR_BATCH = "dlr_batch", "DLR to webhook batch"
        CLICK = "click", "Link click"
        GENERIC = "generic", "Generic provider DLR"

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+",
                                db_index=False)  # covered by the (account, received_at) index
    kind = models.CharField(max_length=9, choices=Kind.choices)
    body = models.TextField(help_text="The request body as received (generic GET reports: the query string)")
    # SHA-256 of the event's natural key (callbacks.parsing): repeats of one report share it, which
    # is what an operator looks for. Not indexed: repeats are made harmless by the row-level rules
    # in callbacks.services, and every index costs on the hottest insert path.
    dedupe_key = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    # Null while the event names a message we do not know yet; the pending sweep retries it.
    applied_at = models.DateTimeField(null=True, blank=True)
    # The Redis stream entry it came through: a drainer that dies between committing and
    # acknowledging reads the entry again, and this keeps the second copy out.
    buffer_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "received_at"], name="callbackevent_account_time"),
            models.Index(fields=["received_at"], condition=Q(applied_at__isnull=True), name="callbackevent_pending"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class EventReference(models.Model):
    """How an event still waiting for its message names it ("r:<client_ref>", "i:<provider id>",
    "b:<MessageWhiz broadcast id>:<phone>", and "B:<MessageWhiz broadcast id>" for the whole
    broadcast's arrival): when messages appear or learn their provider id, the
    events naming them are found by these keys instead of retrying every waiting event. Deleted
    with the event's application."""

    event = models.ForeignKey(CallbackEvent, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100, db_index=True)

    def __str__(self):
        return self.key


class BroadcastMinute(models.Model):
    """Status changes applied to a broadcast's messages in one minute (by the provider's time when it
    gives one), per new status: the DLR timeline."""

    broadcast = models.ForeignKey("campaigns.Broadcast", on_delete=models.CASCADE, related_name="+",
                                  db_index=False)  # covered by the unique constraint
    minute = models.DateTimeField()
    status = models.CharField(max_length=11)
    changes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["broadcast", "minute", "status"], name="broadcast_minute_once")]

    def __str__(self):
        return f"{self.minute:%Y-%m-%d %H:%M} {self.status}: {self.changes}"


class BroadcastLink(models.Model):
    """Clicks on one link of a broadcast's messages, and how many messages had them."""

    broadcast = models.ForeignKey("campaigns.Broadcast", on_delete=models.CASCADE, related_name="+",
                                  db_index=False)  # covered by the unique constraint
    link_id = models.CharField(max_length=255)
    clicks = models.PositiveIntegerField(default=0)
    people = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["broadcast", "link_id"], name="broadcast_link_once")]

    def __str__(self):
        return f"{self.link_id}: {self.clicks}"


class Click(models.Model):
    message = models.ForeignKey("campaigns.Message", on_delete=models.CASCADE, related_name="+",
                                db_index=False)  # covered by the unique constraint
    link_id = models.CharField(max_length=255)
    clicked_at = models.DateTimeField()
    unique_click = models.BooleanField(null=True, help_text="The provider's unique_click flag")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "link_id", "clicked_at"], name="click_counted_once"),
        ]

    def __str__(self):
        return f"{self.link_id} at {self.clicked_at:%Y-%m-%d %H:%M:%S}"
