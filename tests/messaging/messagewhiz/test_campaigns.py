"""Campaign endpoints."""

from datetime import UTC, datetime

START = datetime(2020, 7, 22, 21, tzinfo=UTC)
END = datetime(2020, 9, 25, 21, tzinfo=UTC)


def test_create(client, sent):
    campaign = client.campaign_create(name="CampaignName", start_date=START, end_date=END)

    assert isinstance(campaign["id"], int)
    assert campaign["name"] == "CampaignName"
    assert campaign["enabled"] is True
    assert campaign["start_date"] == START
    assert campaign["end_date"] == END
    request = sent("POST", "/api/3/campaign")
    assert request["apikey_present"] is True
    assert request["json"] == {
        "name": "CampaignName",
        "start_date": "2020-07-22T21:00:00.000Z",
        "end_date": "2020-09-25T21:00:00.000Z",
    }


def test_list_with_filter_and_paging(client, sandbox, sent):
    client.campaign_create(name="Alpha")
    client.campaign_create(name="Beta")

    campaigns = client.campaign_list(filter={"name": "Beta"}, start=0, limit=5, enabled=True)

    assert [c["name"] for c in campaigns] == ["Beta"]
    assert all(isinstance(c["enabled"], bool) for c in campaigns)
    request = sent("GET", "/api/3/campaign")
    assert request["query"] == {"filter": "name=Beta", "start": "0", "limit": "5", "enabled": "true"}


def test_update_patch_and_disable(client, sent):
    campaign = client.campaign_create(name="CampaignName", start_date=START, end_date=END)
    path = f"/api/3/campaign/{campaign['id']}"

    updated = client.campaign_update(campaign["id"], end_date=datetime(2021, 3, 25, 21, tzinfo=UTC))
    assert updated["end_date"] == datetime(2021, 3, 25, 21, tzinfo=UTC)
    assert updated["name"] == "CampaignName"
    assert sent("PUT", path)["json"] == {"end_date": "2021-03-25T21:00:00.000Z"}

    patched = client.campaign_patch(campaign["id"], enabled=False)
    assert patched == {"id": campaign["id"], "enabled": False}
    assert sent("PATCH", path)["json"] == {"enabled": False}

    assert client.campaign_disable(campaign["id"]) is True
    assert sent("DELETE", path)["json"] in (None, {})
    assert client.campaign_list(filter={"name": "CampaignName"}) == []
    assert [c["id"] for c in client.campaign_list(enabled=False)] == [campaign["id"]]

