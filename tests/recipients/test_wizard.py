"""The import wizard as a marketer uses it: upload, preview, map, import, see the result."""

import os
import re
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recipients.models import ImportJob, RecipientList
from recipients.preview import preview_file
from recipients.staging import staged_upload_path, staged_upload_save

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
    assert job.created_by.username == "admin"  # the consent ledger's actor for the numbers it records
    assert (job.inserted, job.total, job.wrong, job.duplicate) == (2, 4, 1, 1)
    assert "Download the 2 rejected rows" in page
    assert admin_client.get(reverse("recipients:import_job_status", args=[job.pk])).json()["status"] == "succeeded"
    rejects = b"".join(admin_client.get(reverse("recipients:import_job_rejects", args=[job.pk])).streaming_content)
    assert b"not a number" in rejects
    recipients = RecipientList.objects.get(name="CRM export").recipients.order_by("phone")
    assert list(recipients.values_list("phone", "first_name")) == [("380501234567", "Ann"), ("380501234568", "Bob")]


def test_the_import_takes_the_kept_upload_without_copying_it(admin_client, staged,
                                                            django_capture_on_commit_callbacks):
    kept = staged_upload_path(staged.rstrip("/").rsplit("/", 1)[1])
    inode = kept.stat().st_ino
    with django_capture_on_commit_callbacks():  # the import itself does not run
        admin_client.post(staged, {"step": "import", "has_header": "on", "column_0": "phone_number",
                                   "mode": "new", "name": "CRM export"})
    job = ImportJob.objects.get()
    assert os.stat(job.source.path).st_ino == inode  # the same file, moved
    assert not kept.exists()
    assert job.source_name == "crm.csv"


def test_a_large_upload_is_kept_without_copying_it(db, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path  # where Django writes uploads over FILE_UPLOAD_MAX_MEMORY_SIZE
    upload = TemporaryUploadedFile("big.csv", "text/csv", 0, "utf-8")
    upload.write(b"phone\n380501234567\n")
    upload.flush()
    inode = os.stat(upload.temporary_file_path()).st_ino
    token = staged_upload_save(upload)
    upload.close()
    assert staged_upload_path(token).stat().st_ino == inode
    assert staged_upload_path(token).read_bytes() == b"phone\n380501234567\n"


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


def test_each_preview_is_computed_once_per_sheet_and_header_choice(admin_client, staged, monkeypatch):
    from recipients import staging

    computed = []

    def counting(path, **options):
        computed.append(options)
        return preview_file(path, **options)

    monkeypatch.setattr(staging, "preview_file", counting)
    for _ in range(2):
        assert "Ann" in admin_client.get(staged).content.decode()
        admin_client.post(staged, {"step": "preview"})  # the header box unticked
    admin_client.post(staged, {"step": "preview", "has_header": "on", "column_0": "phone_number"})
    assert computed == [{"sheet": None, "has_header": False}]  # the upload already previewed with a header


def test_upload_over_the_limit_is_stopped_with_a_clear_message(admin_client, mw_account, settings, media_root):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    body = b"phone\n" + b"380501234567\n" * 200_000  # 2.6 MB
    response = admin_client.post(reverse("recipients:import_upload", args=["recipients"]),
                                 {"file": SimpleUploadedFile("big.csv", body)})
    assert response.status_code == 200
    assert "The file is larger than 1 MB; files up to 1 MB are accepted." in response.content.decode()
    assert not any(path.is_file() for path in media_root.rglob("*"))


def test_upload_still_checks_the_csrf_token(mw_account, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("csrf", "csrf@example.com", "pw"))
    response = client.post(reverse("recipients:import_upload", args=["recipients"]),
                           {"file": SimpleUploadedFile("crm.csv", CSV)})
    assert response.status_code == 403


@pytest.mark.parametrize("tampered", [
    {"mode": "append", "target": "abc"},
    {"mode": "append", "target": "99999"},
    {"mode": "sideways"},
    {"account": "abc"},
    {"column_1": "nickname"},
    {"name": "n" * 256},
    {"default_country": "UKR"},
])
def test_tampered_mapping_posts_get_form_errors_not_500(admin_client, staged, tampered):
    post = {"step": "import", "has_header": "on", "column_0": "phone_number", "mode": "new", "name": "X", **tampered}
    response = admin_client.post(staged, post)
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.content.decode()
    assert not ImportJob.objects.exists()


def test_replace_keeps_the_lists_name(admin_client, staged, make_list, django_capture_on_commit_callbacks):
    recipient_list = make_list(name="Keep me", phones=["380501234599"])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(staged, {"step": "import", "has_header": "on", "column_0": "phone_number", "mode": "replace",
                                   "target": recipient_list.pk, "name": "crm.csv", "default_country": "UA"})
    recipient_list.refresh_from_db()
    assert (recipient_list.name, recipient_list.recipient_count) == ("Keep me", 2)


def test_list_page_shows_the_stored_count_without_counting_members(admin_client, make_list):
    recipient_list = make_list(phones=[f"3805012345{i:02d}" for i in range(60)])
    url = reverse("recipients:list_detail", args=["recipients", recipient_list.pk])
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(url).content.decode()
    assert "(60)" in page and "Page 1 of 2" in page
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "recipient" in q["sql"]]
    found = admin_client.get(url, {"phone": "38050123451"}).content.decode()
    assert "(10)" in found


@pytest.mark.parametrize("kind", ["recipients", "unsubscribes"])
def test_new_list_from_pasted_numbers(admin_client, mw_account, kind):
    response = admin_client.post(reverse("recipients:list_new", args=[kind]), {
        "name": "Pasted", "numbers": "050 123 45 67\n380501234568, 380501234568\nnope", "default_country": "UA",
    }, follow=True)
    page = response.content.decode()
    assert "Created “Pasted”. Added 2 of 4 numbers (1 wrong, 1 duplicate)." in page
    assert "380501234567" in page and "380501234568" in page


def test_new_list_needs_a_name_and_numbers(admin_client, mw_account):
    response = admin_client.post(reverse("recipients:list_new", args=["recipients"]), {"name": "", "numbers": ""})
    assert response.status_code == 200
    assert response.content.decode().count('class="error"') == 2
    assert not RecipientList.objects.exists()


def test_row_count_leaves_the_header_out(admin_client, staged):
    page = admin_client.get(staged).content.decode()
    assert "4 rows below the header" in page
    assert "5 rows" in admin_client.get(staged, {"has_header": "off"}).content.decode()


def test_rejected_rows_are_listed_on_the_import_page(admin_client, staged, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(staged, {"step": "import", "has_header": "on", "column_0": "phone_number",
                                              "mode": "new", "name": "CRM", "default_country": "UA"})
    page = admin_client.get(response["Location"]).content.decode()
    rows = re.findall(r"<tr><td>(\d+)</td><td>phone_number</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert rows == [("4", "not a number", "not a phone number"), ("5", "380501234567", "duplicate: repeats row 2")]


def test_the_country_is_picked_by_name(admin_client, staged, django_capture_on_commit_callbacks):
    page = admin_client.get(staged).content.decode()
    assert 'list="default_country-choices"' in page
    assert '<option value="UA">Ukraine +380</option>' in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(staged, {"step": "import", "has_header": "on", "column_0": "phone_number",
                                   "mode": "new", "name": "CRM", "default_country": "Ukraine +380"})
    job = ImportJob.objects.get()
    assert (job.default_country, job.inserted) == ("UA", 2)  # 050 123 45 68 read as a Ukrainian number


def test_custom_columns_keep_their_header_as_token_name(admin_client, mw_account, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("shops.csv", b"phone,Home town,Shoe size\n380501234567,Lviv,42\n")
    location = admin_client.post(reverse("recipients:import_upload", args=["recipients"]), {"file": upload})["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(location, {"step": "import", "has_header": "on", "column_0": "phone_number",
                                     "column_1": "custom1", "column_2": "custom", "mode": "new", "name": "Shops"})
    shops = RecipientList.objects.get(name="Shops")
    assert shops.column_names == {"custom1": "home_town", "custom": "shoe_size"}
    page = admin_client.get(reverse("recipients:list_detail", args=["recipients", shops.pk])).content.decode()
    assert "<code>{{home_town}}</code> (custom1)" in page


def test_pasted_number_errors_name_each_bad_value(admin_client, mw_account):
    response = admin_client.post(reverse("recipients:list_new", args=["recipients"]), {
        "name": "Pasted", "numbers": "380501234567\n12345\nnope\n380501234567"}, follow=True)
    page = response.content.decode()
    assert "“12345”: " in page and "“nope”: not a phone number" in page
    assert "“380501234567”: duplicate: repeats row 1" in page
