"""A fast single through the MessageWhiz sandbox ends delivered here, from the sandbox's own callbacks."""

import time

import pytest
from django.urls import reverse

from callbacks import buffer
from callbacks.services import apply_pending
from campaigns.models import Message
from messaging.messagewhiz.client import MessageWhizClient
from messaging.models import ProviderAccount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["direct", "buffered"])
def delivery(request):
    """How callbacks reach the database here (the buffered way needs REDIS_URL)."""
    return request.getfixturevalue(request.param)


def wait_for(predicate, sandbox, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")  # deliver what is scheduled, now
        if buffer.enabled():
            while buffer.drain_once(consumer="e2e", block_ms=0):
                pass
        apply_pending()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_fast_single_is_delivered_and_clicked(sandbox, live_server, delivery):
    account = ProviderAccount.objects.create(name="Sandbox", base_url=sandbox.url, api_key=sandbox.api_key)
    message = Message.objects.create(account=account, phone="5417543010", status=Message.Status.QUEUED)
    # ENROUTE after the final DLR, every callback twice, and a click on the link.
    sandbox.callbacks(delay_ms=50, statuses={"DELIVRD": 1.0}, enroute=True, out_of_order=True, duplicate_rate=1.0,
                      click_rate=1.0)
    callback = live_server.url + reverse("callbacks:dlr", kwargs={"token": account.callback_token})
    with MessageWhizClient(sandbox.url, sandbox.api_key) as client:
        answer = client.fast_single_send(to="5417543010", sender="Shop", text="Sale today https://shop.example/x",
                                         client_ref=str(message.client_ref), callback=callback)

    def clicked():
        message.refresh_from_db()
        return message.status == Message.Status.DELIVERED and message.clicks == 1

    wait_for(clicked, sandbox)
    # The id came from the DLR (the send service had not stored the /sms answer here).
    assert message.provider_message_id == answer["message_id"]
    log = sandbox.control("GET", "callbacks/log")
    assert {entry["kind"] for entry in log} == {"dlr", "click"}
    assert all(entry["status"] == 200 for entry in log)


def test_broadcast_dlrs_through_the_webhook(sandbox, live_server, delivery):
    """A tiny single is a broadcast on MessageWhiz's side: its DLR comes through "DLR to webhook"."""
    from campaigns.models import Broadcast

    account = ProviderAccount.objects.create(name="Sandbox", base_url=sandbox.url, api_key=sandbox.api_key)
    webhook = live_server.url + reverse("callbacks:dlr_batch", kwargs={"token": account.callback_token})
    sandbox.callbacks(delay_ms=20, statuses={"UNDELIV": 1.0}, dlr_webhook_url=webhook, webhook_flush_ms=10)
    with MessageWhizClient(sandbox.url, sandbox.api_key) as client:
        answer = client.tiny_single_send(recipient="5417543010", sender="Shop", message_body="Hello")
    remote_id = answer.get("broadcastId") or answer.get("broadcastID")
    assert remote_id, answer
    broadcast = Broadcast.objects.create(account=account, name="tiny", remote_id=remote_id, recipients_count=1,
                                         sent=1, state=Broadcast.State.SUBMITTED)
    message = Message.objects.create(account=account, broadcast=broadcast, phone="5417543010",
                                     status=Message.Status.SUBMITTED, status_rank=1)

    def undelivered():
        message.refresh_from_db()
        return message.status == Message.Status.UNDELIVERED

    wait_for(undelivered, sandbox)
    broadcast.refresh_from_db()
    assert (broadcast.undelivered, broadcast.sent) == (1, 1)
