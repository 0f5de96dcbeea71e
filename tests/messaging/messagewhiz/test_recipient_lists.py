"""Recipient list endpoints: file import, manual numbers, preview, reading back, replacing."""

import json
from pathlib import Path

import pytest

CSV = b"6593333311,Anthony\n6593333322,Bob\n6593333333,Jonathan\n6593333344,Alex\n"


@pytest.fixture
def imported(client):
    return client.recipient_list_import_file(
        name="FirstRecipientList", doc=CSV, filename="numbers.csv", mapping=["phone_number", "first_name"],
        truncate=True,
    )


def test_import_file(imported, sent):
    assert imported["inserted"] == 4
    assert imported["total"] == 4
    assert imported["wrong"] == 0
    assert imported["duplicate"] == 0
    assert isinstance(imported["recipient_list_id"], int)
    request = sent("POST", "/api/3/RecipientList")
    assert request["apikey_present"] is True
    assert request["query"] == {"truncate": "true"}
    assert request["form"]["name"] == "FirstRecipientList"
    assert json.loads(request["form"]["mapping"]) == {"0": "phone_number", "1": "first_name"}
    assert request["files"] == [{"field": "doc", "filename": "numbers.csv", "size": len(CSV)}]


def test_import_from_a_path(client, sent, tmp_path):
    path = Path(tmp_path / "list.csv")
    path.write_bytes(CSV)
    result = client.recipient_list_import_file(name="FromPath", doc=path, mapping={0: "phone_number"})
    assert result["inserted"] == 4
    request = sent("POST", "/api/3/RecipientList")
    assert request["query"] == {"truncate": "false"}
    assert request["files"][0]["filename"] == "list.csv"


def test_create_manually_and_read_back(client, sent):
    created = client.recipient_list_create(name="ManuallyAddedList", numbers=["380503327227", 380848122639])
    list_id = created["recipient_list_id"]

    assert created["inserted"] == 2
    assert created["count"] == 2
    assert sent("POST", "/api/3/recipientList/numbers")["json"] == {
        "name": "ManuallyAddedList", "numbers": ["380503327227", "380848122639"],
    }

    assert client.recipient_list_numbers(list_id) == ["380503327227", "380848122639"]
    assert sent("GET", f"/api/3/recipientList/{list_id}/listNumbers")["apikey_present"] is True

    recipients = client.recipient_list_recipients(list_id)
    assert [r["phone_number"] for r in recipients] == ["380503327227", "380848122639"]
    sent("GET", f"/api/3/recipientList/{list_id}/recipients")


def test_download_returns_the_file_text(client, imported, sent):
    list_id = imported["recipient_list_id"]
    text = client.recipient_list_download(list_id)
    assert text.splitlines()[0] == '"phone_number";"first_name"'
    assert '"6593333311";"Anthony"' in text.splitlines()
    sent("GET", f"/api/3/recipientList/{list_id}/download")


def test_preview(client, sent):
    preview = client.recipient_list_preview(doc=CSV, filename="numbers.csv", list_id=1)
    assert preview["data"][:2] == [["6593333311", "Anthony"], ["6593333322", "Bob"]]
    assert preview["isAllNum"] == [True, False]
    request = sent("POST", "/api/3/recipientList/1/preview")
    assert request["files"][0]["field"] == "doc"


def test_list(client, imported, sent):
    lists = client.recipient_list_list(filter="name=FirstRecipientList")
    assert lists == [{"id": imported["recipient_list_id"], "name": "FirstRecipientList", "enabled": True,
                      "count": 4}]
    assert sent("GET", "/api/3/RecipientList")["query"] == {"filter": "name=FirstRecipientList"}


def test_add_numbers_rename_replace_disable(client, imported, sent):
    list_id = imported["recipient_list_id"]

    added = client.recipient_list_add_numbers(list_id, numbers=["380503322227"], name="Mw-manual")
    assert added["inserted"] == 1
    assert added["count"] == 5
    assert sent("PUT", f"/api/3/recipientList/{list_id}/numbers")["json"] == {
        "name": "Mw-manual", "numbers": ["380503322227"],
    }

    renamed = client.recipient_list_patch(list_id, name="EditingList")
    assert renamed["name"] == "EditingList"
    assert renamed["enabled"] is True
    assert sent("PATCH", f"/api/3/RecipientList/{list_id}")["json"] == {"name": "EditingList"}

    replacement = b"380500000001,Ann,Lee\n380500000002,Bo,Kim\n"
    replaced = client.recipient_list_replace_file(
        list_id, doc=replacement, filename="RecipientList.csv",
        mapping=["phone_number", "first_name", "last_name"], name="NewList",
    )
    assert replaced["recipient_list_id"] == list_id
    assert replaced["inserted"] == 2
    request = sent("PUT", f"/api/3/recipientList/{list_id}")
    assert request["form"]["name"] == "NewList"
    assert json.loads(request["form"]["mapping"]) == {
        "0": "phone_number", "1": "first_name", "2": "last_name",
    }
    assert client.recipient_list_numbers(list_id) == ["380500000001", "380500000002"]

    assert client.recipient_list_disable(list_id) is True
    sent("DELETE", f"/api/3/RecipientList/{list_id}")
    assert client.recipient_list_list(filter={"name": "NewList"}) == []
