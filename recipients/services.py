"""Writes to recipient and unsubscribe lists: imports, pasted numbers, rename, disable.

File imports are recorded as ImportJob rows and run by `recipient_list_import(job_id=…)` — from
the Celery task, or synchronously from the management command. The engine and its transaction
design are in `recipients.importing`.
"""

import logging
import os
import re
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from messaging.mirror import SyncState
from messaging.models import ProviderAccount
from messaging.tasks import push_mirror

from .consent import consent_list_record
from .errors import FileRejected, ImportProblem, MappingError
from .importing import ImportResult, ImportSettings, Report, list_model, run_import
from .mapping import PHONE, parse_mapping
from .models import ConsentEvent, ImportJob, RecipientList, UnsubscribeList
from .phones import PhoneNormalizer, PhoneRejected, country_code
from .readers import open_table

logger = logging.getLogger(__name__)

Kind, Mode, Status = ImportJob.Kind, ImportJob.Mode, ImportJob.Status
NAME_LENGTH = RecipientList._meta.get_field("name").max_length
_COUNTER = {Kind.RECIPIENTS: "recipient_count", Kind.UNSUBSCRIBES: "member_count"}


class _AlreadyFinished(Exception):
    """Another run of the same job (a redelivered task) got there first."""


# --- File imports -----------------------------------------------------------------------------


def import_job_create(
    *,
    account: ProviderAccount,
    upload,
    mapping,
    kind: str = Kind.RECIPIENTS,
    mode: str = Mode.NEW,
    target: RecipientList | UnsubscribeList | None = None,
    name: str = "",
    truncate: bool = False,
    default_country: str = "",
    sheet: str | int = "",
    has_header: bool = True,
    enqueue: bool = True,
    actor=None,
) -> ImportJob:
    """Store the upload, check it and the mapping, record the job and (on commit) queue it.

    `upload` is an uploaded file or a path. The mapping and a quick look at the file are checked
    here, so a mapping error or a file that is plainly unreadable is reported at once, before any
    work is queued; the job's full read checks the rest (a mapped column no row reaches, too).
    Raises FileRejected or MappingError.
    """
    if kind not in Kind.values or mode not in Mode.values:
        raise MappingError(f"Imports go into {' or '.join(Kind.values)} lists, as {', '.join(Mode.values)}.")
    kind, mode = Kind(kind), Mode(mode)
    if mode == Mode.NEW:
        if target is not None:
            raise ValueError("A new list has no target yet.")
    elif target is None or not isinstance(target, list_model(kind)):
        raise ValueError(f"Mode {mode} needs the {kind} list to change.")
    # A new list's name, or on replace the list's new name if one is given.
    name = _check_name(name) if mode == Mode.NEW or name.strip() else ""
    default_country = _check_country(default_country)

    job = ImportJob(
        account=account,
        kind=kind,
        mode=mode,
        list_name=name,
        truncate=truncate,
        default_country=default_country,
        sheet=str(sheet),
        has_header=has_header,
        recipient_list=target if kind == Kind.RECIPIENTS else None,
        unsubscribe_list=target if kind == Kind.UNSUBSCRIBES else None,
        created_by=actor,
    )
    job.mapping = {str(index): marker for index, marker in parse_mapping(mapping).items()}
    _store_source(job, upload)
    try:
        open_table(job.source.path, sheet=job.sheet, quick=True)
    except ImportProblem:
        job.source.delete(save=False)
        raise
    job.save()
    if enqueue:
        from .tasks import import_list

        transaction.on_commit(lambda: import_list.delay(job.pk))
    return job


def _store_source(job: ImportJob, upload) -> None:
    if isinstance(upload, (str, os.PathLike)):
        path = Path(upload)
        size = path.stat().st_size
        name = path.name
    else:
        size, name = upload.size, Path(upload.name or "upload").name
    if size > settings.UPLOAD_MAX_BYTES:
        raise FileRejected(
            f"The file is {size / 1048576:.1f} MB; files up to "
            f"{settings.UPLOAD_MAX_BYTES / 1048576:.1f} MB are accepted."
        )
    job.source_name = name[:255]
    if isinstance(upload, (str, os.PathLike)):
        with open(upload, "rb") as fh:
            job.source.save(name, File(fh), save=False)
    else:
        job.source.save(name, upload, save=False)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise MappingError("Give the list a name.")
    if len(name) > NAME_LENGTH:
        raise MappingError(f"A list's name has at most {NAME_LENGTH} characters.")
    return name


def _check_country(default_country: str | None) -> str:
    code = country_code(default_country or "")
    if code:
        try:
            PhoneNormalizer(code)
        except ValueError as exc:
            raise MappingError(str(exc)) from exc
    return code


def recipient_list_import(*, job_id: int) -> ImportJob:
    """Run an import job (recipient or unsubscribe list) to the end; returns the job.

    Safe to run again for the same job (a redelivered task): a finished job is left alone, and
    the final transaction commits only if the job is still running, so a list is never loaded
    twice. Problems the user can fix end the job as failed with the message in `error`;
    anything else does too, and is re-raised for the logs.
    """
    claimed = ImportJob.objects.filter(pk=job_id, status__in=[Status.QUEUED, Status.RUNNING]).update(
        status=Status.RUNNING, stage=ImportJob.Stage.READING, started_at=timezone.now(), rows_done=0,
        error="", finished_at=None,
    )
    job = ImportJob.objects.select_related("account", "recipient_list", "unsubscribe_list").get(pk=job_id)
    if not claimed:
        return job
    report = Report()
    try:
        _run_job(job, report)
    except _AlreadyFinished:
        pass
    except ImportProblem as exc:
        _fail(job, exc.message, report)
    except Exception as exc:
        logger.exception("Import job %s failed", job_id)
        _fail(job, f"The import failed unexpectedly ({type(exc).__name__}); nothing was imported.", report)
        raise
    finally:
        report.close()
    job.refresh_from_db()
    if job.status in (Status.SUCCEEDED, Status.FAILED):
        _discard_source(job)
    return job


def import_sources_discard() -> int:
    """Delete the uploaded files of finished imports (contact data nobody needs any more; the
    rejected-rows reports stay). Returns how many. Runs periodically, for jobs that ended
    without deleting theirs (a worker that died) or before they did."""
    jobs = ImportJob.objects.filter(status__in=[Status.SUCCEEDED, Status.FAILED]).exclude(source="")
    count = 0
    for job in jobs.only("pk", "source").iterator():
        _discard_source(job)
        count += 1
    return count


def _discard_source(job: ImportJob) -> None:
    if job.source:
        job.source.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(source="")


def _run_job(job: ImportJob, report: Report) -> None:
    jobs = ImportJob.objects.filter(pk=job.pk)
    table = open_table(job.source.path, sheet=job.sheet)
    mapping = parse_mapping(job.mapping)
    if table.rows_estimated is not None:
        jobs.update(rows_estimated=max(table.rows_estimated - (1 if job.has_header else 0), 0))
    import_settings = ImportSettings(
        mapping=mapping, truncate=job.truncate, default_country=job.default_country or None,
        has_header=job.has_header,
    )
    kind = job.kind
    model = list_model(kind)
    if job.mode != Mode.NEW and job.target_list is None:
        raise ImportProblem("The list this import was for no longer exists.")

    def before_save():
        _save_report(job, report)
        jobs.update(stage=ImportJob.Stage.SAVING)

    def on_saved(target, result: ImportResult):
        _after_load(kind, target, result, replace=job.mode != Mode.APPEND,
                    rename=job.list_name if job.mode == Mode.REPLACE else "")
        consent_list_record(target=target, source=ConsentEvent.Source.IMPORT, actor=job.created_by,
                            evidence={"file": job.source_name or job.source.name, "import_job": job.pk})
        finished = jobs.filter(status=Status.RUNNING).update(
            status=Status.SUCCEEDED, stage="", inserted=result.inserted, total=result.total,
            wrong=result.wrong, duplicate=result.duplicate, rows_done=result.total,
            finished_at=timezone.now(),
            **{"recipient_list" if kind == Kind.RECIPIENTS else "unsubscribe_list": target},
        )
        if finished != 1:
            raise _AlreadyFinished

    run_import(
        table.rows(),
        settings=import_settings,
        kind=kind,
        mode=job.mode,
        report=report,
        target=job.target_list if job.mode != Mode.NEW else None,
        create=lambda: model.objects.create(account=job.account, name=job.list_name),
        progress=lambda done: jobs.update(rows_done=done),
        before_save=before_save,
        on_saved=on_saved,
    )


def _after_load(kind: str, target, result: ImportResult, *, replace: bool, rename: str = "") -> None:
    """Inside the load's transaction: keep the counter exact and flag the list for sync."""
    counter = _COUNTER[kind]
    count = result.inserted if replace else F(counter) + result.inserted
    fields = {"name": rename} if rename else {}
    if result.column_names:
        # An append names columns the list had not named; a new or replaced list takes the file's.
        fields["column_names"] = result.column_names if replace else {**result.column_names,
                                                                     **target.column_names}
    _mark_changed(target, **{counter: count}, **fields)


def _mark_changed(obj, **fields) -> None:
    """Record a local edit of a mirrored list: the sync machinery pushes PENDING rows.

    An UPDATE with F() rather than save(): the row may have been loaded before the import
    started, and the counter must not be overwritten with a stale value.
    """
    type(obj).objects.filter(pk=obj.pk).update(
        sync_state=SyncState.PENDING, sync_error="", revision=F("revision") + 1, updated_at=timezone.now(),
        **fields,
    )
    label = obj._meta.label
    transaction.on_commit(lambda: push_mirror.delay(label, obj.pk))


def _save_report(job: ImportJob, report: Report) -> None:
    if not report.count:
        return
    report.file.flush()
    report.file.seek(0)
    job.rejects.save(f"job-{job.pk}-rejected.csv", File(report.file), save=False)
    ImportJob.objects.filter(pk=job.pk).update(rejects=job.rejects.name, rejects_count=report.count)


def _fail(job: ImportJob, message: str, report: Report) -> None:
    if report.count and not job.rejects:
        try:
            _save_report(job, report)
        except OSError:
            logger.exception("Could not save the report of import job %s", job.pk)
    ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.FAILED, stage="", error=message, finished_at=timezone.now()
    )


def recipient_list_create_from_file(
    *, account: ProviderAccount, name: str, upload, mapping, **options
) -> ImportJob:
    return import_job_create(account=account, upload=upload, mapping=mapping, name=name, **options)


def recipient_list_append_from_file(*, recipient_list: RecipientList, upload, mapping, **options) -> ImportJob:
    return import_job_create(
        account=recipient_list.account, upload=upload, mapping=mapping, mode=Mode.APPEND,
        target=recipient_list, **options,
    )


def recipient_list_replace_from_file(
    *, recipient_list: RecipientList, upload, mapping, name: str = "", **options
) -> ImportJob:
    """Replace every recipient of the list with the file's (MessageWhiz's PUT with a file)."""
    return import_job_create(
        account=recipient_list.account, upload=upload, mapping=mapping, mode=Mode.REPLACE,
        target=recipient_list, name=name, **options,
    )


def unsubscribe_list_create_from_file(
    *, account: ProviderAccount, name: str, upload, mapping, **options
) -> ImportJob:
    return import_job_create(
        account=account, upload=upload, mapping=mapping, name=name, kind=Kind.UNSUBSCRIBES, **options
    )


def unsubscribe_list_append_from_file(
    *, unsubscribe_list: UnsubscribeList, upload, mapping, **options
) -> ImportJob:
    return import_job_create(
        account=unsubscribe_list.account, upload=upload, mapping=mapping, kind=Kind.UNSUBSCRIBES,
        mode=Mode.APPEND, target=unsubscribe_list, **options,
    )


def unsubscribe_list_replace_from_file(
    *, unsubscribe_list: UnsubscribeList, upload, mapping, **options
) -> ImportJob:
    return import_job_create(
        account=unsubscribe_list.account, upload=upload, mapping=mapping, kind=Kind.UNSUBSCRIBES,
        mode=Mode.REPLACE, target=unsubscribe_list, **options,
    )


# --- Pasted numbers ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\r\n\t,;|]+")
_WHITESPACE = re.compile(r"\s+")
_MIN_SPLIT_DIGITS = 7


def split_numbers(text: str, *, default_country: str | None = None) -> list[str]:
    """Numbers from pasted text: one per line, or separated by commas, semicolons, tabs…

    Spaces are ambiguous ("050 123 45 67" is one number, "380501234567 380501234568" two): a
    piece with spaces stays whole if it is a valid number as a whole, and is split on spaces
    only if every part is long enough to be a number by itself.
    """
    normalize = PhoneNormalizer(default_country or None)
    numbers = []
    for piece in _SEPARATORS.split(text):
        piece = piece.strip()
        if not piece:
            continue
        parts = _WHITESPACE.split(piece)
        if len(parts) > 1 and all(sum(c.isdigit() for c in part) >= _MIN_SPLIT_DIGITS for part in parts):
            try:
                normalize(piece)
            except PhoneRejected:
                numbers.extend(parts)
                continue
        numbers.append(piece)
    return numbers


def _numbers_import(kind, mode, numbers, *, default_country, target=None, create=None) -> ImportResult:
    default_country = _check_country(default_country) or None
    if isinstance(numbers, str):
        numbers = split_numbers(numbers, default_country=default_country)
    numbers = [str(number) for number in numbers if str(number).strip()]
    if not numbers:
        raise ImportProblem("Enter at least one phone number.")
    import_settings = ImportSettings(
        mapping={0: PHONE}, default_country=default_country, has_header=False
    )
    report = Report(keep=100)
    try:
        return run_import(
            ((index, [number]) for index, number in enumerate(numbers, start=1)),
            settings=import_settings, kind=kind, mode=mode, report=report, target=target, create=create,
            on_saved=lambda lst, result: _numbers_saved(kind, lst, result, replace=mode == Mode.NEW),
        )
    finally:
        report.close()


def _numbers_saved(kind, target, result: ImportResult, *, replace: bool) -> None:
    _after_load(kind, target, result, replace=replace)
    consent_list_record(target=target, source=ConsentEvent.Source.MANUAL, evidence={"pasted": result.inserted})


def recipient_list_create_from_numbers(
    *, account: ProviderAccount, name: str, numbers: str | list[str], default_country: str | None = None
) -> tuple[RecipientList, ImportResult]:
    """A new list from pasted text or a list of numbers (MessageWhiz's /recipientList/numbers)."""
    name = _check_name(name)
    result = _numbers_import(
        Kind.RECIPIENTS, Mode.NEW, numbers, default_country=default_country,
        create=lambda: RecipientList.objects.create(account=account, name=name),
    )
    return RecipientList.objects.get(pk=result.list_id), result


def recipient_list_add_numbers(
    *, recipient_list: RecipientList, numbers: str | list[str], default_country: str | None = None
) -> ImportResult:
    return _numbers_import(
        Kind.RECIPIENTS, Mode.APPEND, numbers, default_country=default_country, target=recipient_list
    )


def unsubscribe_list_create_from_numbers(
    *, account: ProviderAccount, name: str, numbers: str | list[str], default_country: str | None = None
) -> tuple[UnsubscribeList, ImportResult]:
    name = _check_name(name)
    result = _numbers_import(
        Kind.UNSUBSCRIBES, Mode.NEW, numbers, default_country=default_country,
        create=lambda: UnsubscribeList.objects.create(account=account, name=name),
    )
    return UnsubscribeList.objects.get(pk=result.list_id), result


def unsubscribe_list_add_numbers(
    *, unsubscribe_list: UnsubscribeList, numbers: str | list[str], default_country: str | None = None
) -> ImportResult:
    """Add numbers to an unsubscribe list (MessageWhiz's /members: inserted, alreadyExists, notValid)."""
    return _numbers_import(
        Kind.UNSUBSCRIBES, Mode.APPEND, numbers, default_country=default_country, target=unsubscribe_list
    )


# --- Rename, disable --------------------------------------------------------------------------


def recipient_list_rename(*, recipient_list: RecipientList, name: str) -> RecipientList:
    return _rename(recipient_list, name)


def recipient_list_disable(*, recipient_list: RecipientList) -> RecipientList:
    """MessageWhiz's DELETE: the list is disabled, not removed; its recipients stay."""
    return _set_enabled(recipient_list, False)


def unsubscribe_list_rename(*, unsubscribe_list: UnsubscribeList, name: str) -> UnsubscribeList:
    return _rename(unsubscribe_list, name)


def unsubscribe_list_disable(*, unsubscribe_list: UnsubscribeList) -> UnsubscribeList:
    return _set_enabled(unsubscribe_list, False)


def _rename(obj, name: str):
    _mark_changed(obj, name=_check_name(name))
    obj.refresh_from_db()
    return obj


def _set_enabled(obj, enabled: bool):
    _mark_changed(obj, enabled=enabled)
    obj.refresh_from_db()
    return obj
