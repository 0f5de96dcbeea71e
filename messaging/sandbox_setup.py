"""Connecting `make run`'s MessageWhiz sandbox to this Textcast.

The real MessageWhiz learns where to post from its portal ("Callback" for /sms without a URL of
its own) and from its staff ("DLR to webhook"), not from the API; the sandbox takes the same
settings on its control endpoint. Without them no delivery report or click of a broadcast ever
arrives. Clicks go to the account-level callback URL, as on the portal: the DLR endpoint takes
both shapes. /sms messages keep the callback each request names.
"""

from django.conf import settings
from django.urls import reverse

from .http import HttpClient, TransportError
from .models import ProviderAccount

# What the demo's recipients do: a share of them click the links they get.
DEMO_CLICK_RATE = 0.3


class SandboxNotReady(Exception):
    """The sandbox is not answering yet (it starts beside the worker); try again shortly."""


def sandbox_callback_settings(account: ProviderAccount) -> dict:
    def url(name: str) -> str:
        return settings.PUBLIC_BASE_URL + reverse(f"callbacks:{name}", kwargs={"token": account.callback_token})

    return {"callback_url": url("dlr"), "dlr_webhook_url": url("dlr_batch"), "enroute": True,
            "click_rate": DEMO_CLICK_RATE}


def sandbox_connect(*, account: ProviderAccount) -> dict:
    """Give the sandbox at the account's base URL our callback URLs; returns its settings."""
    client = HttpClient(account.base_url, timeout=(2.0, 10.0), max_retries=0)
    try:
        response = client.request("POST", "/_sandbox/callbacks", idempotent=True,
                                  json=sandbox_callback_settings(account))
    except TransportError as exc:
        raise SandboxNotReady(str(exc)) from exc
    finally:
        client.close()
    response.raise_for_status()
    return response.json()
