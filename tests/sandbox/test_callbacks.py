"""Outgoing callbacks: /sms DLRs, DLR to webhook batches, link clicks, their faults and log."""

import pytest

SMS = {"to": "5417543010", "from": "sender", "text": "Message Text"}
DLR_KEYS = [
    "message_id",
    "sender",
    "recipient",
    "content",
    "state",
    "status",
    "client_ref",
    "timestamp",
    "parts_count",
    "price",
    "parts",
]


def sms(api, **extra):
    response = api.request("POST", "/sms", key=None, json={"api_key": api.key, **SMS, **extra})
    assert response.status_code == 201, response.text
    return response.json()["message_id"]


def test_sms_dlr_is_posted_to_the_callback_url(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=20)
    message_id = sms(api, client_ref="Custom param", callback=receiver.url("/dlr"))
    [dlr] = receiver.wait_for(1, "/dlr")
    assert list(dlr) == DLR_KEYS
    assert dlr["message_id"] == message_id and (dlr["state"], dlr["status"]) == (2, "DELIVRD")
    assert (dlr["sender"], dlr["recipient"], dlr["content"]) == ("sender", "5417543010", "Message Text")
    assert dlr["client_ref"] == "Custom param" and dlr["parts_count"] == 1
    [part] = dlr["parts"]
    assert set(part) == {"pdu_id", "encoding", "content", "status"} and part["status"] == "DELIVRD"
    sandbox.control("POST", "callbacks/drain")  # returns once the attempt is logged
    [logged] = sandbox.control("GET", "callbacks/log")
    assert logged["kind"] == "dlr" and logged["status"] == 200 and logged["body"] == dlr
    assert sandbox.state("messages")[0]["state"] == 2


def test_enroute_first_then_weighted_final_status(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=20, enroute=True, statuses={"UNDELIV": 1})
    sms(api, callback=receiver.url("/dlr"))
    enroute, final = receiver.wait_for(2, "/dlr")
    assert (enroute["state"], enroute["status"]) == (1, "ENROUTE")
    assert (final["state"], final["status"]) == (5, "UNDELIV")


def test_out_of_order_and_duplicates(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=20, enroute=True, out_of_order=True, duplicate_rate=1.0)
    sms(api, callback=receiver.url("/dlr"))
    statuses = [dlr["status"] for dlr in receiver.wait_for(3, "/dlr")]
    assert statuses == ["DELIVRD", "DELIVRD", "ENROUTE"]
    assert sandbox.state("messages")[0]["status"] == "DELIVRD"  # a late ENROUTE does not undo the final


def test_jitter_shuffles_dlrs_and_clicks(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1}, enroute=True, click_rate=1.0, jitter_ms=300)
    sent = [sms(api, text=f"Offer {i} https://shop.example/{i}", callback=receiver.url("/cb")) for i in range(20)]
    arrived = receiver.wait_for(60, "/cb")
    finals = [b["message_id"] for b in arrived if b.get("status") == "DELIVRD"]
    assert sorted(finals) == sorted(sent) and finals != sent  # messages' reports overtake each other

    def position(message_id, kind):
        return next(i for i, b in enumerate(arrived) if b["message_id"] == message_id and kind(b))

    final_first = [m for m in sent if position(m, lambda b: b.get("status") == "DELIVRD")
                   < position(m, lambda b: b.get("status") == "ENROUTE")]
    click_first = [m for m in sent if position(m, lambda b: "link_id" in b)
                   < position(m, lambda b: b.get("status") == "DELIVRD")]
    assert final_first and click_first  # and a message's own callbacks, of every kind


def test_jitter_reorders_webhook_batches_and_their_duplicates(api, sandbox, receiver, broadcast_world):
    sandbox.callbacks(delay_ms=0, dlr_webhook_url=receiver.url("/webhook"), batch_size=1, webhook_flush_ms=0,
                      duplicate_rate=1.0, jitter_ms=300)
    api.ok("POST", "/api/3/Broadcast", json={
        "name": "b", "campaign_id": broadcast_world["campaign"], "broadcast_type": 11,
        "sender_ids": str(broadcast_world["sender"]), "recipient_list_ids": str(broadcast_world["list"]),
        "message_body": "hello",
    })
    recipients = [batch["dlrs"][0]["recipient"] for batch in receiver.wait_for(10, "/webhook")]
    assert sorted(recipients) == sorted(broadcast_world["numbers"] * 2)
    # Without jitter the batches come in list order, each duplicate right after its original.
    assert recipients != [number for number in broadcast_world["numbers"] for _ in range(2)]
    assert any(first != second for first, second in zip(recipients[::2], recipients[1::2], strict=True))


def test_clicks_are_duplicated_like_every_callback(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=0, click_rate=1.0, duplicate_rate=1.0)
    message_id = sms(api, text="Offer https://shop.example/x", callback=receiver.url("/cb"))
    posts = receiver.wait_for(4, "/cb")
    clicks = [body for body in posts if "link_id" in body]
    assert len(clicks) == 2 and clicks[0] == clicks[1] and clicks[0]["message_id"] == message_id
    sandbox.control("POST", f"messages/{message_id}/click")  # by hand too
    by_hand = [body for body in receiver.wait_for(6, "/cb") if "link_id" in body][2:]
    assert len(by_hand) == 2 and by_hand[0] == by_hand[1] and by_hand[0]["unique_click"] is False


def test_clicks_before_the_dlr(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=40, enroute=True, click_rate=1.0, click_before_dlr=True)
    message_id = sms(api, text="Offer https://shop.example/x", callback=receiver.url("/cb"))
    click, enroute, final = receiver.wait_for(3, "/cb")
    assert click["message_id"] == message_id and click["unique_click"] is True
    assert (enroute["status"], final["status"]) == ("ENROUTE", "DELIVRD")


def test_clicks_before_the_webhook_dlrs_of_a_broadcast(api, sandbox, receiver, broadcast_world):
    sandbox.callbacks(delay_ms=20, click_rate=1.0, click_before_dlr=True, click_url=receiver.url("/clicks"),
                      dlr_webhook_url=receiver.url("/webhook"), webhook_flush_ms=0)
    api.ok("POST", "/api/3/Broadcast", json={
        "name": "b", "campaign_id": broadcast_world["campaign"], "broadcast_type": 11,
        "sender_ids": str(broadcast_world["sender"]), "recipient_list_ids": str(broadcast_world["list"]),
        "message_body": "Sale https://shop.example/x",
    })
    receiver.wait_for(5, "/clicks")
    receiver.wait_for(1, "/webhook")
    sandbox.control("POST", "callbacks/drain")  # returns once every batch is posted
    assert sum(len(batch["dlrs"]) for batch in receiver.bodies("/webhook")) == 5
    recipient = {m["message_id"]: m["recipient"] for m in sandbox.state("messages")}
    for index, (path, body) in enumerate(receiver.posts):
        if path == "/clicks":  # each click arrives before the batch reporting its message
            later = [d["recipient"] for p, b in receiver.posts[index:] if p == "/webhook" for d in b["dlrs"]]
            assert recipient[body["message_id"]] in later


def test_account_callback_url_is_used_without_a_per_message_callback(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=0, callback_url=receiver.url("/account"))
    sms(api)
    assert receiver.wait_for(1, "/account")[0]["status"] == "DELIVRD"


def test_clicks_go_to_the_message_callback(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=20, click_rate=1.0)
    message_id = sms(api, text="Offer https://shop.example/x", callback=receiver.url("/cb"))
    dlr, click = receiver.wait_for(2, "/cb")
    assert dlr["status"] == "DELIVRD"
    assert list(click) == ["message_id", "link_id", "time", "unique_click"]
    assert click["message_id"] == message_id and click["unique_click"] is True
    assert click["link_id"].startswith("hkzt.me/")


def test_clicks_can_go_to_a_click_url_and_be_triggered_by_hand(api, sandbox, receiver):
    sandbox.callbacks(delay_ms=0, click_url=receiver.url("/clicks"))
    message_id = sms(api, text="See https://shop.example")
    sandbox.control("POST", f"messages/{message_id}/click")
    sandbox.control("POST", f"messages/{message_id}/click")
    first, second = receiver.wait_for(2, "/clicks")
    assert (first["unique_click"], second["unique_click"]) == (True, False)


@pytest.fixture
def broadcast_world(api, sandbox):
    campaign = api.ok("POST", "/api/3/campaign", json={"name": "C"})["id"]
    sender = api.ok("POST", "/api/3/sender", json={"name": "Shop"})["id"]
    numbers = [f"65933333{i:02d}" for i in range(5)]
    list_id = api.ok("POST", "/api/3/recipientList/numbers", json={"name": "L", "numbers": numbers})[
        "recipient_list_id"
    ]
    return {"campaign": campaign, "sender": sender, "list": list_id, "numbers": numbers}


def test_dlr_to_webhook_batches_per_broadcast(api, sandbox, receiver, broadcast_world):
    sandbox.callbacks(delay_ms=20, dlr_webhook_url=receiver.url("/webhook"), batch_size=2, webhook_flush_ms=50)
    result = api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "name": "b",
            "campaign_id": broadcast_world["campaign"],
            "broadcast_type": 11,
            "sender_ids": str(broadcast_world["sender"]),
            "recipient_list_ids": str(broadcast_world["list"]),
            "message_body": "hello",
        },
    )
    batches = receiver.wait_for(3, "/webhook")
    assert sorted(len(batch["dlrs"]) for batch in batches) == [1, 2, 2]
    dlr = batches[0]["dlrs"][0]
    assert list(dlr) == ["segment_id", "_id", "broadcast_id", "recipient", "price", "task_state", "updated"]
    assert (dlr["broadcast_id"], dlr["segment_id"]) == (result["broadcastID"], result["segmentID"])
    assert dlr["task_state"] == 2 and isinstance(dlr["updated"], int)
    assert sorted(d["recipient"] for batch in batches for d in batch["dlrs"]) == broadcast_world["numbers"]
    assert all(set(batch) == {"dlrs"} for batch in batches)  # no custom_parameter, no pduDLR for a base


def test_dlr_to_webhook_for_singles_has_custom_parameter_and_pdu_counts(api, sandbox, receiver, broadcast_world):
    sandbox.callbacks(delay_ms=0, dlr_webhook_url=receiver.url("/webhook"), webhook_flush_ms=0)
    api.ok(
        "POST",
        "/api/3/Broadcast",
        json={
            "campaign_id": broadcast_world["campaign"],
            "broadcast_type": 10,
            "sender_id": broadcast_world["sender"],
            "recipient": "380681337228",
            "message_body": "x" * 200,
            "custom_parameter": "1234abcd5678efgh",
        },
    )
    [single] = receiver.wait_for(1, "/webhook")
    assert single["custom_parameter"] == "1234abcd5678efgh"
    assert single["pduDLR"] == {"sent_count": 2, "delivered_count": 2}
    api.ok(
        "POST",
        "/api/3/Broadcast/tiny/",
        json={"recipient": "2605876689", "sender": "sender", "message_body": "sample message"},
    )
    tiny = receiver.wait_for(2, "/webhook")[1]
    assert set(tiny) == {"dlrs", "pduDLR"} and tiny["pduDLR"] == {"sent_count": 1, "delivered_count": 1}


def test_failed_callback_attempts_are_logged(api, sandbox, receiver):
    receiver.status = 500
    sandbox.callbacks(delay_ms=0)
    sms(api, callback=receiver.url("/dlr"))
    sms(api, callback="http://127.0.0.1:9/unreachable")
    sandbox.control("POST", "callbacks/drain")
    receiver.wait_for(1, "/dlr")
    log = sandbox.control("GET", "callbacks/log", params={"kind": "dlr"})
    assert {entry["status"] for entry in log} == {500, None}
    assert any(entry["error"] for entry in log)


def test_scheduled_and_triggered_broadcasts_wait(api, sandbox, broadcast_world):
    trigger = api.ok("POST", "/api/3/trigger", json={"name": "go"})["id"]
    base = {
        "name": "t",
        "campaign_id": broadcast_world["campaign"],
        "broadcast_type": 11,
        "sender_ids": str(broadcast_world["sender"]),
        "recipient_list_ids": str(broadcast_world["list"]),
        "message_body": "hello",
    }
    triggered = api.ok("POST", "/api/3/Broadcast", json={**base, "trigger_id": trigger})["broadcastID"]
    api.ok("POST", "/api/3/Broadcast", json={**base, "name": "later", "send_date": "2099-01-01T00:00:00.000Z"})
    listed = {b["name"]: b for b in api.ok("GET", "/api/3/Broadcast/List")}
    assert listed["t"]["state"] == 0 and listed["later"]["state"] == 0 and listed["later"]["send_now"] is False
    assert sandbox.control("POST", f"triggers/{trigger}/fire") == {"released": 5}
    sandbox.control("POST", "callbacks/drain")
    report = api.ok("POST", "/api/3/DeliveryReport", json={"bid": triggered})[0]
    assert report["delivered"] == 5
