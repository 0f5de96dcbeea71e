"""What generic providers tell us, applied: delivery reports mapped by the account's field table,
and inbound messages (an opt-out or opt-in keyword is recorded in the consent ledger; an unknown
number may get an auto-reply).

Reading a provider's request is messaging.providers' job; applying it to messages, opt-out lists
and replies is this layer's, above campaigns and recipients.
"""

import uuid

from django.db import IntegrityError, transaction

from campaigns.models import Message
from campaigns.tasks import send_provider_reply
from messaging.models import InboundMessage, ProviderAccount
from messaging.providers import inbound
from messaging.providers.generic import dlr
from recipients.consent import consent_record, optout_words_for, sending_policy_for
from recipients.models import ConsentEvent, Recipient

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
    """Store one inbound message; a repeat of a provider id changes nothing (returns None).

    A reply that is one of the account's opt-out (opt-in) words records an opt-out (opt-in) in
    the consent ledger with the stored message as its proof, in the same transaction: the number
    is suppressed before the sender's next claim.
    """
    fields = inbound.parse_inbound(raw)
    config = getattr(account, "generic", None) if account.kind == ProviderAccount.Kind.GENERIC else None
    keyword = inbound.keyword_kind(fields["text"], optout_words=optout_words_for(account),
                                   optin_words=sending_policy_for(account).optin_words)
    stop = keyword == ConsentEvent.Kind.OPT_OUT
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(account=account, raw=raw.decode("utf-8")[:100000],
                                                    opted_out=stop, **fields)
            if keyword:
                consent_record(account=account, phones=[fields["phone"]], kind=keyword,
                               source=ConsentEvent.Source.KEYWORD,
                               evidence={"inbound_message": message.pk, "text": fields["text"][:500],
                                         "provider_message_id": fields["provider_message_id"]})
    except IntegrityError:
        return None  # the provider re-delivered it
    if config is None:
        return message
    replies = config.auto_reply_template_id if config.channel == config.Channel.WHATSAPP else config.auto_reply_text
    if not keyword and config.auto_reply and replies and not _known(fields["phone"]):
        InboundMessage.objects.filter(pk=message.pk).update(auto_replied=True)
        transaction.on_commit(lambda: _queue_reply(account.pk, fields["phone"]))
    return message


def _known(phone: str) -> bool:
    return Recipient.objects.filter(phone=phone).exists()


def _queue_reply(account_id: int, phone: str) -> None:
    send_provider_reply.delay(account_id, phone)
