"""Each payload a provider posts, as the provider sees the answer and as the dashboard sees the result."""

from decimal import Decimal

import pytest

from callbacks.models import CallbackEvent, Click
from campaigns.models import Message

from .payloads import click, dlr, figures, webhook_entry

S = Message.Status


def test_single_dlr_by_client_ref_delivers_the_message(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message, "DELIVRD", price=2))
    hook.settle()
    message.refresh_from_db()
    assert (message.status, message.price, message.parts) == (S.DELIVERED, Decimal("2.0000"), 1)
    assert message.status_at is not None
    counters = figures(broadcast)
    assert (counters["sent"], counters["delivered"], counters["cost"]) == (1, 1, Decimal("2.0000"))
    [event] = CallbackEvent.objects.all()
    assert (event.kind, event.account_id, event.applied_at is not None) == ("dlr", hook.account.pk, True)
    assert '"DELIVRD"' in event.body  # stored as received


def test_single_dlr_by_provider_message_id_when_client_ref_is_not_ours(hook, make_messages):
    broadcast, [message] = make_messages(1)
    hook.ok("dlr", dlr(message, "UNDELIV", by="message_id"))
    hook.settle()
    message.refresh_from_db()
    assert message.status == S.UNDELIVERED
    assert figures(broadcast)["undelivered"] == 1


@pytest.mark.parametrize(("word", "status"), [("DELIVERED", S.DELIVERED), ("FAILED", S.FAILED),
                                              ("QUEUED", S.SUBMITTED), ("delivered", S.DELIVERED)])
def test_clevertap_status_words(hook, make_message, word, status):
    message = make_message(status=S.QUEUED, provider_message_id="ct-1")
    hook.ok("dlr", {"message_id": "ct-1", "status": word, "client_ref": str(message.client_ref)})
    hook.settle()
    message.refresh_from_db()
    assert message.status == status


def test_state_alone_is_enough(hook, make_message):
    message = make_message(provider_message_id="only-state")
    hook.ok("dlr", {"message_id": "only-state", "state": 8})
    hook.settle()
    assert Message.objects.get(pk=message.pk).status == S.REJECTED


def test_dlr_to_webhook_batch(hook, make_messages):
    broadcast, messages = make_messages(4)
    entries = [webhook_entry(m, state) for m, state in zip(messages, [2, 5, 3, 0], strict=True)]
    hook.ok("dlr_batch", {"dlrs": entries, "custom_parameter": "1234abcd5678efgh"})
    hook.settle()
    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == [S.DELIVERED, S.UNDELIVERED, S.EXPIRED, S.ENROUTE]
    counters = figures(broadcast)
    assert (counters["delivered"], counters["undelivered"], counters["expired"]) == (1, 1, 1)
    assert counters["cost"] == Decimal("47.2000")
    # The webhook's _id becomes the message's provider id (later batches and clicks use it)
    # unless it already had one.
    assert Message.objects.get(pk=messages[0].pk).provider_message_id == messages[0].provider_message_id
    assert CallbackEvent.objects.get().kind == "dlr_batch"


def test_webhook_batch_finds_messages_by_broadcast_and_recipient(hook, make_broadcast, make_message):
    broadcast = make_broadcast(recipients=1)
    message = make_message(broadcast, phone="3801100001")
    entry = {"segment_id": 1, "_id": "611f9cdf8d0a4976d8d8462aaaac", "broadcast_id": broadcast.remote_id,
             "recipient": "+3801100001", "price": 1.8, "task_state": 2, "updated": 1629461732834}
    hook.ok("dlr_batch", {"dlrs": [entry], "pduDLR": {"sent_count": 2, "delivered_count": 1}})
    hook.settle()
    message.refresh_from_db()
    assert message.status == S.DELIVERED
    assert message.provider_message_id == "611f9cdf8d0a4976d8d8462aaaac"
    assert message.status_at.year == 2021  # the provider's "updated"


def test_sms_message_in_a_webhook_batch_is_found_by_its_client_ref(hook, make_message):
    message = make_message(provider_message_id="rbzAV2NXxJ")
    entry = {"segment_id": 5, "_id": "ffff0000", "broadcast_id": 99, "recipient": message.phone, "price": 1,
             "task_state": 9, "updated": 1629461732834}
    hook.ok("dlr_batch", {"dlrs": [entry], "custom_parameter": str(message.client_ref)})
    hook.settle()
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (S.FAILED, "rbzAV2NXxJ")


def test_link_click_counts_and_conversion(hook, make_messages):
    broadcast, messages = make_messages(4)
    hook.ok("click", click(messages[0]))
    hook.ok("click", click(messages[0], link="hkzt.me/other", at="2023-05-01T13:50:00Z"))
    hook.ok("dlr", click(messages[1]))  # MessageWhiz posts clicks to the DLR URL too
    hook.settle()
    counters = figures(broadcast)
    assert (counters["clicks_total"], counters["clicks_unique"], counters["conversion"]) == (3, 2, 50.0)
    assert Message.objects.get(pk=messages[0].pk).clicks == 2
    assert Click.objects.count() == 3


def test_trailing_slash_is_forgiven(hook, make_message):
    message = make_message()
    response = hook.client.post(hook.url("dlr") + "/", data=dlr(message), content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["dlr", "dlr_batch", "click", "ping"])
@pytest.mark.parametrize("token", ["x" * 43, "", "settings", "a" * 200, "%00", "a%00b", "caf%C3%A9", "a%20b"])
def test_unknown_token_is_a_bare_404(direct_hook, name, token):
    response = direct_hook.client.post(f"/callbacks/{token}/{name.replace('_', '-')}", data="{}",
                                content_type="application/json")
    assert response.status_code == 404
    assert b"token" not in response.content.lower() and b"account" not in response.content.lower()
    assert CallbackEvent.objects.count() == 0


def test_old_token_stops_working_after_rotation(hook, make_message):
    message = make_message()
    old = hook.account.callback_token
    hook.ok("dlr", dlr(message, "ENROUTE"))
    hook.account.rotate_callback_token()
    from callbacks.selectors import token_cache_clear

    token_cache_clear()  # other processes forget it within TOKEN_CACHE_SECONDS
    assert hook.post("dlr", dlr(message), token=old).status_code == 404
    assert hook.post("dlr", dlr(message)).status_code == 200


def test_get_is_not_allowed_but_ping_answers(direct_hook):
    assert direct_hook.client.get(direct_hook.url("dlr")).status_code == 405
    assert direct_hook.client.get(direct_hook.url("ping")).json() == {"ok": True}


def test_wrong_shape_for_the_url_is_refused(direct_hook, make_messages):
    _, [message] = make_messages(1)
    response = direct_hook.post("click", dlr(message))
    assert response.status_code == 400
    assert response.json() == {"error": "this URL does not take dlr callbacks"}
    assert direct_hook.post("dlr_batch", click(message)).status_code == 400
    assert direct_hook.post("dlr", {"dlrs": [webhook_entry(message)]}).status_code == 400
    assert CallbackEvent.objects.count() == 0


def test_unknown_fields_are_fine(hook, make_message):
    message = make_message()
    hook.ok("dlr", dlr(message, network="26201", extra={"nested": [1, 2]}))
