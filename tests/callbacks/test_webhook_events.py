"""Delivery reports and clicks applied here reach the webhook endpoints, signed, over HTTP."""

import json

import pytest
from standardwebhooks import Webhook

from messaging.models import WebhookMessage

from .payloads import click, dlr

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs the (eager) delivery task


def received(sink, event_type):
    return [json.loads(r["body"]) for r in sink.requests if json.loads(r["body"])["type"] == event_type]


def test_a_dlr_at_the_callback_endpoint_is_delivered_as_a_signed_webhook(direct_hook, make_messages, endpoint, sink):
    broadcast, [message] = make_messages(1)
    direct_hook.ok("dlr", dlr(message, "DELIVRD", price=0.05))
    [request] = sink.requests
    # An independent implementation of the Standard Webhooks check accepts it.
    event = Webhook(sink.secret).verify(request["body"], request["headers"])
    assert event["type"] == "message.delivered"
    assert request["headers"]["webhook-id"] == event["id"]
    assert event["data"] == {
        "message_id": message.pk, "client_ref": str(message.client_ref), "broadcast_id": broadcast.pk,
        "phone": message.phone, "status": "delivered", "status_at": event["data"]["status_at"],
        "provider_message_id": message.provider_message_id, "price": "0.0500", "parts": 1}
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43 + "=").verify(request["body"], request["headers"])
    assert WebhookMessage.objects.get().state == WebhookMessage.State.DELIVERED


def test_repeats_and_late_reports_send_nothing_more(direct_hook, make_messages, endpoint, sink):
    _, [message] = make_messages(1)
    for status in ("DELIVRD", "DELIVRD", "ENROUTE", "UNDELIV"):
        direct_hook.ok("dlr", dlr(message, status))
    assert [e["type"] for e in received(sink, "message.delivered")] == ["message.delivered"]
    assert received(sink, "message.failed") == []


def test_failures_and_clicks_have_their_own_events(direct_hook, make_messages, endpoint, sink):
    _, [a, b] = make_messages(2)
    direct_hook.ok("dlr", dlr(a, "UNDELIV"))
    direct_hook.ok("click", click(b, link="hkzt.me/abc"))
    [failed] = received(sink, "message.failed")
    assert (failed["data"]["message_id"], failed["data"]["status"]) == (a.pk, "undelivered")
    [clicked] = received(sink, "link.clicked")
    assert (clicked["data"]["message_id"], clicked["data"]["link_id"], clicked["data"]["phone"]) == (
        b.pk, "hkzt.me/abc", b.phone)


def test_only_subscribed_types_are_written(direct_hook, make_messages, make_endpoint, sink):
    make_endpoint(event_types=["link.clicked"])
    _, [message] = make_messages(1)
    direct_hook.ok("dlr", dlr(message, "DELIVRD"))
    assert WebhookMessage.objects.count() == 0 and sink.requests == []
