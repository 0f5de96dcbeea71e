"""One-time passwords: send and verify, from the dashboard and the JSON API, rate-limited."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from callbacks.selectors import mismatches
from campaigns.models import Broadcast, Message
from campaigns.otp import OtpProblem, otp_send, otp_verify
from messaging.models import ApiToken

PHONE = "380501234567"


@pytest.fixture(autouse=True)
def fresh_limits():
    # Only our own keys: the cache's Redis database may hold other data (never FLUSHDB it).
    keys = [f"textcast:otp:{action}:{phone}" for action in ("send", "verify")
            for phone in (PHONE, "380501234568")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def latest_code(sandbox, phone=PHONE):
    return [otp for otp in sandbox.state("otps") if otp["phone_number"] == phone][-1]["code"]


def test_send_and_verify(mw_account, sandbox, audience):
    sent = otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                    body="Your code: {{verification_code}}")
    [request] = sandbox.requests(method="POST", path="^/api/broadcasts/single$")
    assert request["query"] == {"otp": "true"}
    assert request["json"]["verification"] is True
    assert request["json"]["message_body"] == "Your code: {{verification_code}}"
    assert sent.broadcast.state == Broadcast.State.SUBMITTED
    assert sent.broadcast.messages.get().status == Message.Status.SUBMITTED
    assert mismatches([sent.broadcast.pk]) == []
    code = latest_code(sandbox)
    wrong = str((int(code) + 1) % 10000).zfill(4)
    assert otp_verify(account=mw_account, phone=PHONE, code=wrong) is False
    assert otp_verify(account=mw_account, phone=PHONE, code=code) is True


def test_refused_code_is_failed_and_counted(mw_account, sandbox, audience):
    sandbox.faults(fail_next=[{"status": 400}])
    with pytest.raises(OtpProblem, match="did not send the code") as refused:
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="Code {{verification_code}}")
    assert refused.value.status == 502
    broadcast = Broadcast.objects.get()
    assert (broadcast.state, broadcast.messages.get().status) == (Broadcast.State.FAILED, Message.Status.FAILED)
    assert mismatches([broadcast.pk]) == []


def test_server_error_may_have_sent_the_code(mw_account, sandbox, audience):
    """A 5xx after MessageWhiz took the request: the code may be on its way, so not "did not send"."""
    sandbox.faults(fail_next=[{"status": 503, "apply": True}])
    with pytest.raises(OtpProblem, match="may have been sent") as unclear:
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="Code {{verification_code}}")
    assert unclear.value.status == 504
    assert len(sandbox.requests(method="POST", path="^/api/broadcasts/single$")) == 1
    assert len(sandbox.state("otps")) == 1  # it was, in fact, sent
    broadcast = Broadcast.objects.get()
    message = broadcast.messages.get()
    assert (broadcast.state, message.status) == (Broadcast.State.SUBMITTED, Message.Status.UNKNOWN)
    assert "may have been sent" in broadcast.last_error
    assert (broadcast.sent, broadcast.unknown) == (1, 1)
    assert mismatches([broadcast.pk]) == []


def test_message_must_have_the_code_token(mw_account, sandbox, audience):
    with pytest.raises(OtpProblem, match="verification_code"):
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="Hello")
    assert sandbox.requests(method="POST", path="^/api/broadcasts") == []


def test_sends_are_rate_limited_per_phone(mw_account, sandbox, audience, settings):
    settings.OTP_SENDS_PER_WINDOW = 2
    for _ in range(2):
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="{{verification_code}}")
    with pytest.raises(OtpProblem, match="Too many attempts") as refused:
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="{{verification_code}}")
    assert refused.value.status == 429
    otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone="380501234568",
             body="{{verification_code}}")  # another number is not affected


def test_verification_guesses_are_rate_limited(mw_account, sandbox, settings):
    settings.OTP_VERIFIES_PER_WINDOW = 3
    for _ in range(3):
        otp_verify(account=mw_account, phone=PHONE, code="1234")
    with pytest.raises(OtpProblem, match="Too many attempts"):
        otp_verify(account=mw_account, phone=PHONE, code="1234")


def test_json_api_requires_a_token(client, mw_account):
    response = client.post(reverse("campaigns:api_otp_send"), {}, content_type="application/json")
    assert response.status_code == 401
    response = client.post(reverse("campaigns:api_otp_send"), {}, content_type="application/json",
                           headers={"Authorization": "Bearer tc_wrong"})
    assert response.status_code == 401


def test_json_api_send_and_verify(client, mw_account, sandbox, audience, admin_user):
    _, key = ApiToken.issue(name="CRM", user=admin_user)
    auth = {"Authorization": f"Bearer {key}"}
    response = client.post(reverse("campaigns:api_otp_send"),
                           {"phone": PHONE, "sender": "ShopCo", "message": "Code {{verification_code}}",
                            "campaign": audience["campaign"].pk},
                           content_type="application/json", headers=auth)
    assert response.status_code == 200, response.content
    assert Broadcast.objects.get(pk=response.json()["broadcast"]).created_by == admin_user
    response = client.post(reverse("campaigns:api_otp_verify"), {"phone": PHONE, "code": latest_code(sandbox)},
                           content_type="application/json", headers=auth)
    assert response.json() == {"valid": True}


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"phone": "123", "sender": "ShopCo", "message": "x"}',
                                  b'{"phone": "380501234567", "sender": "Nobody"}'])
def test_json_api_explains_bad_requests(client, mw_account, audience, admin_user, body):
    _, key = ApiToken.issue(name="CRM", user=admin_user)
    response = client.post(reverse("campaigns:api_otp_send"), body, content_type="application/json",
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_dashboard_page_sends_a_code(admin_client, mw_account, sandbox, audience):
    response = admin_client.post(reverse("campaigns:otp"), {
        "send-sender": audience["sender"].pk, "send-campaign": audience["campaign"].pk,
        "send-phone": PHONE, "send-message": "Code {{verification_code}}",
    })
    assert response.status_code == 302
    assert sandbox.state("otps")
    page = admin_client.post(reverse("campaigns:otp"), {"verify-phone": PHONE, "verify-code": "99999"}, follow=True)
    assert "not valid" in page.content.decode()
