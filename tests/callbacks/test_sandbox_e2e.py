"""Sent through Textcast's own services to the MessageWhiz sandbox, whose delivery reports and clicks
come back over HTTP to our endpoints (a live server): the broadcast's figures are what the provider
says happened."""

import time
from collections import Counter
from decimal import Decimal

import pytest
from django.urls import reverse

from callbacks import buffer, selectors
from callbacks.models import CallbackEvent
from callbacks.services import apply_pending
from campaigns.models import Broadcast, Message
from campaigns.sending import broadcast_submit
from campaigns.singles import single_send
from tests.campaigns.conftest import audience, mw  # noqa: F401 - fixtures: a synced campaign, sender, list

from .payloads import figures

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "EXPIRED": "expired", "REJECTD": "rejected"}


@pytest.fixture(params=["direct", "buffered"])
def delivery(request):
    """How callbacks reach the database here (the buffered way needs REDIS_URL)."""
    return request.getfixturevalue(request.param)


def wait_for(predicate, sandbox, timeout=20.0):
    """Let the sandbox deliver what it has scheduled, move it into the database as the drainer
    and the beat sweep would, until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        if buffer.enabled():
            while buffer.drain_once(consumer="e2e", block_ms=0):
                pass
        apply_pending()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_fast_single_sent_by_textcast_is_delivered_and_clicked(sandbox, live_server, mw_account, settings,
                                                               delivery):
    settings.PUBLIC_BASE_URL = live_server.url  # where single_send tells MessageWhiz to post its DLRs
    # ENROUTE after the final DLR, every callback twice, and a click on the link.
    sandbox.callbacks(delay_ms=50, statuses={"DELIVRD": 1.0}, enroute=True, out_of_order=True, duplicate_rate=1.0,
                      click_rate=1.0)
    message = single_send(account=mw_account, sender="Shop", phone="15417543010",
                          text="Sale today https://shop.example/x")

    def clicked():  # and every callback, duplicates included, answered
        message.refresh_from_db()
        return message.status == Message.Status.DELIVERED and len(sandbox.control("GET", "callbacks/log")) == 5

    wait_for(clicked, sandbox)
    [remote] = sandbox.state("messages")
    assert message.provider_message_id == remote["message_id"]
    counters = figures(message.broadcast)  # also: equal to the recount from the raw events
    assert counters | {"cost": str(counters["cost"])} == {
        "sent": 1, "delivered": 1, "undelivered": 0, "expired": 0, "rejected": 0, "failed": 0, "unknown": 0,
        "cost": str(Decimal(str(remote["price"])).quantize(Decimal("0.0001"))), "clicks_total": 1,
        "clicks_unique": 1, "conversion": 100.0}
    log = sandbox.control("GET", "callbacks/log")
    assert Counter(entry["kind"] for entry in log) == {"dlr": 3, "click": 2}  # ENROUTE, the final one twice
    assert all(entry["status"] == 200 for entry in log)
    assert message.clicks == 1  # the click came twice and counts once
    assert CallbackEvent.objects.count() == 5 and not CallbackEvent.objects.filter(applied_at__isnull=True).exists()


def test_base_broadcast_submitted_by_textcast_gets_its_figures_from_the_webhook(
        sandbox, live_server, mw_account, audience, delivery):  # noqa: F811 - the imported fixture
    webhook = live_server.url + reverse("callbacks:dlr_batch", kwargs={"token": mw_account.callback_token})
    # The "DLR to webhook" URL is set on MessageWhiz's side; repeats of every batch, out of order.
    sandbox.callbacks(delay_ms=100, statuses={"DELIVRD": 0.5, "UNDELIV": 0.25, "EXPIRED": 0.25},
                      duplicate_rate=1.0, dlr_webhook_url=webhook, batch_size=2, webhook_flush_ms=20)
    broadcast = Broadcast.objects.create(account=mw_account, campaign=audience["campaign"], name="Autumn sale",
                                         body="Hi {{first_name}}, 20% off today")
    broadcast.senders.set([audience["sender"]])
    broadcast.recipient_lists.set([audience["list"]])
    broadcast_submit(broadcast)
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.recipients_count) == (Broadcast.State.SUBMITTED, 3)

    def all_final():
        return not Message.objects.filter(broadcast=broadcast, status_rank__lt=10).exists()

    wait_for(all_final, sandbox)
    said = {m["recipient"]: m for m in sandbox.state("messages") if m["broadcast_id"] == broadcast.remote_id}
    assert sorted(said) == audience["numbers"]
    expected = Counter(BUCKET[m["status"]] for m in said.values())
    counters = figures(broadcast)
    assert {name: counters[name] for name in BUCKET.values()} == {name: expected[name] for name in BUCKET.values()}
    assert counters["sent"] == 3
    assert counters["cost"] == sum(Decimal(str(m["price"])) for m in said.values()).quantize(Decimal("0.0001"))
    statuses = dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "status"))
    assert {phone: BUCKET[m["status"]] for phone, m in said.items()} == {
        phone: selectors.BUCKETS[status] for phone, status in statuses.items()}
    timeline = selectors.broadcast_timeline(broadcast)
    assert sum(c["delivered"] + c["failed"] for _, c in timeline["minutes"]) == 3
    assert all(entry["status"] == 200 for entry in sandbox.control("GET", "callbacks/log"))
