"""Sender lists, unsubscribe lists and link lists, with their members."""


def test_sender_list_members(api):
    first = api.ok("POST", "/api/3/sender", json={"name": "FirstSender"})["id"]
    second = api.ok("POST", "/api/3/sender", json={"name": "test2"})["id"]
    created = api.ok("POST", "/api/3/senderList", json={"name": "FirstSenderList", "senderIds": [first, 999]})
    list_id = created["id"]
    assert created == {"id": list_id, "name": "FirstSenderList", "enabled": True, "count": 1}
    assert api.ok("POST", f"/api/3/senderList/{list_id}/senders", json={"ids": [second, 12345]}) == [second]
    assert api.ok("GET", f"/api/3/senderList/{list_id}/senders") == {
        "id": list_id,
        "senders": [{"senderId": first, "name": "FirstSender"}, {"senderId": second, "name": "test2"}],
    }
    assert api.ok("PUT", f"/api/3/senderList/{list_id}", json={"name": "New", "senderIds": [first]}) == {
        "id": list_id,
        "name": "New",
        "enabled": True,
        "count": 2,
    }
    assert api.ok("PATCH", f"/api/3/senderList/{list_id}", json={"enabled": True}) == {
        "id": list_id,
        "enabled": 1,
    }
    assert api.ok("DELETE", f"/api/3/senderList/{list_id}/senders?id={second}") is True
    assert api.ok("GET", "/api/3/senderList") == [{"enabled": True, "id": list_id, "name": "New", "count": 1}]
    api.error("DELETE", f"/api/3/senderList/{list_id}/senders?id={second}", 404)
    assert api.ok("DELETE", f"/api/3/senderList/{list_id}") is True


def test_all_invalid_sender_ids_make_an_empty_list(api):
    assert api.ok("POST", "/api/3/senderList", json={"name": "Empty", "senderIds": [1, "x"]})["count"] == 0


def test_unsubscribe_list_manual_members_download_patch(api):
    created = api.ok("POST", "/api/3/unsubscribeList", json={"name": "FirstUnsubscribeList", "numbers": [380502222233]})
    list_id = created["id"]
    assert created == {
        "enabled": True,
        "id": list_id,
        "name": "FirstUnsubscribeList",
        "company_id": 3182,
        "unsubscribers_amount": 1,
        "user_id": 3191,
    }
    added = api.ok(
        "POST",
        f"/api/3/UnsubscribeList/{list_id}/members",
        json={"numbers": ["380502222233", "380643333322", "123"]},
    )
    assert added == {"inserted": 1, "alreadyExists": 1, "notValid": 1}
    assert api.ok("GET", f"/api/3/unsubscribeList/{list_id}/members") == [
        {"phone_number": "380502222233"},
        {"phone_number": "380643333322"},
    ]
    assert api.ok("GET", "/api/3/unsubscribeList") == [
        {"id": list_id, "name": "FirstUnsubscribeList", "enabled": 1, "unsubscribers_amount": 2}
    ]
    download = api.request("GET", f"/api/3/unsubscribeList/{list_id}/download").text
    assert download.splitlines() == ['"phone_number"', '"380502222233"', '"380643333322"']
    assert api.ok("PATCH", f"/api/3/UnsubscribeList/{list_id}", json={"enabled": False}) == {
        "id": list_id,
        "enabled": False,
    }


def test_unsubscribe_list_file_import_preview_and_replace(api):
    content = "phone_number\n6593333311\n6593333322\n"
    files = {"doc": ("u.csv", content)}
    created = api.request(
        "POST",
        "/api/3/UnsubscribeList?truncate=true",
        files=files,
        data={"mapping": '{"0":"phone_number"}', "name": "Imported"},
    ).json()["result"]
    assert created["unsubscribers_amount"] == 2 and created["name"] == "Imported"
    preview = api.request("POST", "/api/3/unsubscribeList/preview/4", files=files).json()["result"]
    assert preview["data"] == [["phone_number"], ["6593333311"], ["6593333322"]] and preview["isAllNum"] == [True]
    replaced = api.request(
        "PUT",
        f"/api/3/UnsubscribeList/{created['id']}",
        files={"doc": ("u.csv", "6593333344\n")},
        data={"mapping": '{"0":"phone_number"}'},
    ).json()["result"]
    assert replaced["unsubscribers_amount"] == 1


def test_link_lists(api):
    link = api.ok("POST", "/api/3/link", json={"name": "Google", "url": "https://google.com"})["id"]
    created = api.ok("POST", "/api/3/LinkList", json={"name": "FirstLinkList", "linkIds": [str(link), "13298"]})
    list_id = created["id"]
    assert created["linkListLength"] == 1 and created["enabled"] is True and "13298" in created["warning"]
    other = api.ok("POST", "/api/3/link", json={"name": "YouTube", "url": "https://youtube.com"})["id"]
    assert api.ok("POST", f"/api/3/LinkList/{list_id}/links", json={"ids": [str(other), "13298"]}) == [other]
    bulk = api.ok(
        "POST",
        f"/api/3/LinkList/{list_id}/links/bulk",
        json={
            "links": [
                {"name": "some3 name", "url": "https://43.url.com"},
                {"name": "some3 name 2", "url": "https://24422.url.com"},
            ]
        },
    )
    assert bulk == {
        "enabled": True,
        "id": list_id,
        "name": "FirstLinkList",
        "user_id": 3191,
        "company_id": 3182,
    }
    [links] = api.ok("GET", f"/api/3/LinkList/{list_id}/links")
    assert links["id"] == list_id and [x["url"] for x in links["links"]] == [
        "https://google.com",
        "https://youtube.com",
        "https://43.url.com/",  # links made through a list are stored normalised
        "https://24422.url.com/",
    ]
    assert api.ok("DELETE", f"/api/3/LinkList/{list_id}/links?[id]={other}") is True
    assert len(api.ok("GET", f"/api/3/LinkList/{list_id}/links")[0]["links"]) == 3
    assert api.ok("PATCH", f"/api/3/LinkList/{list_id}", json={"enabled": 1}) == {"id": list_id, "enabled": 1}
    assert api.ok("GET", "/api/3/LinkList") == [
        {"id": list_id, "name": "FirstLinkList", "enabled": 1, "conversionCount": 0}
    ]
    assert (
        api.error("POST", f"/api/3/LinkList/{list_id}/links/bulk", 400, json={"links": [{"name": "x"}]})["errorMessage"]
        == "links.0.url should not be empty"
    )


def test_link_list_file_import(api):
    content = "name,url\nFirst,https://first.example\nbroken,not-a-url\nSecond,https://second.example\n"
    created = api.request(
        "POST",
        "/api/3/LinkList",
        files={"doc": ("links.csv", content)},
        data={"mapping": '{"0":"name", "1":"url"}', "name": "Imported"},
    ).json()["result"]
    assert created == {"id": created["id"], "name": "Imported", "enabled": True}
    [links] = api.ok("GET", f"/api/3/LinkList/{created['id']}/links")
    assert [x["url"] for x in links["links"]] == ["https://first.example/", "https://second.example/"]
