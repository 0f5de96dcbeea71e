"""Contact files are not kept once nobody needs them: abandoned uploads, sources of finished imports."""

import os
import time

from django.core.files.uploadedfile import SimpleUploadedFile

from recipients.models import ImportJob
from recipients.staging import staged_upload_path, staged_upload_preview, staged_upload_save
from recipients.tasks import discard_stale_uploads

from .conftest import report_rows


def age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_abandoned_uploads_and_their_previews_are_deleted_after_a_day(db):
    old = staged_upload_save(SimpleUploadedFile("old.csv", b"phone\n380501234567\n"))
    staged_upload_preview(old)
    fresh = staged_upload_save(SimpleUploadedFile("fresh.csv", b"phone\n380501234568\n"))
    for path in staged_upload_path(old).parent.iterdir():
        if path.name.startswith(old):
            age(path, 25)
    discard_stale_uploads.apply(throw=True)
    assert sorted(path.name for path in staged_upload_path(old).parent.iterdir()) == [fresh]


def test_a_finished_import_keeps_its_report_but_not_the_uploaded_file(write_csv, run_import, media_root):
    job = run_import(write_csv([["phone"], ["380501234567"], ["not a number"]]))
    assert job.status == ImportJob.Status.SUCCEEDED
    assert not job.source
    assert not [path for path in (media_root / "imports" / "sources").rglob("*") if path.is_file()]
    assert [row["value"] for row in report_rows(job)] == ["not a number"]
    failed = run_import(write_csv([["phone"]], name="empty.csv"))
    assert failed.status == ImportJob.Status.FAILED
    assert not failed.source


def test_sources_left_behind_by_finished_jobs_are_swept(write_csv, account):
    from recipients.services import import_job_create

    job = import_job_create(account=account, upload=write_csv([["phone"], ["380501234567"]]),
                            mapping={"0": "phone_number"}, name="Left", enqueue=False)
    path = job.source.path
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED)  # e.g. ended before this
    queued = import_job_create(account=account, upload=write_csv([["phone"], ["380501234568"]], name="q.csv"),
                               mapping={"0": "phone_number"}, name="Queued", enqueue=False)
    discard_stale_uploads.apply(throw=True)
    assert not os.path.exists(path)
    assert ImportJob.objects.get(pk=job.pk).source == ""
    assert os.path.exists(queued.source.path)  # still to run
