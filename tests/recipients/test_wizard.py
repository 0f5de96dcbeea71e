"""The import wizard as a marketer uses it: upload, preview, map, import, see the result."""

import re
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from recipients.models import ImportJob, RecipientList

CSV = ("Phone;First name;Last name\n"
       "+380 (50) 123-45-67;Ann;Lee\n"
       "050 123 45 68;Bob;Stone\n"
       "not a number;Cid;Moe\n"
       "380501234567;Ann;Again\n").encode("cp1252")


@pytest.fixture
def staged(admin_client, mw_account):
    response = admin_client.post(reverse("recipients:import_upload", args=["recipients"]),
                                 {"file": SimpleUploadedFile("crm.csv", CSV)})
    assert response.status_code == 302
    return response["Location"]


def test_preview_shows_flags_and_suggested_mapping(admin_client, staged):
    page = admin_client.get(staged).content.decode()
    assert "Phone" in page and "Ann" in page
    assert re.search(r'<option value="phone_number" selected>', page)
    assert re.search(r'<option value="first_name" selected>', page)
    assert re.search(r'<option value="last_name" selected>', page)
    assert "delimiter “;”" in page


def test_import_with_default_country_reports_inserted_wrong_duplicate(admin_client, staged,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(staged, {
            "step": "import", "has_header": "on", "column_0": "phone_number", "column_1": "first_name",
            "column_2": "last_name", "mode": "new", "name": "CRM export", "default_country": "UA",
        })
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("recipients:import_job", args=[job.pk])
    page = admin_client.get(response["Location"]).content.decode()
    job.refresh_from_db()
    assert (job.inserted, job.total, job.wrong, job.duplicate) == (2, 4, 1, 1)
    assert "Download the 2 rejected rows" in page
    assert admin_client.get(reverse("recipients:import_job_status", args=[job.pk])).json()["status"] == "succeeded"
    rejects = b"".join(admin_client.get(reverse("recipients:import_job_rejects", args=[job.pk])).streaming_content)
    assert b"not a number" in rejects
    recipients = RecipientList.objects.get(name="CRM export").recipients.order_by("phone")
    assert list(recipients.values_list("phone", "first_name")) == [("380501234567", "Ann"), ("380501234568", "Bob")]


def test_mapping_without_phone_is_explained(admin_client, staged):
    response = admin_client.post(staged, {"step": "import", "has_header": "on", "column_1": "first_name",
                                          "mode": "new", "name": "X"})
    assert response.status_code == 200
    assert "phone_number" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_hostile_upload_is_refused_at_once(admin_client, mw_account):
    response = admin_client.post(reverse("recipients:import_upload", args=["recipients"]),
                                 {"file": SimpleUploadedFile("data.csv", b"\x00\x01\x02binary\x00" * 100)})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_lists_pages_and_downloads(admin_client, staged, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(staged, {"step": "import", "has_header": "on", "column_0": "phone_number",
                                   "column_1": "first_name", "mode": "new", "name": "CRM", "default_country": "UA"})
    recipient_list = RecipientList.objects.get()
    assert "CRM" in admin_client.get(reverse("recipients:list_index")).content.decode()
    detail = admin_client.get(reverse("recipients:list_detail", args=["recipients", recipient_list.pk]))
    assert "380501234568" in detail.content.decode()
    csv_body = b"".join(admin_client.get(reverse("recipients:list_download",
                                                 args=["recipients", recipient_list.pk, "csv"])).streaming_content)
    assert csv_body.decode("utf-8-sig").splitlines()[0] == '"phone_number";"first_name"'
    admin_client.post(reverse("recipients:list_action", args=["recipients", recipient_list.pk]),
                      {"action": "add_numbers", "numbers": "380501234599, 12"})
    recipient_list.refresh_from_db()
    assert recipient_list.recipient_count == 3


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_downloads_are_named_after_the_list_in_any_alphabet(admin_client, make_list, fmt):
    recipient_list = make_list(name='Клієнти "березень"', phones=["380501234567"])
    response = admin_client.get(reverse("recipients:list_download", args=["recipients", recipient_list.pk, fmt]))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert unquote(disposition.split("''", 1)[1]) == f'Клієнти "березень".{fmt}'
