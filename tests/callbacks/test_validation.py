"""Whatever arrives, the sender gets a 400 with a reason (or 413), never a 500, and nothing is stored."""

import json

import pytest

from callbacks import parsing
from callbacks.models import CallbackEvent
from campaigns.models import Message

from .payloads import dlr

S = Message.Status
GOOD_DLR = {"message_id": "rbzAV2NXxJ_u5bDL35Hop", "status": "DELIVRD", "state": 2}
GOOD_ENTRY = {"segment_id": 1, "_id": "611f9cdf", "broadcast_id": 1100001, "recipient": "3801100001", "price": 11.8,
              "task_state": 2, "updated": 1629461739834}
GOOD_CLICK = {"message_id": "4iE_yS65Vn8iXCqaW5L2N", "link_id": "hkzt.me/ZPFuT5", "time": "2023-05-01T13:46:37.921Z",
              "unique_click": True}

RAW = [
    (b"", "body is empty"),
    (b"   \n", "body is empty"),
    (b"\xff\xfe{}", "body is not UTF-8"),
    (b'{"message_id": "\xc3\x28"}', "body is not UTF-8"),
    (b"{not json", "body is not valid JSON"),
    (b'{"message_id": "a", "status": "DELIVRD", "price": NaN}', "body is not valid JSON"),
    (b'{"price": Infinity}', "body is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON"),
    (b'{"message_id": "a", "state": ' + b"9" * 5000 + b"}", "body is not valid JSON"),
    (b"null", "body must be a JSON object"),
    (b"[]", "body must be a JSON object"),
    (b'[{"message_id": "a", "status": "DELIVRD"}]', "body must be a JSON object"),
    (b'"DELIVRD"', "body must be a JSON object"),
    (b"42", "body must be a JSON object"),
]

DLRS = [
    ({"status": "DELIVRD"}, "message_id is required"),
    ({"message_id": "a"}, "status or state is required"),
    ({"message_id": "a", "client_ref": "Custom param", "status": "DELIVRD", "message_id ": 1}, None),
    ({"client_ref": "not-a-uuid", "status": "DELIVRD"}, "message_id is required"),
    ({"message_id": 12345, "status": "DELIVRD"}, "message_id must be a non-empty string"),
    ({"message_id": "", "status": "DELIVRD"}, "message_id must be a non-empty string"),
    ({"message_id": ["a"], "status": "DELIVRD"}, "message_id must be a non-empty string"),
    ({"message_id": "x" * 65, "status": "DELIVRD"}, "message_id must be at most 64 characters"),
    ({"message_id": "a\u0000b", "status": "DELIVRD"}, "message_id must be printable text"),
    ({"message_id": "a\ud800", "status": "DELIVRD"}, "message_id must be printable text"),
    ({"message_id": "a", "status": "SENT-ISH"}, "status must be one of"),
    ({"message_id": "a", "status": 2}, "status must be one of"),
    ({"message_id": "a", "status": {"DELIVRD": 1}}, "status must be one of"),
    ({"message_id": "a", "state": 10}, "state must be an integer from 1 to 9"),
    ({"message_id": "a", "state": 0}, "state must be an integer from 1 to 9"),
    ({"message_id": "a", "state": "2"}, "state must be an integer from 1 to 9"),
    ({"message_id": "a", "state": True}, "state must be an integer from 1 to 9"),
    ({"message_id": "a", "state": 2.0}, "state must be an integer from 1 to 9"),
    ({"message_id": "a", "state": 2, "status": "UNDELIV"}, "state and status disagree"),
    # A price we cannot read is unknown, not a reason to refuse the status it came with.
    ({"message_id": "a", "status": "DELIVRD", "price": "2"}, None),
    ({"message_id": "a", "status": "DELIVRD", "price": -1}, None),
    ({"message_id": "a", "status": "DELIVRD", "price": 1e300}, None),
    ({"message_id": "a", "status": "DELIVRD", "price": True}, None),
    ({"message_id": "a", "status": "DELIVRD", "price": 999999.9999}, None),
    # Optional echoes: empty or not ours is the same as absent.
    ({"message_id": "a", "status": "DELIVRD", "client_ref": ""}, None),
    ({"message_id": "a", "status": "DELIVRD", "client_ref": "line\nbreak\tand tab"}, None),
    ({"message_id": "a", "status": "DELIVRD", "client_ref": 42}, None),
    ({"message_id": "a", "status": "DELIVRD", "timestamp": "not a time"}, None),
    ({"message_id": "a", "status": "DELIVRD", "parts_count": -1}, "parts_count must be an integer"),
    ({"message_id": "a", "status": "DELIVRD", "parts_count": 2**40}, "parts_count must be an integer"),
]

BATCHES = [
    ({"dlrs": []}, "dlrs must be a non-empty array"),
    ({"dlrs": {"0": GOOD_ENTRY}}, "dlrs must be a non-empty array"),
    ({"dlrs": None}, "dlrs must be a non-empty array"),
    ({"dlrs": [GOOD_ENTRY, "x"]}, "dlrs[1] must be an object"),
    ({"dlrs": [[GOOD_ENTRY]]}, "dlrs[0] must be an object"),
    ({"dlrs": [{**GOOD_ENTRY, "task_state": 11}]}, "dlrs[0].task_state must be an integer from 0 to 9"),
    ({"dlrs": [{**GOOD_ENTRY, "task_state": None}]}, "dlrs[0].task_state is required"),
    ({"dlrs": [{**GOOD_ENTRY, "broadcast_id": "1100001"}]}, "dlrs[0].broadcast_id must be an integer"),
    ({"dlrs": [{**GOOD_ENTRY, "broadcast_id": 2**64}]}, "dlrs[0].broadcast_id must be an integer"),
    ({"dlrs": [{**GOOD_ENTRY, "broadcast_id": 0}]}, "dlrs[0].broadcast_id must be an integer"),
    ({"dlrs": [{k: v for k, v in GOOD_ENTRY.items() if k != "_id"}]}, "dlrs[0]._id is required"),
    ({"dlrs": [{**GOOD_ENTRY, "recipient": "38011-00001"}]}, "dlrs[0].recipient must be a phone number"),
    ({"dlrs": [{**GOOD_ENTRY, "recipient": "1" * 16}]}, "dlrs[0].recipient must be a phone number"),
    ({"dlrs": [{**GOOD_ENTRY, "recipient": ["3801100001"]}]}, "dlrs[0].recipient must be a phone number"),
    ({"dlrs": [{**GOOD_ENTRY, "recipient": "٣٨٠١١٠٠٠٠١"}]}, "dlrs[0].recipient must be a phone number"),
    ({"dlrs": [{**GOOD_ENTRY, "updated": 10**20}]}, "dlrs[0].updated must be an integer"),
    ({"dlrs": [{**GOOD_ENTRY, "updated": -5}]}, "dlrs[0].updated must be an integer"),
    ({"dlrs": [GOOD_ENTRY], "custom_parameter": 1234}, "custom_parameter must be a string"),
    ({"dlrs": [GOOD_ENTRY], "custom_parameter": ["a"]}, "custom_parameter must be a string"),
    ({"dlrs": [GOOD_ENTRY], "pduDLR": [1, 2]}, "pduDLR must map names to counts"),
    ({"dlrs": [GOOD_ENTRY], "pduDLR": {"sent_count": -1}}, "pduDLR must map names to counts"),
    ({"dlrs": [GOOD_ENTRY], "pduDLR": {"sent_count": "1"}}, "pduDLR must map names to counts"),
]

CLICKS = [
    ({**GOOD_CLICK, "time": "yesterday"}, "time must be an ISO 8601 time"),
    ({**GOOD_CLICK, "time": 1682948797921}, "time must be an ISO 8601 time"),
    ({**GOOD_CLICK, "time": "0001-01-01T00:00:00+14:00"}, "time must be an ISO 8601 time"),
    ({**GOOD_CLICK, "time": "1970-01-01T00:00:00Z"}, "time must be an ISO 8601 time"),
    ({**GOOD_CLICK, "unique_click": "yes"}, "unique_click must be true or false"),
    ({**GOOD_CLICK, "link_id": ""}, "link_id must be a non-empty string"),
    ({**GOOD_CLICK, "link_id": "l" * 256}, "link_id must be at most 255 characters"),
    ({k: v for k, v in GOOD_CLICK.items() if k != "message_id"}, "message_id is required"),
]


@pytest.mark.parametrize(("raw", "reason"), RAW)
def test_garbage_bodies_get_a_reason(direct_hook, raw, reason):
    response = direct_hook.post("dlr", raw=raw)
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert CallbackEvent.objects.count() == 0


@pytest.mark.parametrize(("body", "reason"), DLRS + CLICKS)
def test_bad_dlrs_and_clicks(direct_hook, body, reason):
    response = direct_hook.post("dlr", body)
    if reason is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(reason)
    assert CallbackEvent.objects.count() == 0


@pytest.mark.parametrize(("body", "reason"), BATCHES)
def test_bad_batches(direct_hook, body, reason):
    response = direct_hook.post("dlr_batch", body)
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(reason)
    assert CallbackEvent.objects.count() == 0


@pytest.mark.parametrize("custom", ["", "order 42\tnew\nline", "x" * 1000, None])
def test_any_custom_parameter_text_is_accepted(direct_hook, custom):
    """The user's own text on a broadcast (or nothing): it names no message, so it cannot make a
    whole batch of reports bad."""
    assert direct_hook.post("dlr_batch", {"dlrs": [GOOD_ENTRY], "custom_parameter": custom}).status_code == 200
    assert CallbackEvent.objects.count() == 1


@pytest.mark.parametrize("price", [999999.99995, "eleven", -3, [1], {"amount": 1}, True, "1e400"])
def test_malformed_price_is_recorded_as_unknown_and_the_status_applies(direct_hook, make_messages, price):
    broadcast, [message] = make_messages(1)
    entry = {**GOOD_ENTRY, "broadcast_id": broadcast.remote_id, "recipient": message.phone, "price": price}
    response = direct_hook.post("dlr_batch", {"dlrs": [entry]})
    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.price) == (S.DELIVERED, None)
    broadcast.refresh_from_db()
    assert (broadcast.delivered, broadcast.cost) == (1, 0)


def test_dlr_timestamp_is_the_status_time_and_every_field_is_kept(direct_hook, make_messages):
    _broadcast, [message, other] = make_messages(2)
    body = dlr(message, timestamp="2025-03-28T15:52:31.279Z")
    assert direct_hook.post("dlr", body).status_code == 200
    assert direct_hook.post("dlr", dlr(other, timestamp="yesterday")).status_code == 200
    message.refresh_from_db()
    other.refresh_from_db()
    assert message.status_at.isoformat() == "2025-03-28T15:52:31.279000+00:00"
    assert other.status_at == CallbackEvent.objects.order_by("pk").last().received_at  # when it came
    stored = json.loads(CallbackEvent.objects.order_by("pk").first().body)
    assert stored == body  # sender, recipient, content and parts[] included, as they came


def test_reasons_never_echo_the_value(direct_hook):
    response = direct_hook.post("dlr", {"message_id": "a", "status": "<script>alert(1)</script>"})
    assert b"script" not in response.content


def test_good_bodies_pass(direct_hook):
    for name, body in [("dlr", GOOD_DLR), ("dlr_batch", {"dlrs": [GOOD_ENTRY]}), ("click", GOOD_CLICK),
                       ("dlr", {**GOOD_DLR, "price": 0, "parts_count": 0}),
                       ("click", {**GOOD_CLICK, "time": "2023-05-01T13:46:37"})]:
        assert direct_hook.post(name, body).status_code == 200, body
    # None of them names a message we know: kept for later.
    assert CallbackEvent.objects.filter(applied_at__isnull=True).count() == 5


def test_oversized_body_is_413(direct_hook, settings):
    settings.CALLBACK_MAX_BYTES = 200
    body = json.dumps({**GOOD_DLR, "content": "x" * 300})
    response = direct_hook.post("dlr", raw=body)
    assert response.status_code == 413
    assert response.json() == {"error": "body larger than 200 bytes"}
    small = json.dumps(GOOD_DLR).ljust(200)  # exactly at the limit is fine
    assert direct_hook.post("dlr", raw=small).status_code == 200


def test_oversized_body_is_caught_reading_when_content_length_lies(direct_hook, settings, rf):
    from callbacks.views import receive

    settings.CALLBACK_MAX_BYTES = 100
    request = rf.post("/", data=json.dumps({**GOOD_DLR, "content": "x" * 300}), content_type="application/json")
    request.META["CONTENT_LENGTH"] = "not a number"  # unknown length: only reading tells
    request._stream.limit = 10**6
    response = receive(request, token=direct_hook.account.callback_token, endpoint="dlr")
    assert response.status_code == 413


def test_the_default_limit_takes_a_long_message(direct_hook, make_message):
    message = make_message()
    text = "ü" * 100_000  # 6 bytes each once JSON-escaped, twice over
    body = dlr(message, content=text, parts=[{"pdu_id": "p", "content": text, "status": "DELIVRD"}])
    assert direct_hook.post("dlr", body).status_code == 200


def test_reasons_of_the_parser_are_plain_text():
    with pytest.raises(parsing.Rejected, match=r"^body must be a JSON object$"):
        parsing.parse(b"[1]", allowed=frozenset({"dlr"}))
