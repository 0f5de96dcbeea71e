"""Campaigns, senders, templates, word spinners, triggers and links: the shared REST pattern
(create, list with start/limit/enabled/filter, PUT, PATCH, DELETE = disable) and their own shapes."""

import re

import pytest


def test_campaign_lifecycle_matches_the_reference(api):
    created = api.ok(
        "POST",
        "/api/3/campaign",
        json={
            "name": "CampaignName",
            "start_date": "2020-07-22T21:00:00.000Z",
            "end_date": "2020-09-25T21:00:00.000Z",
        },
    )
    assert created == {
        "id": created["id"],
        "is_default": 0,
        "name": "CampaignName",
        "start_date": "2020-07-22T21:00:00.000Z",
        "end_date": "2020-09-25T21:00:00.000Z",
        "enabled": True,
    }
    ident = created["id"]
    [listed] = api.ok("GET", "/api/3/campaign?start=0")
    assert listed["userList"] == [{"campaign_id": ident, "user_id": 3191, "company_id": 3182}]
    assert list(listed)[:2] == ["enabled", "id"]

    updated = api.ok("PUT", f"/api/3/campaign/{ident}", json={"end_date": "2021-03-25T21:00:00.000Z"})
    assert updated["end_date"] == "2021-03-25T21:00:00.000Z" and updated["name"] == "CampaignName"

    assert api.ok("DELETE", f"/api/3/campaign/{ident}") is True
    assert api.ok("GET", "/api/3/campaign") == []
    assert [c["id"] for c in api.ok("GET", "/api/3/campaign?limit=2&enabled=false")] == [ident]
    assert api.ok("PATCH", f"/api/3/campaign/{ident}", json={"enabled": "1"}) == {"id": ident, "enabled": 1}
    assert [c["id"] for c in api.ok("GET", "/api/3/campaign")] == [ident]


def test_lists_page_newest_first_with_default_limit_10_and_exact_name_filter(api, sandbox):
    sandbox.seed("senders", [{"name": f"Sender{i}"} for i in range(15)])
    first = api.ok("GET", "/api/3/sender")
    assert len(first) == 10 and first[0]["name"] == "Sender14"
    rest = api.ok("GET", "/api/3/sender?start=10&limit=10")
    assert [s["name"] for s in rest] == [f"Sender{i}" for i in range(4, -1, -1)]
    assert [s["name"] for s in api.ok("GET", "/api/3/sender?filter=name=Sender1")] == ["Sender1"]
    assert api.error("GET", "/api/3/sender?limit=abc", 400)["errorMessage"] == "limit must be an integer number"


def test_repeated_names_are_allowed_and_bad_values_are_400(api):
    # The reference never says names are unique, so the sandbox invents no 409 for them.
    first = api.ok("POST", "/api/3/campaign", json={"name": "Same"})
    second = api.ok("POST", "/api/3/campaign", json={"name": "Same"})
    assert first["id"] != second["id"]
    body = api.error("POST", "/api/3/campaign", 400, json={"name": "X", "start_date": "yesterday"})
    assert body["errorMessage"] == "start_date must be a valid ISO 8601 date string"


@pytest.mark.parametrize(
    "name,ok",
    [
        ("FirstSender", True),
        ("A'._-+& b", True),
        ("12345678901234567890", True),
        ("TwelveLetter", False),
        ("123456789012345678901", False),
        ("Bad!", False),
    ],
)
def test_sender_names_follow_the_documented_rule(api, name, ok):
    response = api.request("POST", "/api/3/sender", json={"name": name})
    assert response.status_code == (200 if ok else 400)
    if ok:
        assert response.json()["result"] == {
            "id": response.json()["result"]["id"],
            "name": name,
            "enabled": True,
        }


def test_sender_put_and_patch(api):
    ident = api.ok("POST", "/api/3/sender", json={"name": "test"})["id"]
    assert api.ok("PUT", f"/api/3/sender/{ident}", json={"name": "TestSender"}) == {
        "id": ident,
        "name": "TestSender",
        "enabled": True,
    }
    assert api.ok("PATCH", f"/api/3/sender/{ident}", json={"enabled": 0}) == {"id": ident, "enabled": 0}
    assert api.ok("GET", "/api/3/sender") == []


def test_templates_spinners_triggers(api):
    template = api.ok("POST", "/api/3/template", json={"name": "FirstTemplate", "body": "HI!"})
    assert template == {"id": template["id"], "name": "FirstTemplate", "body": "HI!", "enabled": True}
    assert api.ok("GET", "/api/3/template")[0] == {
        "enabled": True,
        "id": template["id"],
        "user_id": 3191,
        "name": "FirstTemplate",
        "body": "HI!",
    }

    words = ["wo", "three"]
    spinner = api.ok("POST", "/api/3/spinner", json={"name": "Fit32", "words": words})
    assert spinner == {"name": "Fit32", "words": words, "enabled": True, "id": spinner["id"]}
    assert api.ok("PUT", f"/api/3/spinner/{spinner['id']}", json={"words": ["one"]})["words"] == ["one"]
    assert api.ok("PATCH", f"/api/3/spinner/{spinner['id']}", json={"enabled": "0"}) == {"enabled": 0}

    trigger = api.ok("POST", "/api/3/trigger", json={"name": "newTrigger"})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", trigger["uuid"])
    assert trigger["short_url"].startswith("https://0nz0.com/") and trigger["enabled"] == 1
    assert trigger["trigger_type_id"] == 1
    [listed] = api.ok("GET", "/api/3/trigger")
    assert listed["uuid"] == trigger["uuid"] and listed["short_url"] == trigger["short_url"]
    assert listed["flight_details.flight_number"] is None and listed["details"] is None
    renamed = api.ok("PUT", f"/api/3/trigger/{trigger['id']}", json={"name": "#"})
    assert renamed == {
        "id": trigger["id"],
        "name": "#",
        "uuid": trigger["uuid"],
        "enabled": 1,
        "short_url": trigger["short_url"],
    }


def test_links_create_filter_and_validate(api):
    link = api.ok(
        "POST",
        "/api/3/link",
        json={
            "name": "Link1",
            "url": "https://foot1.com",
            "platform_based_links": {
                "bot_redirect": "https://foot32.com/desktop",
                "preview_url": "https://foot12.com",
            },
        },
    )
    assert link["type"] == 0 and link["platform_based_links"]["preview_url"] == "https://foot12.com"
    api.ok("POST", "/api/3/link", json={"name": "test", "url": "https://sms.messagewhiz.com/app/workspace/links"})
    assert [x["name"] for x in api.ok("GET", "/api/3/link?filter=url=https://foot1.com")] == ["Link1"]
    assert api.ok("PUT", f"/api/3/link/{link['id']}", json={"name": "FirstLink"}) == {
        "id": link["id"],
        "name": "FirstLink",
        "url": "https://foot1.com",
        "enabled": True,
    }
    assert api.error("POST", "/api/3/link", 400, json={"name": "x", "url": "not a url"})["errorMessage"] == (
        "url must be a URL address"
    )
