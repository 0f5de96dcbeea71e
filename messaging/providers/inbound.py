"""Inbound messages (WhatsApp users writing to us): store, opt out on a stop keyword, auto-reply.

MSG91 and most providers post one JSON object per message; the sender, text and id are found
under the usual names (first match wins), so no per-account mapping is needed for them.
"""

import json
import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F

from messaging.models import InboundMessage, ProviderAccount

from .base import ProviderError, transport_for
from .generic.request import TEMPLATE

logger = logging.getLogger(__name__)

PHONE_KEYS = ("customerNumber", "from", "sender", "mobile", "msisdn", "phone", "contacts.0.wa_id")
TEXT_KEYS = ("text", "content", "message", "body", "text.body", "messages.0.text.body")
ID_KEYS = ("uuid", "messageId", "message_id", "id", "messages.0.id")


class Malformed(ValueError):
    pass


def _first(record: dict, keys) -> str:
    from .generic.request import json_path

    for key in keys:
        value = json_path(record, key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def normalise_phone(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def parse_inbound(raw: bytes) -> dict:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Malformed("body is not valid UTF-8 JSON") from None
    if not isinstance(record, dict):
        raise Malformed("body must be a JSON object")
    phone = normalise_phone(_first(record, PHONE_KEYS))
    if not 4 <= len(phone) <= 20:
        raise Malformed("no sender number")
    return {"phone": phone, "text": _first(record, TEXT_KEYS)[:10000],
            "provider_message_id": _first(record, ID_KEYS)[:128]}


def is_stop_word(config, text: str) -> bool:
    return " ".join(text.split()).casefold() in config.stop_words()


def inbound_receive(*, account: ProviderAccount, raw: bytes) -> InboundMessage | None:
    """Store one inbound message; a repeat of a provider id changes nothing (returns None)."""
    fields = parse_inbound(raw)
    config = account.generic
    stop = is_stop_word(config, fields["text"])
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(account=account, raw=raw.decode("utf-8")[:100000],
                                                    opted_out=stop, **fields)
            if stop:
                optout_add(config=config, phone=fields["phone"])
    except IntegrityError:
        return None  # the provider re-delivered it
    if not stop and config.auto_reply and config.auto_reply_text and not _known(fields["phone"]):
        InboundMessage.objects.filter(pk=message.pk).update(auto_replied=True)
        transaction.on_commit(lambda: _queue_reply(account.pk, fields["phone"], config.auto_reply_text))
    return message


def _known(phone: str) -> bool:
    from recipients.models import Recipient

    return Recipient.objects.filter(phone=phone).exists()


def _queue_reply(account_id: int, phone: str, text: str) -> None:
    from campaigns.tasks import send_provider_reply

    send_provider_reply.delay(account_id, phone, text)


def optout_add(*, config, phone: str) -> None:
    """Add the number to the account's opt-out list, creating "Opted out (<account>)" if it has none."""
    from recipients.models import UnsubscribeList, UnsubscribeNumber

    if config.optout_list_id is None:
        config.optout_list = UnsubscribeList.objects.create(account=config.account,
                                                            name=f"Opted out ({config.account.name})")
        type(config).objects.filter(pk=config.pk).update(optout_list=config.optout_list)
    _, created = UnsubscribeNumber.objects.get_or_create(unsubscribe_list_id=config.optout_list_id, phone=phone)
    if created:
        UnsubscribeList.objects.filter(pk=config.optout_list_id).update(member_count=F("member_count") + 1)


def auto_reply_send(*, account_id: int, phone: str, text: str) -> None:
    account = ProviderAccount.objects.select_related("generic").get(pk=account_id)
    try:
        with transport_for(account) as transport:
            transport.send(to=phone, body=text, message_id=str(uuid.uuid4()), objects={TEMPLATE: None})
    except ProviderError as exc:
        logger.warning("Auto-reply through account %s failed: %s", account_id, exc)
