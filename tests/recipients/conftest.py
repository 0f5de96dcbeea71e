"""Factories for recipient tests: accounts, lists, files written in tmp_path, imports."""

import csv
import io

import pytest
from openpyxl import Workbook

from recipients.models import ImportJob, RecipientList, UnsubscribeList
from recipients.services import import_job_create, recipient_list_import


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads and reports go to a per-test directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def account(mw_account):
    # Changed lists are pushed to MessageWhiz on commit, so the account talks to the sandbox.
    return mw_account


@pytest.fixture
def make_list(account):
    def make(name="Customers", phones=(), **fields):
        recipient_list = RecipientList.objects.create(account=account, name=name)
        for phone in phones:
            recipient_list.recipients.create(phone=phone, **fields)
        RecipientList.objects.filter(pk=recipient_list.pk).update(recipient_count=len(phones))
        recipient_list.refresh_from_db()
        return recipient_list

    return make


@pytest.fixture
def make_unsubscribe_list(account):
    def make(name="Opted out", phones=()):
        unsubscribe_list = UnsubscribeList.objects.create(account=account, name=name)
        for phone in phones:
            unsubscribe_list.numbers.create(phone=phone)
        return unsubscribe_list

    return make


@pytest.fixture
def write_csv(tmp_path):
    """Write rows as a CSV file: write_csv(rows, name=..., encoding=..., delimiter=...)."""

    def write(rows, name="contacts.csv", encoding="utf-8", delimiter=",", newline="\r\n"):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
        path = tmp_path / name
        path.write_bytes(buffer.getvalue().encode(encoding))
        return path

    return write


@pytest.fixture
def write_xlsx(tmp_path):
    """Write sheets ({title: rows}) or one sheet's rows as an .xlsx file."""

    def write(sheets, name="contacts.xlsx"):
        if not isinstance(sheets, dict):
            sheets = {"Sheet1": sheets}
        workbook = Workbook()
        workbook.remove(workbook.active)
        for title, rows in sheets.items():
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(list(row))
        path = tmp_path / name
        workbook.save(path)
        return path

    return write


@pytest.fixture
def run_import(account):
    """Create and run an import job synchronously, as the Celery task would; returns the job."""

    def run(path, mapping=None, **options):
        if options.get("mode", "new") == "new":
            options.setdefault("name", "Imported")
        job = import_job_create(
            account=account, upload=path, mapping=mapping or {"0": "phone_number"}, enqueue=False, **options
        )
        return recipient_list_import(job_id=job.pk)

    return run


def phones_of(target) -> list[str]:
    if isinstance(target, ImportJob):
        target = target.target_list
    if isinstance(target, RecipientList):
        return sorted(target.recipients.values_list("phone", flat=True))
    return sorted(target.numbers.values_list("phone", flat=True))


def report_rows(job: ImportJob) -> list[dict]:
    if not job.rejects:
        return []
    with job.rejects.open("rb") as fh:
        return list(csv.DictReader(io.StringIO(fh.read().decode("utf-8-sig"))))
