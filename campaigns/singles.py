"""Transactional single messages through MessageWhiz's fast single (`POST /sms`).

The message row (with its client_ref) is written before the request leaves and MessageWhiz is
told our DLR URL, so its delivery report lands on the right message even if it arrives before
the answer does. A lost answer is never retried: the delivery report, matched by client_ref,
tells whether it went.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import AmbiguousRequestError, MessageWhizError
from messaging.validators import validate_sender_name

from .models import Broadcast, Message
from .models.broadcasts import STATUS_RANK
from .signals import messages_identified
from .states import broadcast_transition

MAX_TEXT = 100_000  # the reference's own limit for `text`


class SingleProblem(Exception):
    pass


def dlr_callback_url(account) -> str:
    return settings.PUBLIC_BASE_URL + reverse("callbacks:dlr", kwargs={"token": account.callback_token})


def single_send(*, account, sender: str, phone: str, text: str, actor=None) -> Message:
    phone = "".join(ch for ch in phone if ch.isdigit())
    if not 10 <= len(phone) <= 15:
        raise SingleProblem("The recipient number must be 10 to 15 digits in international format.")
    if not text.strip() or len(text) > MAX_TEXT:
        raise SingleProblem("Write the message (up to 100,000 characters).")
    try:
        validate_sender_name(sender)
    except ValidationError as exc:
        raise SingleProblem(exc.messages[0]) from None

    broadcast = Broadcast.objects.create(account=account, name=f"Single to {phone}", type=Broadcast.Type.SINGLE,
                                         recipient=phone, body=text, created_by=actor)
    message = Message.objects.create(account=account, broadcast=broadcast, phone=phone)
    broadcast_transition(broadcast, Broadcast.State.SUBMITTING, actor=actor, reason="Sending a single message")
    try:
        with MessageWhizClient.from_account(account) as client:
            result = client.fast_single_send(to=phone, sender=sender, text=text, client_ref=str(message.client_ref),
                                             callback=dlr_callback_url(account))
    except AmbiguousRequestError as exc:
        # It may have gone: not sent again; its delivery report will say (matched by client_ref).
        broadcast_transition(broadcast, Broadcast.State.SUBMITTED, last_error=f"No answer from MessageWhiz ({exc})",
                             reason="No answer; waiting for the delivery report", recipients_count=1)
        return message
    except MessageWhizError as exc:
        Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, error=str(exc),
                                                     status_rank=STATUS_RANK[Message.Status.FAILED],
                                                     status_at=timezone.now())
        broadcast_transition(broadcast, Broadcast.State.FAILED, reason=str(exc), last_error=str(exc),
                             recipients_count=1, failed=F("failed") + 1)
        raise SingleProblem(f"MessageWhiz refused the message: {exc}") from exc
    Message.objects.filter(pk=message.pk, status_rank__lt=STATUS_RANK[Message.Status.SUBMITTED]).update(
        status=Message.Status.SUBMITTED, status_rank=STATUS_RANK[Message.Status.SUBMITTED],
        submitted_at=timezone.now())
    Message.objects.filter(pk=message.pk).update(provider_message_id=str(result.get("message_id") or ""))
    broadcast_transition(broadcast, Broadcast.State.SUBMITTED, reason="Accepted by MessageWhiz",
                         recipients_count=1, sent=1)
    # A report that came in before we stored the provider's id is applied now.
    messages_identified.send(sender=Message, message_ids=[message.pk])
    message.refresh_from_db()
    return message
