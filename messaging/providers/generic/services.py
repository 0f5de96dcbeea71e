"""Writes for generic provider accounts: saving a configuration, the test send."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from messaging.models import GenericProviderConfig, ProviderAccount

from ..base import ProviderError, SendResult, transport_for

CALLBACK_URL = "$$CallbackURL"  # preset-only: becomes this account's DLR URL when saved
# A test send shows the provider's status and only the start of its answer: enough to read an
# error message, not a way to read whatever a URL returns.
EXCERPT_CHARS = 300
SHOWN_HEADERS = ("content-type",)


def callback_urls(account: ProviderAccount) -> dict[str, str]:
    base = settings.PUBLIC_BASE_URL
    return {
        "dlr": base + reverse("provider_callbacks:dlr", args=[account.callback_token]),
        "inbound": base + reverse("provider_callbacks:inbound", args=[account.callback_token]),
    }


@transaction.atomic
def generic_account_save(*, account: ProviderAccount, config: GenericProviderConfig) -> GenericProviderConfig:
    """Save both halves; the default flag moves (one default per channel), and a preset's
    $$CallbackURL becomes this account's delivery report URL."""
    account.kind = ProviderAccount.Kind.GENERIC
    account.save()
    config.account = account
    if CALLBACK_URL in config.body_template:
        config.body_template = config.body_template.replace(CALLBACK_URL, callback_urls(account)["dlr"])
    if config.is_default:
        GenericProviderConfig.objects.filter(channel=config.channel, is_default=True).exclude(
            account=account).update(is_default=False)
    config.save()
    return config


@dataclass
class TestOutcome:
    ok: bool
    message_id: str
    result: SendResult | None = None
    error: str = ""
    status: int | None = None
    response_text: str = ""
    headers: dict | None = None
    truncated: bool = False


def generic_test_send(*, account: ProviderAccount, to: str, body: str, objects=None) -> TestOutcome:
    """Send one message now and keep an excerpt of the provider's answer for the page (CleverTap's
    "Send Test SMS")."""
    message_id = str(uuid.uuid4())
    try:
        with transport_for(account) as transport:
            result = transport.send(to=to, body=body, message_id=message_id, objects=objects)
    except ProviderError as exc:
        text, truncated = _excerpt(exc.response_text, exc.truncated)
        # A status is shown with the excerpt; a 2xx we could not read needs saying that it may have gone out.
        error = "" if exc.status and not exc.ambiguous else _excerpt(str(exc), False)[0]
        return TestOutcome(ok=False, message_id=message_id, error=error, status=exc.status,
                           response_text=text, headers=_shown(exc.headers), truncated=truncated)
    text, truncated = _excerpt(result.text, result.truncated)
    return TestOutcome(ok=True, message_id=message_id, result=result, status=result.status,
                       response_text=text, headers=_shown(result.headers), truncated=truncated)


def _excerpt(text: str, truncated: bool) -> tuple[str, bool]:
    text = text or ""
    return (text[:EXCERPT_CHARS], True) if len(text) > EXCERPT_CHARS else (text, truncated)


def _shown(headers: dict | None) -> dict:
    return {name: value for name, value in (headers or {}).items() if name.lower() in SHOWN_HEADERS}
