"""Inbound messages (SMS and WhatsApp replies): store, opt out / in on a keyword, auto-reply.

MSG91 and most providers post one JSON object per message; the sender, text and id are found
under the usual names (first match wins), so no per-account mapping is needed for them.
"""

import logging
import unicodedata
import uuid

from messaging import safejson
from messaging.models import ProviderAccount

from .base import ProviderError, transport_for
from .generic.request import TEMPLATE
from .whatsapp.templates import MissingValue, template_object_from_lines

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
        # NUL (a JSON \\u0000) cannot be stored by PostgreSQL and means nothing in a message: dropped.
        if isinstance(value, (str, int)) and not isinstance(value, bool) and (text := strip_nul(str(value))):
            return text
    return ""


def strip_nul(value: str) -> str:
    return value.replace("\x00", "").strip()


def normalise_phone(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def parse_inbound(raw: bytes) -> dict:
    try:
        record = safejson.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Malformed("body is not valid UTF-8") from None
    except safejson.JSONError as exc:
        raise Malformed(f"body is {exc}") from None
    if not isinstance(record, dict):
        raise Malformed("body must be a JSON object")
    phone = normalise_phone(_first(record, PHONE_KEYS))
    if not 4 <= len(phone) <= 20:
        raise Malformed("no sender number")
    return {"phone": phone, "text": _first(record, TEXT_KEYS)[:10000],
            "provider_message_id": _first(record, ID_KEYS)[:128]}


def fold(text: str) -> str:
    """A reply as keywords are matched: accents, case, punctuation and symbols dropped, spaces
    collapsed ("  Stop!! " and "stop." are "stop"; "ARRÊT" is "arret")."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in decomposed
                   if unicodedata.category(c) != "Mn")
    return " ".join(kept.casefold().split())


def keyword_kind(text: str, *, optout_words: str, optin_words: str) -> str | None:
    """"opt_out" or "opt_in" when the whole reply is one of the words (one per line), else None."""
    folded = fold(text)
    if not folded:
        return None
    if folded in {fold(w) for w in optout_words.splitlines()} - {""}:
        return "opt_out"
    if folded in {fold(w) for w in optin_words.splitlines()} - {""}:
        return "opt_in"
    return None


def auto_reply_send(*, account_id: int, phone: str) -> None:
    """The account's auto-reply: its text by SMS, its template (variables from the text's lines) on WhatsApp."""
    account = ProviderAccount.objects.select_related("generic__auto_reply_template").get(pk=account_id)
    config = account.generic
    text, template = config.auto_reply_text, config.auto_reply_template
    if config.channel == config.Channel.WHATSAPP:
        if template is None:
            logger.warning("Account %s has no auto-reply template; nothing sent", account_id)
            return
        try:
            text, payload = template.body, template_object_from_lines(template, text.splitlines())
        except MissingValue as exc:
            logger.warning("Account %s: auto-reply not sent: %s", account_id, exc)
            return
    else:
        payload = None
    try:
        with transport_for(account) as transport:
            transport.send(to=phone, body=text, message_id=str(uuid.uuid4()), objects={TEMPLATE: payload})
    except ProviderError as exc:
        logger.warning("Auto-reply through account %s failed: %s", account_id, exc)
