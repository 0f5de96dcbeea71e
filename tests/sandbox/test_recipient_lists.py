"""Recipient lists: file import (csv, xlsx) with mapping and truncate, preview, manual numbers,
recipients, listNumbers, download, replace, add, rename, disable."""

import openpyxl
import pytest

MAPPING = '{"0":"phone_number", "1":"first_name"}'
CSV = "phone_number,first_name\n6593333311,Anthony\n6593333322,Bob\n6593333333,Jonathan\n6593333344,Alex\n"


def upload(api, method, path, content, filename="numbers.csv", **form):
    return api.request(method, path, files={"doc": (filename, content)}, data=form)


def test_csv_import_then_read_back_every_way(api):
    response = upload(
        api, "POST", "/api/3/RecipientList?truncate=true", CSV, mapping=MAPPING, name="FirstRecipientList"
    )
    result = response.json()["result"]
    list_id = result["recipient_list_id"]
    # The header row is data too (the reference never mentions one): a row more, and a wrong number.
    assert result == {"inserted": 4, "total": 5, "wrong": 1, "duplicate": 0, "recipient_list_id": list_id}
    assert api.ok("GET", "/api/3/RecipientList") == [
        {"id": list_id, "name": "FirstRecipientList", "enabled": 1, "count": 4}
    ]
    recipients = api.ok("GET", f"/api/3/recipientList/{list_id}/recipients")
    assert recipients[0] == {"phone_number": 6593333311, "first_name": "Anthony"}
    assert api.ok("GET", f"/api/3/recipientList/{list_id}/listNumbers") == [
        "6593333311",
        "6593333322",
        "6593333333",
        "6593333344",
    ]
    download = api.request("GET", f"/api/3/recipientList/{list_id}/download")
    assert download.status_code == 200
    assert download.text.splitlines()[:2] == ['"phone_number";"first_name"', '"6593333311";"Anthony"']


def test_csv_counts_wrong_and_duplicate_numbers(api):
    content = '6593333311,Ann\n6593333311,"Ann, again"\n12,Short\n6593333322,"Bo ""the"" boss"\n+65 9333-3344,Cy\n'
    result = upload(api, "POST", "/api/3/RecipientList", content, mapping=MAPPING, name="L").json()["result"]
    # "+65 9333-3344" is not the documented international form (digits only): wrong, like "12"
    assert (result["inserted"], result["total"], result["wrong"], result["duplicate"]) == (2, 5, 2, 1)
    recipients = api.ok("GET", f"/api/3/recipientList/{result['recipient_list_id']}/recipients")
    assert recipients[1] == {"phone_number": 6593333322, "first_name": 'Bo "the" boss'}


def test_a_semicolon_file_is_read_as_one_column(api):
    """Only RFC 4180 comma CSV is read: the download format (";", every field quoted) is one column."""
    content = '"phone_number";"first_name"\n"380501112233";"Anna"\n"380501112244";"Bo"\n'
    result = upload(api, "POST", "/api/3/RecipientList", content, mapping=MAPPING, name="L").json()["result"]
    assert (result["inserted"], result["total"], result["wrong"]) == (0, 3, 3)


def test_too_long_fields_fail_without_truncate_and_are_cut_with_it(api):
    content = f"6593333311,{'x' * 51}\n"
    body = upload(api, "POST", "/api/3/RecipientList", content, mapping=MAPPING, name="Long").json()
    assert body["errorCode"] == 400 and "first_name is longer than 50 symbols" in body["errorMessage"]
    assert api.ok("GET", "/api/3/RecipientList") == []
    result = upload(api, "POST", "/api/3/RecipientList?truncate=true", content, mapping=MAPPING, name="Long").json()[
        "result"
    ]
    [recipient] = api.ok("GET", f"/api/3/recipientList/{result['recipient_list_id']}/recipients")
    assert recipient["first_name"] == "x" * 50


def test_mapping_without_phone_number_is_rejected(api):
    body = upload(api, "POST", "/api/3/RecipientList", CSV, mapping='{"1":"first_name"}', name="L").json()
    assert body["errorCode"] == 400 and body["errorMessage"] == "mapping must contain phone_number"


def test_preview_reports_numeric_columns_and_lengths(api):
    response = upload(api, "POST", "/api/3/recipientList/1/preview", CSV)
    assert response.json()["result"] == {
        "data": [
            ["phone_number", "first_name"],
            ["6593333311", "Anthony"],
            ["6593333322", "Bob"],
            ["6593333333", "Jonathan"],
            ["6593333344", "Alex"],
        ],
        "isAllNum": [True, False],
        "isExceedLength50": [False, False],
        "isExceedLength255": [False, False],
        "isExceedLength5000": [False, False],
    }


@pytest.fixture
def xlsx(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["phone_number", "first_name", "last_name", "email"])
    sheet.append([6593333311, "Anthony", "A" * 60, "a@example.com"])
    sheet.append(["6593333322", "Bob", "B", "b@example.com"])
    path = tmp_path / "contacts.xlsx"
    workbook.save(path)
    return path.read_bytes()


def test_xlsx_preview_and_import(api, xlsx):
    preview = upload(api, "POST", "/api/3/recipientList/0/preview", xlsx, filename="contacts.xlsx").json()["result"]
    assert preview["data"][1][0] == "6593333311"  # a numeric cell, not "6593333311.0"
    assert preview["isAllNum"] == [True, False, False, False]
    assert preview["isExceedLength50"] == [False, False, True, False]
    mapping = '{"0":"phone_number","1":"first_name","2":"last_name","3":"email"}'
    result = upload(
        api,
        "POST",
        "/api/3/RecipientList?truncate=true",
        xlsx,
        filename="contacts.xlsx",
        mapping=mapping,
        name="Excel",
    ).json()["result"]
    assert result["inserted"] == 2
    recipients = api.ok("GET", f"/api/3/recipientList/{result['recipient_list_id']}/recipients")
    assert recipients[1] == {
        "phone_number": 6593333322,
        "first_name": "Bob",
        "last_name": "B",
        "email": "b@example.com",
    }


def test_manual_numbers_add_rename_replace_disable(api):
    created = api.ok(
        "POST",
        "/api/3/recipientList/numbers",
        json={"name": "ManuallyAddedList", "numbers": ["380503327227", "380848122639"]},
    )
    list_id = created["recipient_list_id"]
    assert created == {
        "inserted": 2,
        "wrong": 0,
        "duplicate": 0,
        "total": 2,
        "recipient_list_id": list_id,
        "count": 2,
    }
    added = api.ok(
        "PUT",
        f"/api/3/recipientList/{list_id}/numbers",
        json={"name": "Mw-manual", "numbers": ["380503322227", "380503327227"]},
    )
    assert added == {
        "inserted": 1,
        "wrong": 0,
        "duplicate": 1,
        "total": 2,
        "recipient_list_id": list_id,
        "count": 3,
    }
    assert api.ok("PATCH", f"/api/3/RecipientList/{list_id}", json={"name": "EditingList"}) == {
        "name": "EditingList",
        "enabled": True,
        "count": 3,
    }
    replaced = upload(api, "PUT", f"/api/3/recipientList/{list_id}", CSV, mapping=MAPPING, name="NewList")
    assert replaced.json()["result"]["inserted"] == 4
    assert len(api.ok("GET", f"/api/3/recipientList/{list_id}/listNumbers")) == 4
    assert api.ok("DELETE", f"/api/3/RecipientList/{list_id}") is True
    assert api.ok("GET", "/api/3/RecipientList") == []
    assert api.ok("GET", "/api/3/RecipientList?enabled=false")[0]["name"] == "NewList"
    api.error("GET", "/api/3/recipientList/1/recipients", 404)
