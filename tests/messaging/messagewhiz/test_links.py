"""Links, link conversion and link lists."""

import json


def test_link_lifecycle(client, sent):
    link = client.link_create(name="Link1", url="https://foot1.com", bot_redirect="https://foot32.com/desktop",
                              preview_url="https://foot12.com")
    assert isinstance(link["id"], int)
    assert link["enabled"] is True
    assert link["platform_based_links"] == {"bot_redirect": "https://foot32.com/desktop",
                                            "preview_url": "https://foot12.com"}
    assert sent("POST", "/api/3/link")["json"] == {
        "name": "Link1", "url": "https://foot1.com",
        "platform_based_links": {"bot_redirect": "https://foot32.com/desktop", "preview_url": "https://foot12.com"},
    }

    assert [x["id"] for x in client.link_list(filter={"url": "https://foot1.com"})] == [link["id"]]
    assert sent("GET", "/api/3/link")["query"] == {"filter": "url=https://foot1.com"}

    path = f"/api/3/link/{link['id']}"
    updated = client.link_update(link["id"], name="FirstLink")
    assert updated["name"] == "FirstLink"
    assert updated["url"] == "https://foot1.com"
    assert sent("PUT", path)["json"] == {"name": "FirstLink"}

    assert client.link_disable(link["id"]) is True
    sent("DELETE", path)


def test_link_conversion(client, sent):
    conversion = client.link_conversion(url="mmdsmart.com")
    assert set(conversion) == {"conversion", "totalRecipients", "clicks"}
    request = sent("POST", "/api/3/details/linkConversion")
    assert request["json"] == {"url": "mmdsmart.com"}
    assert request["apikey_present"] is True


def test_link_list_lifecycle(client, sent):
    first = client.link_create(name="google", url="https://google.com")["id"]
    second = client.link_create(name="youtube", url="https://youtube.com")["id"]

    created = client.link_list_create(name="FirstLinkList", link_ids=[first])
    list_id = created["id"]
    assert created["linkListLength"] == 1
    assert created["enabled"] is True
    assert sent("POST", "/api/3/LinkList")["json"] == {"name": "FirstLinkList", "linkIds": [str(first)]}

    assert client.link_list_add_links(list_id, link_ids=[second]) == [second]
    assert sent("POST", f"/api/3/LinkList/{list_id}/links")["json"] == {"ids": [str(second)]}

    bulk = client.link_list_add_links_bulk(list_id, links=[{"name": "some3 name", "url": "https://43.url.com"}])
    assert bulk["id"] == list_id
    assert sent("POST", f"/api/3/LinkList/{list_id}/links/bulk")["json"] == {
        "links": [{"name": "some3 name", "url": "https://43.url.com"}],
    }

    links = client.link_list_links(list_id)
    assert links["id"] == list_id
    assert [x["url"] for x in links["links"]][:2] == ["https://google.com", "https://youtube.com"]
    assert all(isinstance(x["linkId"], int) for x in links["links"])
    sent("GET", f"/api/3/LinkList/{list_id}/links")

    assert [x["id"] for x in client.link_list_list(filter={"name": "FirstLinkList"})] == [list_id]
    sent("GET", "/api/3/LinkList")

    assert client.link_list_remove_link(list_id, second) is True
    assert sent("DELETE", f"/api/3/LinkList/{list_id}/links")["query"] == {"[id]": str(second)}
    assert second not in [x["linkId"] for x in client.link_list_links(list_id)["links"]]

    assert client.link_list_patch(list_id, enabled=True) == {"id": list_id, "enabled": True}
    assert sent("PATCH", f"/api/3/LinkList/{list_id}")["json"] == {"enabled": True}

    assert client.link_list_disable(list_id) is True
    sent("DELETE", f"/api/3/LinkList/{list_id}")


def test_link_list_from_files(client, sent):
    doc = b"google,https://google.com\nyoutube,https://youtube.com\n"
    created = client.link_list_import_file(name="FirstLinkList", doc=doc, filename="linkList.csv",
                                           mapping=["name", "url"])
    list_id = created["id"]
    assert created["name"] == "FirstLinkList"
    request = sent("POST", "/api/3/LinkList")
    assert json.loads(request["form"]["mapping"]) == {"0": "name", "1": "url"}
    assert request["files"][0]["filename"] == "linkList.csv"

    client.link_list_replace_file(list_id, doc=b"https://bing.com,bing\n", filename="Second.csv",
                                  mapping=["url", "name"], name="NewList")
    request = sent("PUT", f"/api/3/LinkList/{list_id}")
    assert request["form"]["name"] == "NewList"
    assert [x["url"] for x in client.link_list_links(list_id)["links"]] == ["https://bing.com/"]  # stored normalised
