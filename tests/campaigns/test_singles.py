"""Transactional single messages via /sms, with our callback URL; the DLR lands on the message."""

import pytest

from campaigns.models import Broadcast, Message
from campaigns.singles import SingleProblem, single_send


def test_fast_single_sends_client_ref_and_callback_and_records_the_message_id(mw_account, sandbox, settings):
    settings.PUBLIC_BASE_URL = "https://textcast.example.com"
    message = single_send(account=mw_account, sender="ShopCo", phone="+380 50 123 45 67", text="Your order shipped")
    [request] = sandbox.requests(method="POST", path="^/sms$")
    body = request["json"]
    assert body["to"] == "380501234567" and body["from"] == "ShopCo" and body["text"] == "Your order shipped"
    assert body["client_ref"] == str(message.client_ref)
    assert body["callback"] == f"https://textcast.example.com/callbacks/{mw_account.callback_token}/dlr"
    assert message.provider_message_id == sandbox.state("messages")[0]["message_id"]
    assert message.status == Message.Status.SUBMITTED
    assert message.broadcast.state == Broadcast.State.SUBMITTED


def test_refusal_is_explained_and_recorded(mw_account, sandbox):
    sandbox.faults(fail_next=[{"status": 400}])
    with pytest.raises(SingleProblem, match="refused"):
        single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    message = Message.objects.get()
    assert message.status == Message.Status.FAILED
    assert message.broadcast.state == Broadcast.State.FAILED
    assert message.broadcast.failed == 1


@pytest.mark.parametrize(("sender", "phone", "text", "error"), [
    ("ShopCo", "123", "Hi", "10 to 15 digits"),
    ("Way too long sender", "380501234567", "Hi", "must not exceed 11 letters"),
    ("ShopCo", "380501234567", "  ", "Write the message"),
])
def test_bad_input_is_refused_before_anything_is_sent(mw_account, sandbox, sender, phone, text, error):
    with pytest.raises(SingleProblem, match=error):
        single_send(account=mw_account, sender=sender, phone=phone, text=text)
    assert sandbox.requests(path="^/sms$") == []
    assert not Message.objects.exists()


def test_lost_answer_is_not_sent_again(mw_account, sandbox, settings):
    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    sandbox.faults(fail_next=[{"hang": 2, "apply": True}])
    message = single_send(account=mw_account, sender="ShopCo", phone="380501234567", text="Hi")
    assert len(sandbox.requests(method="POST", path="^/sms$")) == 1
    assert message.broadcast.last_error.startswith("No answer")
    assert message.status == Message.Status.QUEUED  # its delivery report will tell (matched by client_ref)


def test_dashboard_single_message(admin_client, mw_account, sandbox):
    from django.urls import reverse

    response = admin_client.post(reverse("campaigns:otp"), {
        "single-sender": "ShopCo", "single-phone": "380501234567", "single-text": "Your parcel is here"})
    message = Message.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_detail", args=[message.broadcast_id])
    assert sandbox.requests(method="POST", path="^/sms$")[0]["json"]["text"] == "Your parcel is here"
