"""Senders and sender lists."""


def test_sender_lifecycle(client, sent):
    sender = client.sender_create(name="FirstSender")
    assert isinstance(sender["id"], int)
    assert sender == {"id": sender["id"], "name": "FirstSender", "enabled": True}
    request = sent("POST", "/api/3/sender")
    assert request["json"] == {"name": "FirstSender"}
    assert request["apikey_present"] is True

    assert [s["name"] for s in client.sender_list(filter={"name": "FirstSender"})] == ["FirstSender"]
    assert sent("GET", "/api/3/sender")["query"] == {"filter": "name=FirstSender"}

    path = f"/api/3/sender/{sender['id']}"
    updated = client.sender_update(sender["id"], name="TestSender")
    assert updated == {"id": sender["id"], "name": "TestSender", "enabled": True}
    assert sent("PUT", path)["json"] == {"name": "TestSender"}

    patched = client.sender_patch(sender["id"], enabled=False)
    assert patched["enabled"] is False
    assert sent("PATCH", path)["json"] == {"enabled": False}

    assert client.sender_disable(sender["id"]) is True
    sent("DELETE", path)


def test_sender_list_lifecycle(client, sent):
    first = client.sender_create(name="FirstSender")["id"]
    second = client.sender_create(name="test2")["id"]
    third = client.sender_create(name="Third")["id"]

    created = client.sender_list_create(name="FirstSenderList", sender_ids=[first, str(second)])
    list_id = created["id"]
    assert created == {"id": list_id, "name": "FirstSenderList", "enabled": True, "count": 2}
    assert sent("POST", "/api/3/senderList")["json"] == {
        "name": "FirstSenderList", "senderIds": [first, second],
    }

    assert client.sender_list_add_senders(list_id, sender_ids=[third]) == [third]
    assert sent("POST", f"/api/3/senderList/{list_id}/senders")["json"] == {"ids": [third]}

    members = client.sender_list_senders(list_id)
    assert members["id"] == list_id
    assert sorted(s["senderId"] for s in members["senders"]) == sorted([first, second, third])
    sent("GET", f"/api/3/senderList/{list_id}/senders")

    lists = client.sender_list_list(filter={"name": "FirstSenderList"})
    assert lists == [{"id": list_id, "name": "FirstSenderList", "enabled": True, "count": 3}]
    sent("GET", "/api/3/senderList")

    path = f"/api/3/senderList/{list_id}"
    fourth = client.sender_create(name="Fourth")["id"]
    updated = client.sender_list_update(list_id, name="New", sender_ids=[fourth])
    assert updated["name"] == "New"
    assert updated["count"] == 4  # the prose: senderIds "will be added to the list"
    assert sent("PUT", path)["json"] == {"name": "New", "senderIds": [fourth]}

    patched = client.sender_list_patch(list_id, enabled=True)
    assert patched == {"id": list_id, "enabled": True}
    assert sent("PATCH", path)["json"] == {"enabled": True}

    assert client.sender_list_remove_sender(list_id, second) is True
    assert sent("DELETE", f"/api/3/senderList/{list_id}/senders")["query"] == {"id": str(second)}
    remaining = client.sender_list_senders(list_id)["senders"]
    assert sorted(s["senderId"] for s in remaining) == [first, third, fourth]

    assert client.sender_list_disable(list_id) is True
    sent("DELETE", path)
