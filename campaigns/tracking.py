"""Textcast's own links in messages it sends itself (generic HTTP providers).

MessageWhiz fills {{link:ID}}, {{link_list:ID}}, {{shorten_url}} and {{unsubscription_link}} with
short links on its own domain. A generic provider only relays our text, so Textcast supplies them:
each becomes `PUBLIC_BASE_URL/r/<token>` (or `/u/<token>` for the opt-out), where the token names
the message and the token's position in the body, signed so that no one can make up another's.
Opening it records a click (callbacks.tracking) and redirects to the link's URL, worked out again
from the broadcast's body; the opt-out page puts the number on the account's opt-out list.

{{callback_link}} (a MessageWhiz trigger link) has no such stand-in: it is refused for these accounts.
"""

import hashlib
import hmac
import zlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from . import rendering

# The recipient mapping's key for the message id while dispatch renders a body.
MESSAGE_KEY = "_message_id"
REDIRECTED = frozenset({"link", "link_list", "shorten_url"})
OPT_OUT = "unsubscription_link"
UNSUPPLIED = {"callback_link": "it is a MessageWhiz trigger link, and this provider sends our text as it is"}
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SIGNATURE_LENGTH = 8
# Previews and estimates stand for a message id this large: the links' length is what they count.
SAMPLE_MESSAGE_ID = 62**6 - 1


def _encode(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 62)
        digits = ALPHABET[digit] + digits
        if not number:
            return digits


def _decode(text: str) -> int | None:
    number = 0
    for char in text:
        digit = ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 62 + digit
    return number


def _signature(payload: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"textcast-link:{payload}".encode(), hashlib.sha256).digest()
    return _encode(int.from_bytes(digest[:6]))[:SIGNATURE_LENGTH].rjust(SIGNATURE_LENGTH, "0")


def token_make(message_id: int, slot: int) -> str:
    payload = f"{_encode(message_id)}.{_encode(slot)}"
    return f"{payload}.{_signature(payload)}"


def token_read(token: str) -> tuple[int, int] | None:
    """(message id, slot) of a token we made, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or len(token) > 40:
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2].encode(), _signature(payload).encode()):
        return None
    message_id, slot = _decode(parts[0]), _decode(parts[1])
    return None if message_id is None or slot is None else (message_id, slot)


def link_url(message_id: int, slot: int, name: str) -> str:
    prefix = "u" if name == OPT_OUT else "r"
    return f"{settings.PUBLIC_BASE_URL}/{prefix}/{token_make(message_id, slot)}"


def render_context(**options) -> rendering.RenderContext:
    """A context in which link tokens become this message's Textcast links: the recipient mapping
    carries the message id under MESSAGE_KEY (a preview, which has none, shows a sample id)."""

    def tracked(recipient: Mapping[str, Any], slot: int, token: rendering.Token) -> str:
        return link_url(recipient.get(MESSAGE_KEY) or SAMPLE_MESSAGE_ID, slot, token.name)

    return rendering.RenderContext(tracked_link=tracked, **options)


def uses_own_links(account) -> bool:
    """Whether Textcast, not the provider, fills the account's link tokens."""
    return account.kind == account.Kind.GENERIC


def unsupplied_problems(body: str) -> list[rendering.Problem]:
    """The tokens no Textcast link can stand in for, each with the reason."""
    return [rendering.Problem(token.start, token.end, token.text,
                              f"{token.text} can't be sent through an HTTP provider: {UNSUPPLIED[token.name]}")
            for token in rendering.parse(body) if token.name in UNSUPPLIED]


def link_list_pick(members: list, phone: str, list_id: int):
    """The member of a link list this recipient gets: spread evenly, and the same every time it is
    worked out (rendering, then the redirect)."""
    return members[zlib.crc32(phone.encode(), list_id) % len(members)] if members else None


def link_target(message, slot: int) -> tuple[str, str] | None:
    """(token name, URL) of the link at `slot` in the message's body ("" as the URL of the
    opt-out); None when there is no such link (any more)."""
    from recipients.models import Recipient

    from .estimates import broadcast_body
    from .models import Link

    broadcast = message.broadcast
    tokens = rendering.parse(broadcast_body(broadcast)) if broadcast is not None else []
    if not 0 <= slot < len(tokens):
        return None
    token = tokens[slot]
    url = None
    if token.name == OPT_OUT:
        url = ""
    elif token.name == "link":
        url = Link.objects.filter(account=message.account_id, remote_id=token.id, enabled=True).values_list(
            "url", flat=True).first()
    elif token.name == "link_list":
        members = list(Link.objects.filter(link_lists__account=message.account_id, link_lists__remote_id=token.id,
                                           enabled=True).order_by("pk").values_list("url", flat=True))
        url = link_list_pick(members, message.phone, token.id)
    elif token.name == "shorten_url":
        url = Recipient.objects.filter(recipient_list__in=broadcast.recipient_lists.all(), phone=message.phone
                                       ).exclude(url="").order_by("recipient_list_id").values_list("url", flat=True
                                                                                                  ).first()
    if url is None or (url and not url.lower().startswith(("http://", "https://"))):
        return None  # never a redirect to javascript: or a relative path a recipient's field may hold
    return token.name, url
