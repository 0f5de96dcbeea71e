"""Sending: estimate, the fast and tiny singles, single/base/smart broadcasts, segments, OTP,
broadcast list, combined submit and the delivery report."""

import json
from datetime import UTC, datetime

import pytest

from messaging.messagewhiz.client import MessageWhizClient


@pytest.fixture
def campaign_id(client):
    return client.campaign_create(name="Sends")["id"]


@pytest.fixture
def sender_id(client):
    return client.sender_create(name="sender")["id"]


@pytest.fixture
def list_id(client):
    numbers = ["3852004823", "3852004824", "3852004825", "3852004826"]
    return client.recipient_list_create(name="Audience", numbers=numbers)["recipient_list_id"]


def test_estimate(client, list_id, sent):
    estimate = client.broadcast_estimate(broadcast_type=11, recipient_list_ids=[list_id],
                                         message_body="sample")

    assert estimate["messages"] == 4
    assert estimate["parts"] == 1
    assert isinstance(estimate["sum"], float)
    assert estimate["messageExpanded"]["text"] == "sample"
    assert sent("POST", "/api/3/Broadcast/estimate")["json"] == {
        "broadcast_type": 11, "recipient_list_ids": str(list_id), "message_body": "sample",
    }


def test_fast_single_authenticates_in_the_body(client, sandbox, sent):
    answer = client.fast_single_send(
        to="2605876689", sender="sender", text="sample message", client_ref="order-17",
        callback="https://example.com/dlr",
    )

    assert isinstance(answer["message_id"], str) and answer["message_id"]
    request = sent("POST", "/sms")
    assert request["apikey_present"] is True
    assert request["json"] == {
        "api_key": "<redacted>",  # the sandbox logs that it came, never its value
        "to": "2605876689", "from": "sender", "text": "sample message",
        "client_ref": "order-17", "callback": "https://example.com/dlr",
    }


def test_fast_single_sends_no_apikey_header(stub):
    # The sandbox accepts the key either way, so only a server that shows headers can tell.
    stub.script = [{"status": 201, "json": {"message_id": "rbzAV2NXxJ_u5bDL35Hop"}}]
    with MessageWhizClient(stub.url, "the-key") as mw:
        assert mw.fast_single_send(to="2605876689", sender="sender", text="hi") == {
            "message_id": "rbzAV2NXxJ_u5bDL35Hop",
        }
    [request] = stub.seen
    assert "apikey" not in {name.lower() for name in request["headers"]}
    assert json.loads(request["body"])["api_key"] == "the-key"


def test_tiny_single(client, sent):
    answer = client.tiny_single_send(recipient="+260 587 6689", sender="sender",
                                     message_body="sample message")
    assert isinstance(answer["broadcastId"], int)
    assert isinstance(answer["segmentId"], int)
    assert sent("POST", "/api/3/Broadcast/tiny/")["json"] == {
        "recipient": "2605876689", "sender": "sender", "message_body": "sample message",
    }


def test_single(client, campaign_id, sender_id, sent):
    answer = client.broadcast_single_send(
        name="Single SMS to 380681337228", campaign_id=campaign_id, sender_id=str(sender_id),
        recipient="380681337228", message_body="message body", custom_parameter="1234abcd5678efgh",
    )
    assert isinstance(answer["broadcastID"], int)
    assert isinstance(answer["segmentID"], int)
    assert answer["custom_parameter"] == "1234abcd5678efgh"
    assert sent("POST", "/api/3/Broadcast")["json"] == {
        "name": "Single SMS to 380681337228", "campaign_id": campaign_id, "broadcast_type": 10,
        "sender_id": sender_id, "recipient": "380681337228", "message_body": "message body",
        "custom_parameter": "1234abcd5678efgh",
    }


def test_base(client, campaign_id, sender_id, list_id, sent):
    answer = client.broadcast_base_send(
        name="broadcast", campaign_id=campaign_id, sender_ids=[sender_id], recipient_list_ids=[list_id],
        message_body="broadcast message", send_date=datetime(2041, 3, 7, 11, 41, 55, tzinfo=UTC),
        utc_offset=0,
    )
    assert isinstance(answer["broadcastID"], int)
    assert sent("POST", "/api/3/Broadcast")["json"] == {
        "name": "broadcast", "campaign_id": campaign_id, "broadcast_type": 11, "sender_ids": str(sender_id),
        "recipient_list_ids": str(list_id), "message_body": "broadcast message",
        "send_date": "2041-03-07T11:41:55.000Z", "utc_offset": 0,
    }


def test_smart_manual_then_continue_with_a_segment(client, campaign_id, sender_id, list_id, sent):
    answer = client.broadcast_smart_manual_send(
        name="manual", campaign_id=campaign_id, sender_ids=[sender_id], recipient_list_ids=[list_id],
        message_body="man message", first_segment_size=2,
    )
    broadcast_id = answer["broadcastID"]
    assert sent("POST", "/api/3/Broadcast")["json"] == {
        "name": "manual", "campaign_id": campaign_id, "broadcast_type": 12, "eb_type": "manual",
        "sender_ids": str(sender_id), "recipient_list_ids": str(list_id), "message_body": "man message",
        "first_segment_size": 2,
    }

    segment = client.segment_create(
        broadcast_id=broadcast_id, message_body="sample", segment_size=1, send_now=True,
        sender_ids=[sender_id], utc_offset=180,
    )
    assert segment["broadcast_id"] == broadcast_id
    assert segment["recipient_count"] == 1
    assert segment["enabled"] is True
    assert isinstance(segment["created_at"], datetime)
    assert sent("POST", "/api/3/Segments")["json"] == {
        "broadcast_id": broadcast_id, "message_body": "sample", "segment_size": 1, "send_now": True,
        "sender_ids": str(sender_id), "utc_offset": 180,
    }


def test_smart_ctr(client, campaign_id, sender_id, list_id, sent):
    answer = client.broadcast_smart_ctr_send(
        name="ctr", campaign_id=campaign_id, sender_ids=[sender_id], recipient_list_ids=[list_id],
        message_body="ctr {{shorten_url}}", exp_date=datetime(2041, 9, 25, 13, 55, 58, tzinfo=UTC),
        conversion_threshold=50, first_segment_size=1, next_segment_size=1, recipient_cap=3,
    )
    assert isinstance(answer["broadcastID"], int)
    assert sent("POST", "/api/3/Broadcast")["json"] == {
        "name": "ctr", "campaign_id": campaign_id, "broadcast_type": 12, "eb_type": "CTR",
        "sender_ids": str(sender_id), "recipient_list_ids": str(list_id),
        "message_body": "ctr {{shorten_url}}", "exp_date": "2041-09-25 13:55:58", "conversion_threshold": 50,
        "first_segment_size": 1, "next_segment_size": 1, "recipient_cap": 3,
    }


def test_otp_send_and_verify(client, sandbox, campaign_id, sender_id, sent):
    answer = client.otp_send(
        campaign_id=campaign_id, sender_id=sender_id, recipient="2605876689",
        message_body="verification code: {{verification_code}}",
    )
    assert isinstance(answer["id"], int)
    request = sent("POST", "/api/broadcasts/single")
    assert request["query"] == {"otp": "true"}
    assert request["json"] == {
        "campaign_id": campaign_id, "sender_id": str(sender_id), "recipient": "2605876689",
        "message_body": "verification code: {{verification_code}}", "verification": True,
    }

    # The sandbox's stand-in for the recipient's phone: the code it texted.
    [otp] = [o for o in sandbox.state("otps") if o["broadcast_id"] == answer["id"]]
    code = int(otp["code"])
    wrong = code + 1 if code < 9999 else 1000
    assert client.otp_verify(phone_number="2605876689", verification_code=wrong) == {"valid": False}
    assert client.otp_verify(phone_number="2605876689", verification_code=code) == {"valid": True}
    verifications = sandbox.requests(method="POST", path="^/api/recipients/2605876689/verification$")
    assert [v["json"] for v in verifications][-1] == {"verification_code": code}


def test_broadcast_list_with_filter_and_order(client, campaign_id, sender_id, list_id, sent):
    for name in ("sample one", "other", "sample two"):
        client.broadcast_base_send(name=name, campaign_id=campaign_id, sender_ids=[sender_id],
                                   recipient_list_ids=[list_id], message_body="hi")

    broadcasts = client.broadcast_list(filter={"name": "sample", "type": [11, 12]}, orderby="create_date ASC",
                                       limit=10)

    assert [b["name"] for b in broadcasts] == ["sample one", "sample two"]
    assert all(isinstance(b["create_date"], datetime) and isinstance(b["enabled"], bool) for b in broadcasts)
    assert sent("GET", "/api/3/Broadcast/List")["query"] == {
        "filter": "name=sample,type=11,type=12", "orderby": "create_date ASC", "limit": "10",
    }


def test_combined_submit(client, sent):
    answer = client.broadcast_combined_submit(
        message_body="hello {{first_name}} {{last_name}} here is {{custom2}} click on link {{shorten_url}}!!",
        sender="My sender",
        recipients=[
            {"phone_number": "380100001010", "first_name": "John", "last_name": "Doe",
             "custom2": "MyCustomToken", "url": "https://mylink1.com"},
            {"phone_number": 380100001011, "first_name": "Bob", "url": "https://mylink2.com"},
        ],
    )
    assert isinstance(answer[0]["broadcastID"], int)
    body = sent("POST", "/api/3/Broadcast/combinedsubmit")["json"]
    assert body["sender"] == "My sender"
    assert [r["phone_number"] for r in body["recipients"]] == [380100001010, 380100001011]
    assert body["recipients"][0]["custom2"] == "MyCustomToken"


def test_delivery_report(client, campaign_id, sender_id, list_id, sent):
    broadcast_id = client.broadcast_base_send(
        name="report", campaign_id=campaign_id, sender_ids=[sender_id], recipient_list_ids=[list_id],
        message_body="hi",
    )["broadcastID"]

    [report] = client.delivery_report(broadcast_id)

    assert report["broadcast_id"] == broadcast_id
    assert sum(report[k] for k in ("sent", "delivered", "undelivered", "rejected", "expired", "failed")) == 4
    assert sent("POST", "/api/3/DeliveryReport")["json"] == {"bid": broadcast_id}


@pytest.mark.parametrize("sender_ids", [[], "", None])
def test_a_broadcast_without_sender_ids_is_refused_before_sending(client, sandbox, campaign_id, sender_ids):
    """sender_ids is required by the reference: never sent blank (`"sender_ids": ""`)."""
    with pytest.raises(ValueError, match="sender_ids is required"):
        client.broadcast_base_send(name="b", campaign_id=campaign_id, sender_ids=sender_ids, sender_list_ids=[5456],
                                   recipient_list_ids=[1], message_body="x")
    assert sandbox.requests(path="Broadcast") == []
