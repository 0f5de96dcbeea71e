"""Messages sent at once: a single (fast /sms with our callback URL, or the tiny single) and the same
text to pasted numbers (combinedsubmit). Counters always equal a recount, whatever the answer was."""

import time

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks.selectors import mismatches
from campaigns.models import Broadcast, Message
from campaigns.sending import remote_tag
from campaigns.signals import messages_identified
from campaigns.singles import TINY, SingleProblem, pasted_send, single_send
from messaging.sandbox.state import AUTO_ID_START


def test_fast_single_sends_client_ref_and_callback_and_records_the_message_id(mw_account, sandbox, settings):
    settings.PUBLIC_BASE_URL = "https://textcast.example.com"
    message = single_send(account=mw_account, sender="ShopCo", phone="+380 50 123 45 67", text="Your order shipped")
    [request] = sandbox.requests(method="POST", path="^/sms$")
    assert request["json"] == {
        "api_key": "<redacted>", "to": "380501234567", "from": "ShopCo", "text": "Your order shipped",
        "client_ref": str(message.client_ref),
        "callback": f"https://textcast.example.com/callbacks/{mw_account.callback_token}/dlr",
    }
    assert message.provider_message_id == sandbox.state("messages")[0]["message_id"]
    assert message.status == Message.Status.SUBMITTED
    assert (message.broadcast.state, message.broadcast.sent) == (Broadcast.State.SUBMITTED, 1)
    assert mismatches([message.broadcast_id]) == []


def test_tiny_single_is_a_broadcast_on_messagewhiz_side(mw_account, sandbox):
    message = single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi", endpoint=TINY)
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast/tiny/?$")
    assert request["json"] == {"recipient": "380501234567", "sender": "ShopCo", "message_body": "Hi"}
    assert sandbox.requests(path="^/sms$") == []
    broadcast = message.broadcast
    [remote] = sandbox.state("broadcasts")
    # Its delivery report comes through "DLR to webhook", found by this id and the phone.
    assert (broadcast.remote_id, broadcast.name, broadcast.state) == (remote["id"], "Tiny single to 380501234567",
                                                                      Broadcast.State.SUBMITTED)
    assert message.status == Message.Status.SUBMITTED
    assert mismatches([broadcast.pk]) == []


def test_refusal_is_explained_and_counted_as_callbacks_would(mw_account, sandbox):
    sandbox.faults(fail_next=[{"status": 400}])
    with pytest.raises(SingleProblem, match="refused"):
        single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    message = Message.objects.get()
    assert message.status == Message.Status.FAILED
    broadcast = message.broadcast
    assert (broadcast.state, broadcast.sent, broadcast.failed) == (Broadcast.State.FAILED, 1, 1)
    assert mismatches([broadcast.pk]) == []


@pytest.mark.parametrize(("sender", "phone", "text", "error"), [
    ("ShopCo", "123", "Hi", "not a valid phone number"),
    ("ShopCo", "38050123456²", "Hi", "not a phone number"),  # a superscript two is a digit to str.isdigit
    ("Way too long sender", "380501234567", "Hi", "must not exceed 11 letters"),
    ("ShopCo", "380501234567", "  ", "Write the message"),
])
def test_bad_input_is_refused_before_anything_is_sent(mw_account, sandbox, sender, phone, text, error):
    with pytest.raises(SingleProblem, match=error):
        single_send(account=mw_account, sender=sender, phone=phone, text=text)
    assert sandbox.requests(path="^/sms$") == []
    assert not Message.objects.exists()


def test_a_failure_applying_early_reports_does_not_undo_a_sent_message(mw_account, sandbox, caplog):
    """The message went out: an error in what follows (applying reports that came early) is
    logged, and the user is not told the send failed (they might send it again)."""
    def failing(**kwargs):
        raise DatabaseError("connection lost")

    messages_identified.connect(failing, dispatch_uid="test.failing")
    try:
        message = single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    finally:
        messages_identified.disconnect(dispatch_uid="test.failing")
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1
    assert message.status == Message.Status.SUBMITTED
    assert "Applying delivery reports that came early failed" in caplog.text


def test_lost_answer_is_not_sent_again_and_not_called_a_failure(mw_account, sandbox, settings):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    message = single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1
    assert message.status == Message.Status.UNKNOWN
    assert message.error.startswith("No clear answer from MessageWhiz, so it may have been sent")
    broadcast = message.broadcast
    assert (broadcast.state, broadcast.sent, broadcast.unknown, broadcast.failed) == (
        Broadcast.State.SUBMITTED, 1, 1, 0)
    assert mismatches([broadcast.pk]) == []


@pytest.mark.django_db(transaction=True)
def test_server_error_after_the_send_is_settled_by_its_delivery_report(sandbox, live_server, settings):
    """A 5xx to /sms may come after MessageWhiz took the message: UNKNOWN, until the DLR says."""
    from messaging.models import ProviderAccount

    account = ProviderAccount.objects.create(name="Sandbox", base_url=sandbox.url, api_key=sandbox.api_key)
    settings.PUBLIC_BASE_URL = live_server.url
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""  # reports applied as they arrive, not buffered
    sandbox.callbacks(delay_ms=20, statuses={"DELIVRD": 1.0})
    sandbox.faults(fail_next=[{"status": 503, "apply": True}])
    message = single_send(account=account, sender="ShopCo", phone="380501234567", text="Hi")
    assert message.status == Message.Status.UNKNOWN
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1

    deadline = time.monotonic() + 15
    while message.status != Message.Status.DELIVERED and time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        time.sleep(0.1)
        message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    broadcast = Broadcast.objects.get()
    assert (broadcast.sent, broadcast.unknown, broadcast.delivered) == (1, 0, 1)
    assert mismatches([broadcast.pk]) == []


def test_dashboard_single_message(admin_client, mw_account, sandbox):
    response = admin_client.post(reverse("campaigns:otp"), {
        "single-sender": "ShopCo", "single-phone": "380501234567", "single-text": "Your parcel is here",
        "single-endpoint": "fast"})
    message = Message.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_detail", args=[message.broadcast_id])
    assert sandbox.requests(method="POST", path="^/sms$")[0]["json"]["text"] == "Your parcel is here"


def test_dashboard_tiny_single(admin_client, mw_account, sandbox):
    page = admin_client.get(reverse("campaigns:otp")).content.decode()
    assert "Tiny single" in page and "Send to pasted numbers" in page
    admin_client.post(reverse("campaigns:otp"), {
        "single-sender": "ShopCo", "single-phone": "380501234567", "single-text": "Hi", "single-endpoint": "tiny"})
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast/tiny/?$")
    assert request["json"] == {"recipient": "380501234567", "sender": "ShopCo", "message_body": "Hi"}


def test_pasted_numbers_go_out_in_one_combined_submit(mw_account, sandbox):
    broadcast = pasted_send(account=mw_account, sender="ShopCo", text="Sale today",
                            numbers="+380 50 123 45 67\n380501234568, 380501234567\n\n")
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast/combinedsubmit$")
    assert request["json"] == {
        "name": f"Pasted numbers (2) [{remote_tag(broadcast)}]", "message_body": "Sale today", "sender": "ShopCo",
        "recipients": [{"phone_number": 380501234567}, {"phone_number": 380501234568}],
    }
    [remote] = sandbox.state("broadcasts")
    assert (broadcast.state, broadcast.remote_id, broadcast.recipients_count, broadcast.sent) == (
        Broadcast.State.SUBMITTED, remote["id"], 2, 2)
    assert sorted(broadcast.messages.values_list("phone", "status")) == [
        ("380501234567", Message.Status.SUBMITTED), ("380501234568", Message.Status.SUBMITTED)]
    assert mismatches([broadcast.pk]) == []


def test_a_report_that_beat_the_pasted_send_s_answer_is_applied_by_one_lookup(client, mw_account, sandbox, settings):
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""  # reports applied as they arrive, not buffered
    phones = [f"38050{n:07d}" for n in range(3000)]
    remote_id = AUTO_ID_START["broadcasts"]  # the id the sandbox gives its next broadcast
    response = client.post(reverse("callbacks:dlr_batch", args=[mw_account.callback_token]),
                           content_type="application/json",
                           data={"dlrs": [{"_id": "wh-1", "broadcast_id": remote_id, "recipient": phones[7],
                                           "task_state": 2}]})
    assert response.status_code == 200

    with CaptureQueriesContext(connection) as queries:
        broadcast = pasted_send(account=mw_account, sender="ShopCo", text="Sale today", numbers="\n".join(phones))
    assert broadcast.remote_id == remote_id
    assert broadcast.messages.get(phone=phones[7]).status == Message.Status.DELIVERED
    broadcast.refresh_from_db()
    assert (broadcast.sent, broadcast.delivered) == (3000, 1)
    # The waiting report is found by the broadcast's id, not by the keys of its 3,000 messages.
    # (Besides the probe for whether any report waits at all, which has no WHERE.)
    lookups = [q["sql"] for q in queries
               if q["sql"].startswith("SELECT") and "eventreference" in q["sql"] and "WHERE" in q["sql"]]
    assert len(lookups) == 1


@pytest.mark.parametrize(("numbers", "text", "error"), [
    ("380501234567\ncall me\n12", "Hi", "Not phone numbers: #2 “call me”: not a phone number; #3 “12”"),
    (" \n ", "Hi", "Paste at least one phone number"),
    ("380501234567", "Hi {{frist_name}}", "did you mean {{first_name}}"),
])
def test_pasted_numbers_are_checked_before_anything_is_sent(mw_account, sandbox, numbers, text, error):
    with pytest.raises(SingleProblem, match=error):
        pasted_send(account=mw_account, sender="ShopCo", numbers=numbers, text=text)
    assert sandbox.requests(method="POST") == []
    assert not Broadcast.objects.exists()


def test_pasted_numbers_refused_are_failed_and_counted(mw_account, sandbox):
    sandbox.faults(fail_next=[{"status": 400}])
    with pytest.raises(SingleProblem, match="refused the broadcast"):
        pasted_send(account=mw_account, sender="ShopCo", numbers="380501234567\n380501234568", text="Hi")
    broadcast = Broadcast.objects.get()
    assert (broadcast.state, broadcast.sent, broadcast.failed) == (Broadcast.State.FAILED, 2, 2)
    assert mismatches([broadcast.pk]) == []


def test_dashboard_pasted_numbers(admin_client, mw_account, sandbox):
    response = admin_client.post(reverse("campaigns:otp"), {
        "pasted-sender": "ShopCo", "pasted-numbers": "380501234567\n380501234568", "pasted-text": "Hi",
        "pasted-name": "VIP heads-up"})
    broadcast = Broadcast.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_detail", args=[broadcast.pk])
    [request] = sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast/combinedsubmit$")
    assert request["json"]["name"] == f"VIP heads-up [{remote_tag(broadcast)}]"
    page = admin_client.post(reverse("campaigns:otp"), {
        "pasted-sender": "ShopCo", "pasted-numbers": "nope", "pasted-text": "Hi"}).content.decode()
    assert "Not phone numbers" in page
