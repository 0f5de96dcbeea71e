"""Recipients opening Textcast's own links (campaigns.tracking): a click recorded like any
provider's, and the opt-out.

A click goes through the same path as a provider's click callback (stored raw, then applied by
callbacks.services), naming its message by our client_ref, so the message, the broadcast's
figures, the clicks per link and the recount from the raw log all move together.
"""

import json

from django.utils import timezone

from campaigns import tracking
from campaigns.models import Message
from recipients.consent import consent_record
from recipients.models import ConsentEvent

from . import parsing, services
from .models import Click


def _message(token: str) -> tuple[Message, int] | None:
    read = tracking.token_read(token)
    if read is None:
        return None
    message_id, slot = read
    message = Message.objects.select_related("broadcast__template", "account__generic").filter(pk=message_id).first()
    return (message, slot) if message is not None else None


def link_open(*, token: str, count: bool = True) -> str | None:
    """Where the link leads, after recording the click (unless `count` is false: a HEAD request);
    None when the token is not one of ours or its link is gone."""
    found = _message(token)
    target = found and tracking.link_target(*found)
    if not target or target[0] == tracking.OPT_OUT:
        return None
    message, url = found[0], target[1]
    if count:
        link_id = url[:255]
        body = {"client_ref": str(message.client_ref), "link_id": link_id, "time": timezone.now().isoformat(),
                "unique_click": not Click.objects.filter(message=message, link_id=link_id).exists()}
        services.callback_receive(account_id=message.account_id, parsed=parsing.parse_value(body),
                                  body=json.dumps(body))
    return url


def optout_message(*, token: str) -> Message | None:
    """The message an opt-out link was sent in; None for a token that is not one."""
    found = _message(token)
    target = found and tracking.link_target(*found)
    if not target or target[0] != tracking.OPT_OUT or getattr(found[0].account, "generic", None) is None:
        return None
    return found[0]


def optout_confirm(*, message: Message, user_agent: str = "") -> None:
    """The recipient asked to hear no more from the account: an opt-out in the consent ledger,
    with the message the link came in as its proof."""
    consent_record(account=message.account, phones=[message.phone], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.LINK,
                   evidence={"message": str(message.client_ref), "user_agent": user_agent[:200]})
