"""Broadcasts, their smart segments, and the per-recipient messages they produce.

A broadcast moves through `Broadcast.State` only by `campaigns.states.broadcast_transition`, which
records every step (who, when, why) as a `BroadcastEvent`. Delivery figures are pre-aggregated on
the broadcast (updated with the message status change that causes them), so pages never count a
million message rows.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from messaging.models import RetryPolicy


class Broadcast(RetryPolicy):
    class Type(models.IntegerChoices):
        SINGLE = 10, "Single message"
        BASE = 11, "Base broadcast"
        SMART = 12, "Smart broadcast"

    class SmartType(models.TextChoices):
        MANUAL = "manual", "Manual segments"
        CTR = "CTR", "CTR threshold"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        ESTIMATED = "estimated", "Estimated"
        # Confirmed, but over its account's approval threshold: waits for a second person (campaigns.approvals).
        AWAITING_APPROVAL = "awaiting", "Awaiting approval"
        SCHEDULED = "scheduled", "Scheduled"
        SUBMITTING = "submitting", "Submitting"
        SUBMITTED = "submitted", "Submitted"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="broadcasts")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="broadcasts")
    name = models.CharField(max_length=255)
    type = models.PositiveSmallIntegerField(choices=Type.choices, default=Type.BASE)
    eb_type = models.CharField("smart type", max_length=6, choices=SmartType.choices, blank=True)
    first_segment_size = models.PositiveIntegerField(null=True, blank=True)
    next_segment_size = models.PositiveIntegerField(null=True, blank=True)
    conversion_threshold = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)],
        help_text="Conversion % that releases the next segment",
    )
    recipient_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit")
    exp_date = models.DateTimeField("expires", null=True, blank=True)

    senders = models.ManyToManyField("messaging.Sender", blank=True, related_name="broadcasts")
    sender_lists = models.ManyToManyField("messaging.SenderList", blank=True, related_name="broadcasts")
    recipient_lists = models.ManyToManyField("recipients.RecipientList", blank=True, related_name="broadcasts")
    recipient = models.CharField(max_length=15, blank=True, help_text="A single recipient's number")
    unsubscribe_lists = models.ManyToManyField("recipients.UnsubscribeList", blank=True, related_name="broadcasts")

    body = models.TextField(blank=True)
    template = models.ForeignKey("campaigns.Template", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    templates = models.ManyToManyField("campaigns.Template", blank=True, related_name="+",
                                       help_text="Manual smart broadcasts: one template per segment")

    send_at = models.DateTimeField(null=True, blank=True, help_text="Empty: send now")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="The zone send_at was chosen in")
    trigger = models.ForeignKey("campaigns.Trigger", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="broadcasts")
    delay = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes after the trigger fires")
    custom_parameter = models.CharField(max_length=40, blank=True)
    # Tightens the account's sending window (recipient local time); widening it needs the
    # campaigns.widen_sending_window permission (campaigns.policy).
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    # Set on broadcasts made by a recurring schedule: which one, and for which firing (once each).
    recurrence_run = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)

    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    # Generic-provider broadcasts only (campaigns.dispatch): whether our own sender keeps going.
    dispatch_state = models.CharField(max_length=9, blank=True, choices=[
        ("running", "Sending"), ("paused", "Paused"), ("cancelled", "Cancelled"), ("done", "Done")])
    # Held by the one worker sending it; a crashed worker's lease runs out and another takes over.
    dispatch_lease = models.DateTimeField(null=True, blank=True, editable=False)
    # The holder's token: only the holder renews or releases the lease, or claims and starts messages.
    dispatch_owner = models.CharField(max_length=32, blank=True, editable=False)
    # WhatsApp accounts: the approved template sent; each line of the rendered body fills one of its
    # variables in order: a text header's {{1}} first, then the body's {{1}}, {{2}}, ….
    whatsapp_template = models.ForeignKey("messaging.WhatsAppTemplate", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="+")
    # Stable across retries and worker restarts: the key an ambiguous submission is reconciled by.
    submission_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # MessageWhiz broadcasts left submitting: no other attempt may start before this time (a request
    # may still be in flight, or the next attempt is not due yet). campaigns.sending explains.
    submission_lease = models.DateTimeField(null=True, blank=True, editable=False)
    submission_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    remote_id = models.BigIntegerField("MessageWhiz broadcast id", null=True, blank=True, db_index=True)
    remote_segment_id = models.BigIntegerField(null=True, blank=True)
    # MessageWhiz's `state`, as reported: the reference never says what its values mean, so it is
    # shown, never acted on (campaigns.followup decides completion from the delivery figures).
    remote_state = models.CharField(max_length=40, blank=True, default="")
    estimate = models.JSONField(default=dict, blank=True, help_text="MessageWhiz's /Broadcast/estimate answer")
    local_estimate = models.JSONField(default=dict, blank=True, help_text="Our own pre-estimate")
    estimated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # MessageWhiz's own figures (delivery report, broadcastConversion), refreshed until final;
    # shown beside ours, which come from delivery callbacks.
    provider_report = models.JSONField(default=dict, blank=True)

    # Pre-aggregated delivery figures, kept exact by callbacks.services (never counted per request).
    recipients_count = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    undelivered = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    clicks_total = models.PositiveIntegerField(default=0)
    clicks_unique = models.PositiveIntegerField(default=0)
    # MessageWhiz's own click counts for the broadcast (broadcastConversion). Its click callbacks
    # name a broadcast's messages by an id its delivery reports never carry, so ours can stay
    # behind; the figures show the larger of the two (see `clicked`).
    reported_clicks_unique = models.PositiveIntegerField(null=True, blank=True, editable=False)
    reported_clicks_total = models.PositiveIntegerField(null=True, blank=True, editable=False)
    conversion = models.FloatField(null=True, blank=True, help_text="% of recipients who clicked")
    # The sending policy's figures (campaigns.policy): held = waiting for the recipient's window now.
    held = models.PositiveIntegerField("held for quiet hours", default=0)
    capped = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField("opted out", default=0)

    # A test send (campaigns.drafts) is a broadcast of its own, so the tested one's figures stay its own.
    test_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="test_sends",
                                editable=False)

    # Broadcasts Textcast derives from another one (a part held for a later sending window, a retry
    # of what was not delivered, an A/B variant or its winner) point at it: their figures roll up.
    class Role(models.TextChoices):
        WINDOW = "window", "Later sending window"
        RETRY = "retry", "Retry of undelivered"
        VARIANT = "variant", "A/B variant"
        WINNER = "winner", "A/B winner"

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children",
                               editable=False)
    role = models.CharField(max_length=8, choices=Role.choices, blank=True, editable=False)
    # MessageWhiz broadcasts (campaigns.parts): the recipient list Textcast made for this broadcast
    # alone, of the recipients the sending policy lets it reach at its send time.
    part_list = models.ForeignKey("recipients.RecipientList", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "state"])]
        constraints = [
            # A broadcast's undelivered messages are retried once, all through one child broadcast.
            models.UniqueConstraint(fields=["parent"], condition=models.Q(role="retry"), name="broadcast_one_retry"),
            # An A/B test's winner is sent once: a second decision cannot make another winner send.
            models.UniqueConstraint(fields=["parent"], condition=models.Q(role="winner"), name="broadcast_one_winner"),
        ]
        permissions = [("widen_sending_window", "Can send outside the account's sending window"),
                       ("send_broadcast", "Can send, schedule and cancel broadcasts and single messages"),
                       ("approve_broadcast", "Can approve or reject another user's broadcast above the threshold")]

    def __str__(self):
        return self.name

    @property
    def clicked(self) -> int:
        """Recipients who clicked: counted from click callbacks, or MessageWhiz's count if higher."""
        return max(self.clicks_unique, self.reported_clicks_unique or 0)

    @property
    def clicks_by_provider(self) -> bool:
        return (self.reported_clicks_unique or 0) > self.clicks_unique

    @property
    def is_final(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.FAILED, self.State.CANCELLED)


class BroadcastEvent(models.Model):
    """One recorded state transition of a broadcast."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.from_state or '∅'} → {self.to_state}"


class Segment(models.Model):
    """A smart broadcast's segment: the first one, or one added by "continue"."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="segments")
    remote_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    size = models.PositiveIntegerField()
    body = models.TextField(blank=True)
    templates = models.ManyToManyField("campaigns.Template", blank=True, related_name="+")
    senders = models.ManyToManyField("messaging.Sender", blank=True, related_name="+")
    sender_lists = models.ManyToManyField("messaging.SenderList", blank=True, related_name="+")
    send_at = models.DateTimeField(null=True, blank=True)
    trigger = models.ForeignKey("campaigns.Trigger", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    utc_offset = models.SmallIntegerField(default=0, validators=[MinValueValidator(-720), MaxValueValidator(720)])
    recipient_cap = models.PositiveIntegerField(null=True, blank=True)
    first_segment_size = models.PositiveIntegerField(null=True, blank=True)
    next_segment_size = models.PositiveIntegerField(null=True, blank=True)
    remote_state = models.CharField(max_length=40, blank=True, default="")  # as reported; meaning undocumented
    recipient_count = models.PositiveIntegerField(null=True, blank=True)
    estimated_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    submission_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Segment {self.remote_id or '(new)'} of {self.broadcast}"


class Message(models.Model):
    """What one recipient gets from one broadcast, and what became of it.

    `status` only moves forward (`STATUS_RANK`); final statuses are final. The change and the
    broadcast's counters move together in callbacks.services.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"  # generic providers: its request has gone out, no answer yet
        SUBMITTED = "submitted", "Submitted"
        ENROUTE = "enroute", "En route"
        ACCEPTED = "accepted", "Accepted"
        UNKNOWN = "unknown", "Unknown"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        EXPIRED = "expired", "Expired"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"
        OPTED_OUT = "opted_out", "Not sent: opted out"
        CAPPED = "capped", "Not sent: frequency cap"

    # Messages are found by broadcast, client_ref or provider id, never by account: no index
    # (every index costs a million entries per million-recipient broadcast).
    # No foreign-key constraints either: checking them row by row took half the time of making a
    # broadcast's million messages. Deletes go through the ORM (it cascades and protects as
    # on_delete says); the fan-out locks both rows FOR KEY SHARE while it inserts
    # (campaigns.sending.messages_lock_parents), so neither can go away meanwhile.
    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+",
                                db_index=False, db_constraint=False)
    broadcast = models.ForeignKey(Broadcast, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="messages", db_index=False, db_constraint=False)
    phone = models.CharField(max_length=15)
    # ISO region of the number (recipients.phones.PhoneRegions), "" if none: cost per country.
    country = models.CharField(max_length=2, blank=True, default="", db_default="")
    # Our stable id, sent as client_ref / $$MessageID: a retried send is recognised by it.
    client_ref = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider_message_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=11, choices=Status.choices, default=Status.QUEUED)
    status_rank = models.PositiveSmallIntegerField(default=0)
    parts = models.PositiveSmallIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    # The status rank of the report `parts` / `price` came from (0: none): each is taken from the
    # highest-ranked report carrying it (equal ranks: the larger value), in whatever order reports
    # arrive (callbacks.selectors.report_figure). A database default: bulk INSERTs leave them out.
    parts_rank = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    price_rank = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    error = models.TextField(blank=True)
    clicks = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    # Quiet hours: not claimed before this time (the recipient's window opens then).
    not_before = models.DateTimeField(null=True, blank=True)
    # A retry of an undelivered message through another route (campaigns.retries): at most one per
    # message (the partial unique index below also serves "is it retried yet?").
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries",
                                 db_index=False, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["retry_of"], condition=models.Q(retry_of__isnull=False),
                                    name="message_one_retry"),
            models.UniqueConstraint(fields=["broadcast", "phone"], name="message_unique_recipient_per_broadcast"),
        ]
        indexes = [
            # A broadcast's messages by status, in phone order: the message table's filter, the
            # dispatcher's claim of QUEUED messages and per-status counts all read it in index order,
            # without sorting a million rows (the unique index above serves the unfiltered table).
            models.Index(fields=["broadcast", "status", "phone"], name="message_broadcast_status"),
            # Only messages MessageWhiz gave an id (fast singles) are looked up by it.
            models.Index(fields=["provider_message_id"], condition=~models.Q(provider_message_id=""),
                         name="message_provider_id"),
        ]

    def __str__(self):
        return f"{self.phone} ({self.status})"


# How far along a message is; a status never replaces one of higher rank. UNKNOWN sits just
# below the definite final states so a late definite answer still lands.
STATUS_RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.SENDING: 0,
    Message.Status.SUBMITTED: 1,
    Message.Status.ENROUTE: 2,
    Message.Status.ACCEPTED: 3,
    Message.Status.UNKNOWN: 8,
    Message.Status.DELIVERED: 10,
    Message.Status.UNDELIVERED: 10,
    Message.Status.EXPIRED: 10,
    Message.Status.REJECTED: 10,
    Message.Status.FAILED: 10,
    Message.Status.DELETED: 10,
    # Never sent (campaigns.policy), so never reported on: rank 0, like a message not sent yet, keeps
    # them out of "sent" in every count; only QUEUED is ever claimed, so they stay final.
    Message.Status.OPTED_OUT: 0,
    Message.Status.CAPPED: 0,
}


class SendRecord(models.Model):
    """One message let through to a number (campaigns.policy): what frequency caps count, across
    every broadcast of the account. Written at claim time; old rows are only read by the window."""

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    phone = models.CharField(max_length=20)
    message = models.OneToOneField(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "phone", "sent_at"], name="send_record_window")]

    def __str__(self):
        return f"{self.phone} at {self.sent_at}"


class BroadcastRoute(models.Model):
    """How many of a broadcast's messages one provider account carried (campaigns.dispatch moves
    it with the broadcast's counters): the account itself, or a failover route while its breaker
    was open."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="routes")
    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.CASCADE, related_name="+")
    sent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["broadcast", "account"], name="broadcast_route_once")]

    def __str__(self):
        return f"{self.account}: {self.sent}"


class RecurringBroadcast(models.Model):
    """Sends a copy of a saved broadcast on a schedule, e.g. every Monday 10:00 Europe/Kyiv.

    `definition` is a draft broadcast that is never sent itself; each run clones it into a new
    broadcast. django-celery-beat's PeriodicTask fires the runs.
    """

    definition = models.OneToOneField(Broadcast, on_delete=models.CASCADE, related_name="recurrence")
    minute = models.CharField(max_length=64, default="0")
    hour = models.CharField(max_length=64, default="10")
    day_of_week = models.CharField(max_length=64, default="*")
    day_of_month = models.CharField(max_length=64, default="*")
    month_of_year = models.CharField(max_length=64, default="*")
    time_zone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.definition} ({self.minute} {self.hour} {self.day_of_month} {self.month_of_year} " \
               f"{self.day_of_week} {self.time_zone})"


class SendingProfile(models.Model):
    """Where a user last sent test messages: their own number and a seed list, offered again next time."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sending_profile")
    phone = models.CharField(max_length=15, blank=True)
    seed_list = models.ForeignKey("recipients.RecipientList", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    def __str__(self):
        return f"Test sends of {self.user}"
