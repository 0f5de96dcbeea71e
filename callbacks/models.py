"""The raw callback log and the clicks applied from it.

`CallbackEvent` is one accepted request, kept exactly as received: it is what `replay_callbacks`
re-applies and what an operator reads when a figure looks wrong. `Click` is one de-duplicated
link click; its unique constraint is what makes a re-delivered click count once.
"""

from django.db import models
from django.db.models import Q


class CallbackEvent(models.Model):
    class Kind(models.TextChoices):
        DLR = "dlr", "Delivery report"
        DLR_BATCH = "dlr_batch", "DLR to webhook batch"
        CLICK = "click", "Link click"

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+",
                                db_index=False)  # covered by the (account, received_at) index
    kind = models.CharField(max_length=9, choices=Kind.choices)
    body = models.TextField(help_text="The request body as received (UTF-8 JSON)")
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
