"""What every local copy of a remote (MessageWhiz) object has in common.

A mirrored row knows its remote id, whether our copy and the provider's agree (`sync_state`),
when they last did, and why they don't. Local edits set the state to PENDING; a push task makes
the provider agree and sets SYNCED, or FAILED with the provider's answer in `sync_error`.

Conflict rule: a local edit not yet pushed (PENDING or FAILED) wins over a remote change; a
pull updates only rows whose local copy is unchanged since the last sync (same `revision`).
"""

from django.db import models


class SyncState(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    DISABLED = "disabled", "Disabled"


class MirroredModel(models.Model):
    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+")
    remote_id = models.BigIntegerField(null=True, blank=True, help_text="The provider's id for this object")
    enabled = models.BooleanField(default=True)
    sync_state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.PENDING)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    # The provider's representation as of the last successful sync. A pull compares against it
    # to tell a remote change from no change; a push compares against it to choose PUT or PATCH.
    remote_snapshot = models.JSONField(default=dict, blank=True, editable=False)
    # Set just before a create request leaves; if it is set and remote_id is not, the previous
    # attempt may have created the object, so the next attempt looks it up by name first.
    create_attempted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Bumped by every local edit; a push marks the row synced only if no edit came in meanwhile.
    revision = models.PositiveIntegerField(default=0, editable=False)
    # When the push queued for this row is due (a retry's backoff included): the beat job re-queues
    # only pushes that are overdue, i.e. lost, not those waiting out an outage.
    next_push_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["account", "remote_id"], name="%(app_label)s_%(class)s_unique_remote_id"
            )
        ]
