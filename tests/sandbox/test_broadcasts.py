"""Broadcasts: estimate, single/base/smart, tiny, continue smart, OTP, list, combined submit,
delivery report and link conversion, computed from the simulated messages."""

import pytest

NUMBERS = ["6593333311", "6593333322", "6593333333", "6593333344"]


@pytest.fixture
def world(api, sandbox):
    campaign = api.ok("POST", "/api/3/campaign", json={"name": "Campaign"})["id"]
    sender = api.ok("POST", "/api/3/sender", json={"name": "Shop"})["id"]
    [recipient_list] = sandbox.seed(
        "recipient_lists",
        [
            {
                "name": "Four",
                "recipients": [
                    {"phone_number": number, "first_name": name}
                    for number, name in zip(NUMBERS, ["Ann", "Bob", "Cy", "Di"], strict=True)
                ],
            }
        ],
    )
    unsubscribe = api.ok("POST", "/api/3/unsubscribeList", json={"name": "Out", "numbers": [NUMBERS[3]]})["id"]
    return {"campaign": campaign, "sender": sender, "list": recipient_list["id"], "unsubscribe": unsubscribe}


def drain(sandbox):
    sandbox.control("POST", "callbacks/drain")


def test_estimate_has_the_documented_shape(api, world):
    result = api.ok(
        "POST",
        "/api/3/Broadcast/estimate",
        json={
            "broadcast_type": 11,
            "recipient_list_ids": str(world["list"]),
            "unsubscriber_list_ids": str(world["unsubscribe"]),
            "message_body": "Hi {{first_name}}",
        },
    )
    assert set(result) == {
        "messages",
        "sum",
        "parts",
        "recipient_id_map",
        "replacements",
        "firstSegmentCount",
        "recipient_meta_data_map",
        "recipients",
        "messageExpanded",
        "links",
        "warnings",
        "estimateHash",
        "batchEstimation",
    }
    assert result["messages"] == 3 and result["parts"] == 1 and result["sum"] == 10.08
    assert result["recipient_meta_data_map"][0] == [
        6593333311,
        {"phone_number": 6593333311, "first_name": "Ann"},
    ]
    assert result["recipients"]["6593333311"] == {"rate": 3.36, "mccMnc": 111222}
    assert result["messageExpanded"]["actions"]["first_name"] == {"replacement": "", "count": 1}
    assert result["messageExpanded"]["text"] == "Hi {{first_name}}"
    assert len(result["estimateHash"]) == 128
    assert result["batchEstimation"] == {"messages": 3, "sum": 10.08, "parts": 1}


def test_base_broadcast_excludes_unsubscribed_and_reports_delivery(api, sandbox, world):
    result = api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "broadcast",
            "campaign_id": world["campaign"],
            "broadcast_type": 11,
            "unsubscriber_list_ids": str(world["unsubscribe"]),
            "sender_ids": str(world["sender"]),
            "recipient_list_ids": str(world["list"]),
            "message_body": "Hello {{first_name}}",
        },
    )
    assert set(result) == {"broadcastID", "segmentID"}
    messages = sandbox.state("messages")
    assert sorted(m["recipient"] for m in messages) == NUMBERS[:3]
    assert {m["content"] for m in messages} == {"Hello Ann", "Hello Bob", "Hello Cy"}
    assert {m["sender"] for m in messages} == {"Shop"}
    drain(sandbox)
    assert api.ok("POST", "/api/3/DeliveryReport", json={"bid": result["broadcastID"]}) == [
        {
            "broadcast_id": result["broadcastID"],
            "sent": 0,
            "delivered": 3,
            "undelivered": 0,
            "rejected": 0,
            "expired": 0,
            "failed": 0,
        }
    ]
    [listed] = api.ok("GET", "/api/3/Broadcast/List")
    # `state` is opaque (the reference never lists its values) and changes from one look to the next
    assert listed["state"] == 5 and listed["estimated_count"] == 3 and listed["type"] == 11
    assert [api.ok("GET", "/api/3/Broadcast/List")[0]["state"] for _ in range(3)] == ["finished", 99, 5]
    assert listed["broadcastConversion"] == {
        "uniqueClicks": 0,
        "totalClicks": 0,
        "recipientCount": 3,
        "conversion": "0.00",
        "broadcastId": result["broadcastID"],
    }


def test_single_broadcast_echoes_custom_parameter(api, world):
    result = api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "Single SMS",
            "campaign_id": world["campaign"],
            "broadcast_type": 10,
            "unsubscriber_list_ids": "",
            "sender_id": world["sender"],
            "recipient": "380681337228",
            "message_body": "message body",
            "custom_parameter": "1234abcd5678efgh",
        },
    )
    assert result["custom_parameter"] == "1234abcd5678efgh" and set(result) == {
        "broadcastID",
        "segmentID",
        "custom_parameter",
    }


@pytest.mark.parametrize(
    "body,messages",
    [
        (
            {"broadcast_type": 10},
            [
                "campaign_id should not be empty",
                "recipient should not be empty",
                "sender_id should not be empty",
                "message_body should not be empty",
            ],
        ),
        (
            {"broadcast_type": 11, "campaign_id": 1},
            [
                "name should not be empty",
                "sender_ids should not be empty",
                "recipient_list_ids should not be empty",
                "message_body should not be empty",
            ],
        ),
        (
            {
                "broadcast_type": 12,
                "campaign_id": 1,
                "name": "n",
                "sender_ids": "1",
                "recipient_list_ids": "1",
                "message_body": "m",
                "eb_type": "CTR",
            },
            [
                "first_segment_size should not be empty",
                "exp_date should not be empty",
                "conversion_threshold should not be empty",
                "next_segment_size should not be empty",
                "recipient_cap should not be empty",
            ],
        ),
        ({"broadcast_type": 13}, ["broadcast_type must be one of the following values: 10, 11, 12"]),
    ],
)
def test_broadcast_required_fields_per_type(api, body, messages):
    assert api.error("POST", "/api/3/Broadcast", 400, json=body)["errorMessage"] == "; ".join(messages)


def test_broadcast_refers_to_existing_objects(api, world):
    body = api.error(
        "POST",
        "/api/3/Broadcast",
        404,
        json={
            "name": "b",
            "campaign_id": world["campaign"],
            "broadcast_type": 11,
            "sender_ids": "1",
            "recipient_list_ids": str(world["list"]),
            "message_body": "x",
        },
    )
    assert body["errorMessage"] == "Sender 1 not found"


def test_smart_manual_broadcast_continues_with_segments(api, sandbox, world):
    result = api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "manual",
            "campaign_id": world["campaign"],
            "broadcast_type": 12,
            "unsubscriber_list_ids": "",
            "sender_ids": str(world["sender"]),
            "recipient_list_ids": str(world["list"]),
            "message_body": "man message",
            "send_date": "2021-03-01T12:41:38.837Z",
            "utc_offset": 120,
            "eb_type": "manual",
            "first_segment_size": 3,
        },
    )
    assert len(sandbox.state("messages")) == 3
    segment = api.ok(
        "POST",
        "/api/3/Segments",
        json={
            "broadcast_id": result["broadcastID"],
            "message_body": "sample",
            "segment_size": 1,
            "send_now": True,
            "sender_ids": str(world["sender"]),
            "utc_offset": 180,
        },
    )
    assert list(segment) == [
        "real_price",
        "id",
        "broadcast_id",
        "utc_offset",
        "message_body",
        "template_id",
        "batch_index",
        "state",
        "recipient_count",
        "estimated_price",
        "send_conditions_id",
        "enabled",
        "created_at",
        "send_time",
        "estimated_count",
    ]
    assert segment["recipient_count"] == 1 and segment["utc_offset"] == 180 and segment["estimated_price"] == 3.36
    drain(sandbox)
    report = api.ok("POST", "/api/3/DeliveryReport", json={"bid": result["broadcastID"]})
    assert [(r["segment_id"], r["delivered"]) for r in report] == [
        (result["segmentID"], 3),
        (segment["id"], 1),
    ]
    body = api.error(
        "POST",
        "/api/3/Segments",
        400,
        json={
            "broadcast_id": result["broadcastID"],
            "message_body": "more",
            "segment_size": 1,
            "send_now": True,
            "sender_ids": str(world["sender"]),
        },
    )
    assert "no recipients left" in body["errorMessage"]


def test_tiny_single(api, sandbox):
    result = api.ok(
        "POST",
        "/api/3/Broadcast/tiny/",
        json={"recipient": "2605876689", "sender": "sender", "message_body": "sample message"},
    )
    assert set(result) == {"broadcastId", "segmentId"}
    [message] = sandbox.state("messages")
    assert message["content"] == "sample message" and message["recipient"] == "2605876689"


def test_otp_send_and_verify(api, sandbox, world):
    response = api.request(
        "POST",
        "/api/broadcasts/single?otp=true",
        json={
            "campaign_id": world["campaign"],
            "sender_id": str(world["sender"]),
            "message_body": "verification code: {{verification_code}}",
            "recipient": "2605876689",
            "verification": True,
        },
    )
    assert response.status_code == 200 and set(response.json()) == {"id"}
    [otp] = sandbox.state("otps")
    [message] = sandbox.state("messages")
    assert message["content"] == f"verification code: {otp['code']}"
    wrong = api.request("POST", "/api/recipients/2605876689/verification", json={"verification_code": 1})
    assert wrong.json() == {"valid": False}
    right = api.request("POST", "/api/recipients/2605876689/verification", json={"verification_code": int(otp["code"])})
    assert right.status_code == 200 and right.json() == {"valid": True}


def test_otp_validation_is_nest_style(api, world):
    response = api.request(
        "POST",
        "/api/broadcasts/single?otp=true",
        json={
            "campaign_id": world["campaign"],
            "sender_id": str(world["sender"]),
            "message_body": "no token",
            "recipient": "12",
            "verification": True,
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": [
            "The recipient number entered is invalid. Please ensure that the number is between 10 and 15 "
            "digits in length."
        ],
    }


def test_broadcast_list_filter_order_and_limit(api, world):
    def create(name, broadcast_type):
        body = {
            "name": name,
            "campaign_id": world["campaign"],
            "broadcast_type": broadcast_type,
            "sender_ids": str(world["sender"]),
            "sender_id": world["sender"],
            "recipient": "2605876689",
            "recipient_list_ids": str(world["list"]),
            "message_body": "x",
            "eb_type": "manual",
            "first_segment_size": 1,
        }
        return api.ok("POST", "/api/3/Broadcast", json=body)["broadcastID"]

    first, second, third = create("sample one", 11), create("other", 10), create("sample smart", 12)
    assert [b["id"] for b in api.ok("GET", "/api/3/Broadcast/List")] == [third, second, first]
    assert [b["id"] for b in api.ok("GET", "/api/3/Broadcast/List?orderby=create_date ASC&limit=2")] == [
        first,
        second,
    ]
    assert [b["id"] for b in api.ok("GET", "/api/3/Broadcast/List?filter=name=sample")] == [third, first]
    filtered = api.ok(
        "GET",
        "/api/3/Broadcast/List?filter=name=sample,type=2,type=12,filterBy=create_date,start_date=06/01/2021 12:00 AM",
    )
    assert [b["id"] for b in filtered] == [third]
    assert api.ok("GET", "/api/3/Broadcast/List?filter=name=sample,start_date=01/01/2099 12:00 AM") == []
    api.error("GET", "/api/3/Broadcast/List?limit=101", 400)
    api.error("GET", "/api/3/Broadcast/List?orderby=name DESC", 400)


def test_combined_submit_creates_a_list_and_a_broadcast(api, sandbox):
    result = api.ok(
        "POST",
        "/api/3/Broadcast/combinedsubmit",
        json={
            "message_body": "hello {{first_name}} {{last_name}} here is {{custom2}} click on link {{shorten_url}}!!",
            "sender": "My sender",
            "recipients": [
                {
                    "phone_number": 380100001010,
                    "first_name": "John",
                    "last_name": "Doe",
                    "custom2": "MyCustomToken",
                    "url": "https://mylink1.com",
                },
                {"phone_number": 380100001011, "first_name": "Bob", "url": "https://mylink2.com"},
            ],
        },
    )
    [entry] = result
    assert set(entry) == {"broadcastID", "segmentID"}
    contents = sorted(m["content"] for m in sandbox.state("messages"))
    assert contents[0].startswith("hello Bob  here is  click on link hkzt.me/")
    assert contents[1].startswith("hello John Doe here is MyCustomToken click on link hkzt.me/")
    [broadcast] = sandbox.state("broadcasts")
    assert broadcast["name"] == str(entry["broadcastID"])
    assert len(sandbox.state("recipient_lists")) == 1


def test_link_conversion_counts_recipients_and_unique_clicks(api, sandbox, world):
    link = api.ok("POST", "/api/3/link", json={"name": "Shop", "url": "https://mmdsmart.com/offer"})["id"]
    api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "links",
            "campaign_id": world["campaign"],
            "broadcast_type": 11,
            "sender_ids": str(world["sender"]),
            "recipient_list_ids": str(world["list"]),
            "message_body": f"Go {{{{link:{link}}}}}",
        },
    )
    drain(sandbox)
    message = sandbox.state("messages")[0]
    sandbox.control("POST", f"messages/{message['message_id']}/click")
    sandbox.control("POST", f"messages/{message['message_id']}/click")  # not unique
    assert api.ok("POST", "/api/3/details/linkConversion", json={"url": "mmdsmart.com"}) == {
        "conversion": 25,
        "totalRecipients": 4,
        "clicks": 1,
    }
    [listed] = api.ok("GET", "/api/3/Broadcast/List")
    assert listed["broadcastConversion"]["uniqueClicks"] == 1 and listed["broadcastConversion"]["totalClicks"] == 2
    assert listed["broadcastConversion"]["conversion"] == "25.00"


def test_delivery_report_needs_a_known_broadcast(api):
    assert api.error("POST", "/api/3/DeliveryReport", 400, json={})["errorMessage"] == "bid should not be empty"
    api.error("POST", "/api/3/DeliveryReport", 404, json={"bid": 123123})


def test_tokens_expand_per_recipient(api, sandbox, world):
    spinner = api.ok("POST", "/api/3/spinner", json={"name": "Hi", "words": ["Hello", "Hey"]})["id"]
    first = api.ok("POST", "/api/3/link", json={"name": "A", "url": "https://a.example"})["id"]
    second = api.ok("POST", "/api/3/link", json={"name": "B", "url": "https://b.example"})["id"]
    link_list = api.ok("POST", "/api/3/LinkList", json={"name": "AB", "linkIds": [first, second]})["id"]
    template = api.ok(
        "POST",
        "/api/3/template",
        json={"name": "T", "body": f"{{{{word_spinner:{spinner}}}}} {{{{first_name}}}} {{{{link_list:{link_list}}}}}"},
    )["id"]
    api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "tokens",
            "campaign_id": world["campaign"],
            "broadcast_type": 11,
            "sender_ids": str(world["sender"]),
            "recipient_list_ids": str(world["list"]),
            "message_body": "required, but the template wins",
            "template_id": template,
        },
    )
    messages = sandbox.state("messages")
    assert all(m["content"].split()[0] in ("Hello", "Hey") for m in messages)
    assert [m["content"].split()[1] for m in messages] == ["Ann", "Bob", "Cy", "Di"]
    assert [m["links"][0]["url"] for m in messages] == ["https://a.example", "https://b.example"] * 2
    body = api.error(
        "POST",
        "/api/3/Broadcast/estimate",
        404,
        json={"recipient_list_ids": str(world["list"]), "message_body": "{{link:1}}"},
    )
    assert body["errorMessage"] == "Link 1 not found"


def test_ctr_smart_broadcast_sends_the_next_segment_when_the_threshold_is_reached(api, sandbox, world):
    result = api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "ctr",
            "campaign_id": world["campaign"],
            "broadcast_type": 12,
            "sender_ids": str(world["sender"]),
            "recipient_list_ids": str(world["list"]),
            "message_body": "Go https://shop.example",
            "eb_type": "CTR",
            "exp_date": "2030-09-25 13:55:58",
            "conversion_threshold": 50,
            "first_segment_size": 2,
            "next_segment_size": 1,
            "recipeint_cap": 3,
        },
    )
    drain(sandbox)
    first_segment = [m for m in sandbox.state("messages") if m["segment_id"] == result["segmentID"]]
    sandbox.control("POST", f"messages/{first_segment[0]['message_id']}/click")
    assert len(sandbox.state("messages")) == 3  # 1 of 2 clicked = 50 %: one more recipient, then the cap
    drain(sandbox)
    report = api.ok("POST", "/api/3/DeliveryReport", json={"bid": result["broadcastID"]})
    assert [r["delivered"] for r in report] == [2, 1]
    [listed] = api.ok("GET", "/api/3/Broadcast/List")
    assert listed["eb_type"] == "CTR" and listed["next_segment_size"] == 1
