"""Importing files into recipient lists: results, validation, limits, duplicates, modes, atomicity."""

import pytest
from django.db import connection

from messaging.mirror import SyncState
from recipients import importing
from recipients.errors import MappingError
from recipients.models import ImportJob, Recipient, RecipientList
from recipients.preview import preview_file
from recipients.services import import_job_create, recipient_list_import

from .conftest import phones_of, report_rows

FULL_MAPPING = {"0": "phone_number", "1": "first_name", "2": "last_name", "3": "email", "4": "url", "5": "custom"}


def test_import_creates_the_list_and_reports_in_messagewhiz_terms(write_csv, run_import):
    path = write_csv([
        ["phone", "first name", "last name", "email", "url", "custom"],
        ["+380 (50) 123-45-67", "Olena", "Kovalenko", "olena@example.com", "https://ex.com/o", "VIP"],
        ["380501234568", " Taras ", "Shevchenko", "", "", ""],
        ["not a number", "X", "Y", "", "", ""],
        ["380501234567", "Again", "", "", "", ""],
        [],
        ["380501234569", "Anna"],  # a short row: missing cells are empty
    ])
    job = run_import(path, FULL_MAPPING, name="Customers")

    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.result == {"inserted": 3, "total": 5, "wrong": 1, "duplicate": 1}
    recipient_list = job.recipient_list
    assert recipient_list.name == "Customers"
    assert recipient_list.recipient_count == 3
    assert recipient_list.sync_state == SyncState.PENDING
    olena = recipient_list.recipients.get(phone="380501234567")
    assert (olena.first_name, olena.last_name, olena.email, olena.url, olena.custom) == (
        "Olena", "Kovalenko", "olena@example.com", "https://ex.com/o", "VIP",
    )
    assert recipient_list.recipients.get(phone="380501234568").first_name == "Taras"
    assert recipient_list.recipients.get(phone="380501234569").last_name == ""
    assert job.rows_done == 5
    assert report_rows(job) == [
        {"row": "4", "column": "phone_number", "value": "not a number", "reason": "not a phone number"},
        {"row": "5", "column": "phone_number", "value": "380501234567",
         "reason": "duplicate: repeats row 2"},
    ]
    assert job.rejects_count == 2


def test_the_task_runs_the_job_once_the_upload_is_committed(write_csv, account, django_capture_on_commit_callbacks):
    path = write_csv([["phone"], ["380501234567"]])
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(account=account, upload=path, mapping={"0": "phone_number"}, name="Queued")
        assert job.status == ImportJob.Status.QUEUED
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert phones_of(job) == ["380501234567"]


def test_default_country_turns_every_format_into_one_number(write_csv, run_import):
    path = write_csv([
        ["phone"], ["050 123 45 67"], ["+380 (50) 123-45-67"], ["00380501234567"], ["380501234567"], ["0671112233"],
    ])
    job = run_import(path, default_country="UA")
    assert job.result == {"inserted": 2, "total": 5, "wrong": 0, "duplicate": 3}
    assert phones_of(job) == ["380501234567", "380671112233"]


def test_without_default_country_national_numbers_are_wrong(write_csv, run_import):
    job = run_import(write_csv([["phone"], ["050 123 45 67"], ["+380501234568"]]))
    assert job.result == {"inserted": 1, "total": 2, "wrong": 1, "duplicate": 0}
    assert report_rows(job)[0]["reason"] == "not a valid phone number"


def test_over_long_fields_refuse_the_whole_import_listing_them(write_csv, run_import):
    path = write_csv([
        ["phone", "first name", "email", "custom"],
        ["380501234567", "Ann", "a@example.com", "ok"],
        ["380501234568", "N" * 51, "a@example.com", "ok"],
        ["380501234569", "Bob", "e" * 256 + "@example.com", "c" * 5001],
    ])
    job = run_import(path, {"0": "phone_number", "1": "first_name", "2": "email", "3": "custom"}, name="Too long")

    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("3 fields are longer than MessageWhiz allows")
    assert "row 3 first_name (51 characters)" in job.error
    assert "row 4 email (268 characters)" in job.error
    assert "row 4 custom (5001 characters)" in job.error
    assert "Nothing was imported" in job.error
    assert not RecipientList.objects.filter(name="Too long").exists()
    assert [(row["row"], row["column"], row["reason"]) for row in report_rows(job)] == [
        ("3", "first_name", "51 characters; the limit is 50"),
        ("4", "email", "268 characters; the limit is 255"),
        ("4", "custom", "5001 characters; the limit is 5000"),
    ]


def test_truncate_cuts_fields_to_the_limits(write_csv, run_import):
    path = write_csv([
        ["phone", "first", "last", "email", "url", "custom"],
        ["380501234567", "F" * 60, "L" * 60, "e" * 300, "u" * 300, "c" * 6000],
    ])
    job = run_import(path, FULL_MAPPING, truncate=True)
    assert job.result["inserted"] == 1
    recipient = Recipient.objects.get(recipient_list=job.recipient_list)
    assert [len(recipient.first_name), len(recipient.last_name), len(recipient.email), len(recipient.url),
            len(recipient.custom)] == [50, 50, 255, 255, 5000]


def test_append_skips_numbers_already_in_the_list(write_csv, run_import, make_list):
    recipient_list = make_list(phones=["380501234567", "380501234568"])
    path = write_csv([["phone", "name"], ["380501234568", "Dup"], ["380501234569", "New"], ["+380501234569", "x"]])
    job = run_import(path, {"0": "phone_number", "1": "first_name"}, mode="append", target=recipient_list)

    assert job.result == {"inserted": 1, "total": 3, "wrong": 0, "duplicate": 2}
    assert phones_of(recipient_list) == ["380501234567", "380501234568", "380501234569"]
    recipient_list.refresh_from_db()
    assert recipient_list.recipient_count == 3
    assert [row["reason"] for row in report_rows(job)] == [
        "duplicate: already in the list", "duplicate: repeats row 3",
    ]


def test_replace_swaps_every_recipient_and_can_rename(write_csv, run_import, make_list):
    recipient_list = make_list(name="Old", phones=["380501234567", "380501234568"], first_name="Old")
    path = write_csv([["phone", "name"], ["380501234568", "New"], ["380501234569", "New"]])
    job = run_import(path, {"0": "phone_number", "1": "first_name"}, mode="replace", target=recipient_list,
                     name="Renamed")

    assert job.result == {"inserted": 2, "total": 2, "wrong": 0, "duplicate": 0}
    recipient_list.refresh_from_db()
    assert (recipient_list.name, recipient_list.recipient_count) == ("Renamed", 2)
    assert sorted(recipient_list.recipients.values_list("phone", "first_name")) == [
        ("380501234568", "New"), ("380501234569", "New"),
    ]


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_failure_while_saving_leaves_the_list_exactly_as_it_was(write_csv, run_import, make_list, monkeypatch, mode):
    recipient_list = make_list(phones=["380501234567"], first_name="Kept")
    before = recipient_list.revision

    def explode(*args, **kwargs):
        # By now the new rows are in the table: the rollback must take them out again.
        assert Recipient.objects.filter(recipient_list=recipient_list).count() == (3 if mode == "append" else 2)
        raise RuntimeError("disk full")

    monkeypatch.setattr("recipients.services._after_load", explode)
    path = write_csv([["phone"], ["380501234568"], ["380501234569"]])
    with pytest.raises(RuntimeError):
        run_import(path, mode=mode, target=recipient_list)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.error == "The import failed unexpectedly (RuntimeError); nothing was imported."
    recipient_list.refresh_from_db()
    assert list(recipient_list.recipients.values_list("phone", "first_name")) == [("380501234567", "Kept")]
    assert (recipient_list.recipient_count, recipient_list.revision) == (1, before)


def test_a_failed_new_list_import_creates_no_list(write_csv, run_import, monkeypatch):
    monkeypatch.setattr("recipients.services._after_load", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_import(write_csv([["phone"], ["380501234567"]]), name="Never")
    assert not RecipientList.objects.exists()
    assert not Recipient.objects.exists()


def test_a_redelivered_job_is_not_loaded_twice(write_csv, run_import):
    job = run_import(write_csv([["phone"], ["380501234567"]]))
    again = recipient_list_import(job_id=job.pk)
    assert again.status == ImportJob.Status.SUCCEEDED
    assert RecipientList.objects.count() == 1
    assert again.recipient_list.recipient_count == 1


def test_a_job_left_running_by_a_dead_worker_runs_again(write_csv, account):
    job = import_job_create(account=account, upload=write_csv([["phone"], ["380501234567"]]),
                            mapping={"0": "phone_number"}, name="Retry", enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, rows_done=123)
    job = recipient_list_import(job_id=job.pk)
    assert job.result == {"inserted": 1, "total": 1, "wrong": 0, "duplicate": 0}


def test_mapping_errors_are_reported_when_the_job_is_created(write_csv, account):
    path = write_csv([["phone", "name"], ["380501234567", "Ann"]])
    with pytest.raises(MappingError, match="No column is mapped to phone_number"):
        import_job_create(account=account, upload=path, mapping={"1": "first_name"}, name="L")
    with pytest.raises(MappingError, match="Unknown country code 'ZZ'"):
        import_job_create(account=account, upload=path, mapping={"0": "phone_number"}, name="L",
                          default_country="ZZ")
    assert not ImportJob.objects.exists()


def test_a_column_no_row_reaches_fails_the_import(write_csv, run_import):
    job = run_import(write_csv([["phone", "name"], ["380501234567", "Ann"]]), {"0": "phone_number", "2": "email"})
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("Column 2 is mapped to email, but the file has only 2 columns")
    assert not RecipientList.objects.exists()


def test_a_column_that_only_rows_far_down_have_can_be_mapped(write_csv, run_import):
    """The preview offers every column of the file; the import accepts each of them."""
    rows = [["phone"]] + [[f"3805012{i:05d}"] for i in range(500)] + [["380509999999", "late@example.com"]]
    path = write_csv(rows)
    assert preview_file(path).columns == 2
    job = run_import(path, {"0": "phone_number", "1": "email"})
    assert job.result["inserted"] == 501
    assert job.recipient_list.recipients.get(phone="380509999999").email == "late@example.com"


def test_no_header_option(write_csv, run_import):
    job = run_import(write_csv([["380501234567", "Ann"], ["380501234568", "Bob"]]),
                     {"0": "phone_number", "1": "first_name"}, has_header=False)
    assert job.result["inserted"] == 2


def test_xlsx_with_numeric_phone_cells(write_xlsx, run_import):
    path = write_xlsx({
        "Notes": [["nothing here"]],
        "Contacts": [["phone", "name"], [380501234567, "Int"], [380501234568.0, "Float"], ["380 50 123 45 69", "Text"]],
    })
    job = run_import(path, {"0": "phone_number", "1": "first_name"}, sheet="Contacts")
    assert job.result == {"inserted": 3, "total": 3, "wrong": 0, "duplicate": 0}
    assert phones_of(job) == ["380501234567", "380501234568", "380501234569"]


def test_xls_import(run_import):
    from .test_readers import FIXTURES

    job = run_import(FIXTURES / "contacts.xls", {"0": "phone_number", "1": "first_name", "2": "last_name"})
    assert job.result == {"inserted": 3, "total": 3, "wrong": 0, "duplicate": 0}
    assert job.recipient_list.recipients.get(phone="380501234568").last_name == "Петренко"


def test_values_with_tabs_backslashes_and_newlines_survive_the_bulk_load(tmp_path, run_import):
    path = tmp_path / "odd.csv"
    path.write_text('phone,custom\n380501234567,"a\\tb\tc\\\\d\nnext line\rcr"\n', "utf-8")
    job = run_import(path, {"0": "phone_number", "1": "custom"})
    assert Recipient.objects.get(recipient_list=job.recipient_list).custom == "a\\tb\tc\\\\d\nnext line\rcr"


def test_unsubscribed_numbers_are_still_imported(write_csv, run_import, make_unsubscribe_list):
    make_unsubscribe_list(phones=["380501234567"])
    job = run_import(write_csv([["phone"], ["380501234567"], ["380501234568"]]))
    assert job.result["inserted"] == 2


def test_large_files_are_staged_in_sorted_runs(write_csv, run_import, monkeypatch):
    monkeypatch.setattr(importing, "RUN_ROWS", 7)
    rows = [["phone", "name"]] + [[f"3805012{i:05d}", f"n{i}"] for i in range(100, 0, -1)]
    job = run_import(write_csv(rows), {"0": "phone_number", "1": "first_name"})
    assert job.result["inserted"] == 100
    stored = dict(job.recipient_list.recipients.values_list("phone", "first_name"))
    assert stored == {f"3805012{i:05d}": f"n{i}" for i in range(1, 101)}


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_while_the_file_is_read(write_csv, account, monkeypatch):
    """Progress updates happen outside any transaction, so other connections see them at once."""
    monkeypatch.setattr(importing, "PROGRESS_EVERY", 10)
    seen = []
    original = importing.read_rows

    def watching(rows, *, progress, **kwargs):
        def report(done):
            assert connection.get_autocommit() and not connection.in_atomic_block
            progress(done)
            seen.append(ImportJob.objects.get().rows_done)

        return original(rows, progress=report, **kwargs)

    monkeypatch.setattr(importing, "read_rows", watching)
    rows = [["phone"]] + [[f"3805012{i:05d}"] for i in range(35)]
    job = import_job_create(account=account, upload=write_csv(rows), mapping={"0": "phone_number"}, name="P",
                            enqueue=False)
    job = recipient_list_import(job_id=job.pk)
    assert seen == [10, 20, 30, 35]
    assert (job.rows_done, job.rows_estimated, job.progress) == (35, 35, 1.0)


def test_a_number_added_to_the_list_during_the_read_is_counted_as_a_duplicate(write_csv, run_import, make_list,
                                                                              monkeypatch):
    """Phase 1 reads the list without a lock; the load itself skips numbers that arrived since."""
    recipient_list = make_list(phones=["380501234567"])
    monkeypatch.setattr(importing, "existing_phones", lambda kind, target: set())  # as if read before the add
    job = run_import(write_csv([["phone"], ["380501234567"], ["380501234568"]]), mode="append",
                     target=recipient_list)
    assert job.result == {"inserted": 1, "total": 2, "wrong": 0, "duplicate": 1}
    recipient_list.refresh_from_db()
    assert recipient_list.recipient_count == 2
