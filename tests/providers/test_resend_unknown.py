"""The sending page's "Resend unknown": it says what it risks, asks first, and queues each unknown
message once, audited in the broadcast's events."""

from collections import Counter

import pytest
from django.urls import reverse

from campaigns.models import Message
from campaigns.tasks import submit_broadcast
from tests.providers.stub import DROP

pytestmark = pytest.mark.django_db(transaction=True)


def test_resend_unknown_says_the_risk_asks_first_and_queues_each_message_once(admin_client, stub, make_account,
                                                                              make_broadcast):
    account = make_account()
    broadcast, phones = make_broadcast(account, 5)
    stub.responder = lambda r: DROP if r.json()["to"] in phones[:2] else None
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.unknown, len(stub.requests)) == ("completed", 2, 5)
    url = reverse("campaigns:broadcast_dispatch", args=[broadcast.pk])
    page = admin_client.get(url).content.decode()
    assert "Resend 2 unknown" in page and "gets it twice" in page

    admin_client.post(url, {"action": "resend_unknown"})  # not confirmed: nothing happens
    assert Message.objects.filter(broadcast=broadcast, status="unknown").count() == 2 and len(stub.requests) == 5

    stub.responder = None
    response = admin_client.post(url, {"action": "resend_unknown", "confirm": "yes"}, follow=True)
    assert "2 unknown messages queued to be sent again" in response.content.decode()
    broadcast.refresh_from_db()
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"submitted"}
    assert (broadcast.state, broadcast.sent, broadcast.unknown) == ("completed", 5, 0)
    sent_to = Counter(r.json()["to"] for r in stub.requests)
    assert sent_to == {**dict.fromkeys(phones[:2], 2), **dict.fromkeys(phones[2:], 1)}
    reopened = broadcast.events.get(from_state="completed", to_state="submitted")
    assert reopened.actor.username == "admin" and "received twice" in reopened.reason

    response = admin_client.post(url, {"action": "resend_unknown", "confirm": "yes"}, follow=True)  # again
    assert "no unknown messages" in response.content.decode() and len(stub.requests) == 7
