"""What generic providers tell us, applied: delivery reports mapped by the account's field table,
and inbound messages (a stop keyword opts the number out; an unknown number may get an auto-reply).

Reading a provider's request is messaging.providers' job; applying it to messages, opt-out lists
and replies is this layer's, above campaigns and recipients.
"""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.models import Message
from campaigns.tasks import send_provider_reply
from messaging.models import InboundMessage, ProviderAccount
from messaging.providers import inbound
from messaging.providers.generic import dlr
from recipients.models import Recipient, UnsubscribeList, UnsubscribeNumber

from . import parsing, services


def reports_receive(*, account, parsed: parsing.Parsed, reports: list[dlr.MappedReport], body: str) -> None:
    """Store a validated request (its raw body, one event) and apply its reports through
    callbacks.services (forward-only, exact counters), then keep the provider's error texts."""
    services.callback_receive(account_id=account.pk, parsed=parsed, body=body)
    failed = [r for r in reports if r.error and r.status in ("failed", "rejected", "undelivered", "expired")]
    if failed:
        _errors_record(account, failed)


def _errors_record(account, reports: list[dlr.MappedReport]) -> None:
    """Keep the provider's error text on the message (the status service records statuses only)."""
    for report in reports:
        match = {"client_ref": report.client_ref} if _is_uuid(report.client_ref) else (
            {"provider_message_id": report.message_id} if report.message_id else None)
        if match:
            Message.objects.filter(account=account, error="", **match).update(error=report.error)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def inbound_receive(*, account: ProviderAccount, raw: bytes) -> InboundMessage | None:
    """Store one inbound message; a repeat of a provider id changes nothing (returns None)."""
    fields = inbound.parse_inbound(raw)
    config = account.generic
    stop = inbound.is_stop_word(config, fields["text"])
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(account=account, raw=raw.decode("utf-8")[:100000],
                                                    opted_out=stop, **fields)
            if stop:
                optout_add(config=config, phone=fields["phone"])
    except IntegrityError:
        return None  # the provider re-delivered it
    replies = config.auto_reply_template_id if config.channel == config.Channel.WHATSAPP else config.auto_reply_text
    if not stop and config.auto_reply and replies and not _known(fields["phone"]):
        InboundMessage.objects.filter(pk=message.pk).update(auto_replied=True)
        transaction.on_commit(lambda: _queue_reply(account.pk, fields["phone"]))
    return message


def _known(phone: str) -> bool:
    return Recipient.objects.filter(phone=phone).exists()


def _queue_reply(account_id: int, phone: str) -> None:
    send_provider_reply.delay(account_id, phone)


def optout_add(*, config, phone: str) -> None:
    """Add the number to the account's opt-out list, creating "Opted out (<account>)" if it has none."""
    if config.optout_list_id is None:
        config.optout_list = UnsubscribeList.objects.create(account=config.account,
                                                            name=f"Opted out ({config.account.name})")
        type(config).objects.filter(pk=config.pk).update(optout_list=config.optout_list)
    _, created = UnsubscribeNumber.objects.get_or_create(unsubscribe_list_id=config.optout_list_id, phone=phone)
    if created:
        UnsubscribeList.objects.filter(pk=config.optout_list_id).update(member_count=F("member_count") + 1)
