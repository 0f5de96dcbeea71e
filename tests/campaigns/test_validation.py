"""What is refused before anything is sent or stored: campaign periods that end before they start,
messages over MAX_MESSAGE_PARTS, OTPs without a campaign chosen for them."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaigns.estimates import broadcast_estimate, confirm_problem
from campaigns.models import Broadcast, Campaign
from campaigns.otp import OtpProblem, otp_send
from campaigns.singles import SingleProblem, pasted_send, single_send
from messaging.models import ApiToken
from messaging.sync import resources
from messaging.sync.pull import mirror_pull

from .test_compose import compose_data

PHONE = "380501234567"
# 10 parts of GSM-7 hold 1,530 characters; 11 parts are more.
ELEVEN_PARTS = "x" * 1531


@pytest.fixture(autouse=True)
def fresh_otp_limits():
    cache.delete_many([f"textcast:otp:{action}:{PHONE}" for action in ("send", "verify")])


def test_a_campaign_ending_before_it_starts_is_refused(admin_client, mw_account):
    response = admin_client.post(reverse("campaigns:campaign_create"), {
        "account": mw_account.pk, "name": "Backwards", "start_date": "2031-05-10 00:00", "end_date": "2031-05-01 00:00",
    })
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_pull_keeps_a_remote_campaign_with_reversed_dates(mw_account, sandbox):
    sandbox.seed("campaigns", [{"name": "Edited there", "start_date": "2031-05-10T00:00:00.000Z",
                                "end_date": "2031-05-01T00:00:00.000Z"}])
    summary = mirror_pull(mw_account, resources.get("campaign"))
    assert (summary.created, summary.failed) == (1, 0)
    assert Campaign.objects.get().name == "Edited there"


def test_compose_refuses_a_message_over_the_part_limit(admin_client, audience, settings):
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, body=ELEVEN_PARTS))
    assert "The message needs 11 SMS parts, and at most 10 are allowed" in response.content.decode()
    assert not Broadcast.objects.exists()
    settings.MAX_MESSAGE_PARTS = 11
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, body=ELEVEN_PARTS))
    assert response.status_code == 302


def test_confirm_refuses_when_a_recipients_text_is_over_the_limit(make_broadcast, audience, settings):
    settings.MAX_MESSAGE_PARTS = 1
    audience["list"].recipients.update(first_name="A" * 50)
    broadcast = broadcast_estimate(make_broadcast(body="{{first_name}} " + "y" * 140))
    assert "at most 1 are allowed" in confirm_problem(broadcast)


def test_single_and_pasted_sends_refuse_a_message_over_the_limit(mw_account, sandbox):
    with pytest.raises(SingleProblem, match="needs 11 SMS parts"):
        single_send(account=mw_account, sender="ShopCo", phone=PHONE, text=ELEVEN_PARTS)
    with pytest.raises(SingleProblem, match="needs 11 SMS parts"):
        pasted_send(account=mw_account, sender="ShopCo", numbers=PHONE, text=ELEVEN_PARTS)
    assert sandbox.requests(method="POST") == []


def test_otp_refuses_a_message_over_the_limit(mw_account, sandbox, audience):
    with pytest.raises(OtpProblem, match="needs 11 SMS parts"):
        otp_send(account=mw_account, campaign=audience["campaign"], sender=audience["sender"], phone=PHONE,
                 body="{{verification_code}}" + ELEVEN_PARTS)


def test_otp_api_needs_an_explicit_campaign(client, mw_account, sandbox, audience, admin_user):
    newer = Campaign.objects.create(account=mw_account, name="Newest", remote_id=audience["campaign"].remote_id + 1)
    _, key = ApiToken.issue(name="CRM", user=admin_user)
    auth = {"Authorization": f"Bearer {key}"}
    body = {"phone": PHONE, "sender": "ShopCo", "message": "Code {{verification_code}}"}
    response = client.post(reverse("campaigns:api_otp_send"), body, content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert "campaign" in response.json()["error"]
    assert sandbox.state("otps") == []
    response = client.post(reverse("campaigns:api_otp_send"), {**body, "campaign": audience["campaign"].pk},
                           content_type="application/json", headers=auth)
    assert response.status_code == 200, response.content
    assert Broadcast.objects.get(pk=response.json()["broadcast"]).campaign == audience["campaign"] != newer


def test_otp_page_needs_a_campaign(admin_client, mw_account, sandbox, audience):
    data = {"send-sender": audience["sender"].pk, "send-phone": PHONE, "send-message": "Code {{verification_code}}"}
    response = admin_client.post(reverse("campaigns:otp"), data)
    assert response.status_code == 200
    assert sandbox.state("otps") == []
    response = admin_client.post(reverse("campaigns:otp"), {**data, "send-campaign": audience["campaign"].pk})
    assert response.status_code == 302
    assert len(sandbox.state("otps")) == 1
    assert Broadcast.objects.get().campaign == audience["campaign"]


def test_a_segment_over_the_part_limit_is_refused(admin_client, make_broadcast, sandbox, audience):
    from .test_sending import run_task

    smart = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=1))
    page = admin_client.post(reverse("campaigns:broadcast_continue", args=[smart.pk]), {
        "size": "1", "body": ELEVEN_PARTS, "when": "now", "zone": "UTC", "senders": [audience["sender"].pk]})
    assert "The message needs 11 SMS parts" in page.content.decode()
    assert sandbox.requests(method="POST", path="(?i)^/api/3/Segments$") == []
