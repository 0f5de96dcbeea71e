"""Unsubscribe lists and their members."""

import json

CSV = b"6593333311\n6593333322\n6593333333\n6593333344\n"


def test_import_file_preview_and_replace(client, sent):
    imported = client.unsubscribe_list_import_file(
        name="FirstUnsubscribeList", doc=CSV, filename="numbers.csv", mapping=["phone_number"], truncate=True,
    )
    list_id = imported["id"]
    assert imported["name"] == "FirstUnsubscribeList"
    assert imported["enabled"] is True
    assert imported["unsubscribers_amount"] == 4
    request = sent("POST", "/api/3/UnsubscribeList")
    assert request["query"] == {"truncate": "true"}
    assert request["form"]["name"] == "FirstUnsubscribeList"
    assert json.loads(request["form"]["mapping"]) == {"0": "phone_number"}
    assert request["files"][0]["field"] == "doc"

    preview = client.unsubscribe_list_preview(doc=CSV, filename="numbers.csv")
    assert preview["data"][:2] == [["6593333311"], ["6593333322"]]
    sent("POST", "/api/3/unsubscribeList/preview")

    replaced = client.unsubscribe_list_replace_file(list_id, doc=b"380502327265\n", filename="u.csv",
                                                    mapping={0: "phone_number"})
    assert replaced["id"] == list_id
    assert replaced["unsubscribers_amount"] == 1
    request = sent("PUT", f"/api/3/UnsubscribeList/{list_id}")
    assert json.loads(request["form"]["mapping"]) == {"0": "phone_number"}
    assert "name" not in request["form"]


def test_create_add_members_read_disable(client, sent):
    created = client.unsubscribe_list_create(name="Manual", numbers=["380502222233"])
    list_id = created["id"]
    assert created["unsubscribers_amount"] == 1
    assert sent("POST", "/api/3/unsubscribeList")["json"] == {"name": "Manual", "numbers": [380502222233]}

    added = client.unsubscribe_list_add_numbers(list_id, numbers=["380502222233", "+380 643 333 322"])
    assert added == {"inserted": 1, "alreadyExists": 1, "notValid": 0}
    assert sent("POST", f"/api/3/UnsubscribeList/{list_id}/members")["json"] == {
        "numbers": ["380502222233", "380643333322"],
    }

    members = client.unsubscribe_list_members(list_id)
    assert sorted(m["phone_number"] for m in members) == ["380502222233", "380643333322"]
    sent("GET", f"/api/3/unsubscribeList/{list_id}/members")

    text = client.unsubscribe_list_download(list_id)
    assert text.splitlines()[0] == '"phone_number"'
    assert '"380643333322"' in text.splitlines()
    sent("GET", f"/api/3/unsubscribeList/{list_id}/download")

    assert client.unsubscribe_list_list(filter={"name": "Manual"}) == [
        {"id": list_id, "name": "Manual", "enabled": True, "unsubscribers_amount": 2},
    ]
    assert sent("GET", "/api/3/unsubscribeList")["query"] == {"filter": "name=Manual"}

    assert client.unsubscribe_list_patch(list_id, enabled=False) == {"id": list_id, "enabled": False}
    assert sent("PATCH", f"/api/3/UnsubscribeList/{list_id}")["json"] == {"enabled": False}

    assert client.unsubscribe_list_disable(list_id) is True
    sent("DELETE", f"/api/3/UnsubscribeList/{list_id}")
