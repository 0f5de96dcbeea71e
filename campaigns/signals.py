"""What campaigns announce to the apps above it (which campaigns never imports)."""

from django.dispatch import Signal

# Sent with `message_ids` once messages have the provider's id, or with `broadcast_remote_ids` once
# a MessageWhiz broadcast's messages exist: delivery reports that arrived before (and are waiting
# in callbacks) can now be applied.
messages_identified = Signal()
