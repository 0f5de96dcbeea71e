"""Recipient lists: list, read, create from numbers, append numbers, import a file (the dashboard's
forms and recipients.services, with their mapping rules)."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from messaging.selectors import mirror_accounts
from recipients import services
from recipients.errors import ImportProblem, MappingError
from recipients.forms import NumbersListForm
from recipients.models import ImportJob, RecipientList

from .base import ApiError, Scope, form_errors

router = Router(tags=["lists"])


class ListOut(Schema):
    id: int
    name: str
    account: int
    recipient_count: int
    enabled: bool
    sync_state: str
    remote_id: int | None


class Rejected(Schema):
    field: str
    value: str
    message: str


class NumbersResult(Schema):
    list: ListOut
    inserted: int
    total: int
    wrong: int
    duplicate: int
    rejected: list[Rejected]


class NewList(Schema):
    name: str
    numbers: list[str]
    account: int | None = None
    default_country: str = ""


class MoreNumbers(Schema):
    numbers: list[str]
    default_country: str = ""


class ImportOut(Schema):
    id: int
    status: str
    stage: str
    list: int | None
    rows_done: int
    inserted: int | None
    total: int | None
    wrong: int | None
    duplicate: int | None
    error: str


def list_out(obj: RecipientList) -> dict:
    return {"id": obj.pk, "name": obj.name, "account": obj.account_id, "recipient_count": obj.recipient_count,
            "enabled": obj.enabled, "sync_state": obj.sync_state, "remote_id": obj.remote_id}


def _numbers_result(obj: RecipientList, result, numbers: list[str]) -> dict:
    """The service's counts, and each rejected value (the first 100) with its place in `numbers`."""
    places: dict[str, list[int]] = {}
    for index, number in enumerate(numbers):
        places.setdefault(str(number), []).append(index)
    rejected = []
    for value, reason in result.rejected:
        index = places.get(value, [None]).pop(0) if places.get(value) else None
        rejected.append({"field": f"numbers[{index}]" if index is not None else "numbers", "value": value,
                         "message": reason})
    obj.refresh_from_db()
    return {"list": list_out(obj), **result.as_dict(), "rejected": rejected}


@router.get("/lists", response=list[ListOut], auth=Scope("lists:read"), summary="Recipient lists")
def lists_index(request, account: int | None = None, enabled: bool | None = None):
    lists = RecipientList.objects.order_by("name")
    if account is not None:
        lists = lists.filter(account_id=account)
    if enabled is not None:
        lists = lists.filter(enabled=enabled)
    return [list_out(obj) for obj in lists[:1000]]


@router.get("/lists/{int:list_id}", response=ListOut, auth=Scope("lists:read"), summary="One recipient list")
def list_get(request, list_id: int):
    return list_out(get_object_or_404(RecipientList, pk=list_id))


@router.post("/lists", response={201: NumbersResult}, auth=Scope("lists:write"),
             summary="Create a list from numbers")
def list_create(request, payload: NewList):
    """As “New list from numbers” in the dashboard: numbers in international form (or national with
    `default_country`); wrong and repeated numbers are left out and named in `rejected`."""
    form = NumbersListForm({"account": payload.account, "name": payload.name, "numbers": "\n".join(payload.numbers),
                            "default_country": payload.default_country}, accounts=mirror_accounts())
    if not form.is_valid():
        raise form_errors(form)
    try:
        obj, result = services.recipient_list_create_from_numbers(
            account=form.cleaned_data["account"], name=form.cleaned_data["name"], numbers=payload.numbers,
            default_country=payload.default_country)
    except ImportProblem as exc:
        raise ApiError(422, str(exc), field="numbers") from None
    return Status(201, _numbers_result(obj, result, payload.numbers))


@router.post("/lists/{int:list_id}/numbers", response=NumbersResult, auth=Scope("lists:write"),
             summary="Append numbers to a list")
def list_append(request, list_id: int, payload: MoreNumbers):
    obj = get_object_or_404(RecipientList, pk=list_id, enabled=True)
    try:
        result = services.recipient_list_add_numbers(recipient_list=obj, numbers=payload.numbers,
                                                     default_country=payload.default_country)
    except ImportProblem as exc:
        raise ApiError(422, str(exc), field="numbers") from None
    return _numbers_result(obj, result, payload.numbers)


def import_out(job: ImportJob) -> dict:
    return {"id": job.pk, "status": job.status, "stage": job.stage, "list": job.recipient_list_id,
            "rows_done": job.rows_done, "inserted": job.inserted, "total": job.total, "wrong": job.wrong,
            "duplicate": job.duplicate, "error": job.error}


@router.post("/lists/imports", response={202: ImportOut}, auth=Scope("lists:write"),
             summary="Import a file into a new or existing list")
def list_import(request, file: File[UploadedFile], mapping: Form[str], name: Form[str] = "",
                mode: Form[str] = ImportJob.Mode.NEW, list_id: Form[int | None] = None,
                account: Form[int | None] = None, truncate: Form[bool] = False, default_country: Form[str] = "",
                sheet: Form[str] = "", has_header: Form[bool] = True):
    """CSV, XLSX or XLS, read as the dashboard's import reads it. `mapping` is MessageWhiz's column
    mapping as JSON, e.g. `{"0": "phone_number", "1": "first_name"}`; `mode` is new (give `name`),
    append or replace (give `list_id`). The import runs in the background: poll its status."""
    target = None
    if mode != ImportJob.Mode.NEW:
        if list_id is None:
            raise ApiError(422, "Give the list to append to or replace.", field="list_id")
        target = get_object_or_404(RecipientList, pk=list_id, enabled=True)
        chosen = target.account
    else:
        accounts = mirror_accounts()
        chosen = accounts.filter(pk=account).first() if account is not None else (
            accounts.first() if accounts.count() == 1 else None)
        if chosen is None:
            raise ApiError(422, "Give the id of an active MessageWhiz account.", field="account")
    try:
        with transaction.atomic():
            job = services.import_job_create(
                account=chosen, upload=file, mapping=mapping, mode=mode, target=target, name=name,
                truncate=truncate, default_country=default_country, sheet=sheet, has_header=has_header,
                actor=request.user)
    except ImportProblem as exc:
        raise ApiError(422, str(exc), field="mapping" if isinstance(exc, MappingError) else "file") from None
    return Status(202, import_out(job))


@router.get("/lists/imports/{int:job_id}", response=ImportOut, auth=Scope("lists:read"), summary="An import's progress")
def import_get(request, job_id: int):
    return import_out(get_object_or_404(ImportJob, pk=job_id, kind=ImportJob.Kind.RECIPIENTS))
