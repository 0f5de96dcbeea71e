"""Clicks reach the broadcast whichever key they name the message by: our client_ref (Textcast's
own links), or the id MessageWhiz's /sms answered (clicks it posts to a generic account's DLR
URL), even when the click comes before the delivery report or twice."""

import json
import time

import pytest

from callbacks.models import CallbackEvent, Click
from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast
from messaging.mirror import SyncState
from messaging.models import GenericProviderConfig, ProviderAccount
from messaging.providers.generic.presets import MESSAGEWHIZ_DLR_STATUSES
from messaging.providers.generic.services import callback_urls
from recipients.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    """Callbacks (and our own links' clicks) are applied in the request, not buffered in Redis."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""


def sms_account(sandbox) -> ProviderAccount:
    """MessageWhiz's /sms as a generic provider (the CleverTap preset), on the sandbox."""
    account = ProviderAccount.objects.create(name="MW /sms", kind=ProviderAccount.Kind.GENERIC, api_key="")
    body = {"api_key": sandbox.api_key, "from": "Shop", "to": "$$To", "text": "$$Body", "client_ref": "$$MessageID",
            "callback": callback_urls(account)["dlr"]}
    GenericProviderConfig.objects.create(
        account=account, endpoint=f"{sandbox.url}/sms", method="POST", body_format="json",
        body_template=json.dumps(body), response_id_field="message_id", dlr_enabled=True, dlr_ref_field="client_ref",
        dlr_id_field="message_id", dlr_status_field="status", dlr_status_map=MESSAGEWHIZ_DLR_STATUSES)
    return account


def broadcast_to(account, count: int, body: str) -> Broadcast:
    people = RecipientList.objects.create(account=account, name="Customers", recipient_count=count,
                                          sync_state=SyncState.SYNCED)
    Recipient.objects.bulk_create(Recipient(recipient_list=people, phone=f"38050000{i:04d}", first_name="Ann")
                                  for i in range(count))
    broadcast = Broadcast.objects.create(account=account, name="Sale", body=body)
    broadcast.recipient_lists.set([people])
    return broadcast


def test_clicks_messagewhiz_posts_before_the_reports_and_twice_count_once_each(sandbox, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    account = sms_account(sandbox)
    # Every message delivered and clicked, the click before the DLR, every callback posted twice.
    sandbox.callbacks(delay_ms=100, statuses={"DELIVRD": 1.0}, click_rate=1.0, click_before_dlr=True,
                      duplicate_rate=1.0)
    broadcast = broadcast_to(account, 4, "Hi {{first_name}}: https://shop.example/sale")
    submit_broadcast(broadcast.pk)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        broadcast.refresh_from_db()
        if broadcast.state == Broadcast.State.COMPLETED and broadcast.clicks_unique == 4:
            break
        time.sleep(0.1)
    log = sandbox.control("GET", "callbacks/log")
    assert [entry for entry in log if entry["status"] != 200] == []
    assert sum(entry["kind"] == "click" for entry in log) == 8  # each click posted twice
    assert (broadcast.delivered, broadcast.clicks_unique, broadcast.clicks_total) == (4, 4, 4)
    assert broadcast.conversion == 100.0
    assert set(Message.objects.filter(broadcast=broadcast).values_list("clicks", flat=True)) == {1}
    assert Click.objects.count() == 4
    assert not CallbackEvent.objects.filter(applied_at__isnull=True).exists()


def test_a_click_on_an_unknown_message_waits_for_it(client, stub, make_account):
    account = make_account(dlr_enabled=True, dlr_ref_field="ref", dlr_id_field="id", dlr_status_field="state",
                           dlr_status_map={"DELIVRD": "delivered"}, response_id_field="message_id")
    click = {"message_id": "p-1", "link_id": "hkzt.me/abc", "time": "2026-01-01T10:00:00Z", "unique_click": True}
    url = f"/providers/cb/{account.callback_token}/dlr/"
    assert client.post(url, data=click, content_type="application/json").json() == {"ok": True, "clicks": 1}
    assert CallbackEvent.objects.get().applied_at is None  # kept for when the message is known

    broadcast = broadcast_to(account, 1, "Hi https://shop.example")
    submit_broadcast(broadcast.pk)  # the stub answers message_id p-1
    broadcast.refresh_from_db()
    assert (broadcast.clicks_total, broadcast.clicks_unique) == (1, 1)
    assert client.post(url, data={"message_id": "p-1", "link_id": 5, "time": "x"},
                       content_type="application/json").status_code == 400
