"""What campaigns announce to the apps above it (which campaigns never imports)."""

import logging

from django.dispatch import Signal

from .models import Message

logger = logging.getLogger(__name__)

# Sent with `message_ids` once messages have the provider's id, or with `broadcast_remote_ids` once
# a MessageWhiz broadcast's messages exist: delivery reports that arrived before (and are waiting
# in callbacks) can now be applied.
messages_identified = Signal()


def messages_identified_announce(*, message_ids=(), broadcast_remote_ids=()) -> None:
    """Send messages_identified. It follows a send the provider took, so a receiver that fails (the
    database, say) is logged rather than raised: the periodic sweep applies what still waits."""
    for _receiver, result in messages_identified.send_robust(
            sender=Message, message_ids=list(message_ids), broadcast_remote_ids=list(broadcast_remote_ids)):
        if isinstance(result, Exception):
            logger.warning("Applying delivery reports that came early failed", exc_info=result)
