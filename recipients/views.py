"""Recipient and unsubscribe lists in the dashboard, and the import wizard:

upload → preview with column flags → mapping and options → progress bar → result with rejects.
The uploaded file is kept (see `recipients.staging`, named in the session) between the steps, so
the user picks the mapping on the real data and the import reads the same bytes.
"""

import os
from pathlib import Path

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from messaging import audit
from messaging.selectors import mirror_accounts

from . import exports, services
from .errors import ImportProblem
from .forms import ImportOptionsForm, NumbersListForm, UploadForm, UploadLimit, size_limit
from .models import ImportJob, RecipientList, UnsubscribeList
from .selectors import import_job_progress, import_job_rejected_rows
from .staging import (
    StagedUpload,
    staged_upload_discard,
    staged_upload_path,
    staged_upload_preview,
    staged_upload_save,
)

KINDS = {"recipients": RecipientList, "unsubscribes": UnsubscribeList}
# A phone filter on a list's page counts its matches up to this many (unfiltered, the list's
# stored count is used): counting a million index entries per page view would make it slow.
MEMBERS_COUNT_CAP = 10_000


def _model(kind: str):
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404("No such kind of list.") from None


def _numbers_result(result) -> str:
    """The outcome of pasted numbers, naming each value that was not added and why."""
    summary = f"Added {result.inserted} of {result.total} numbers ({result.wrong} wrong, {result.duplicate} duplicate)."
    if not result.rejected:
        return summary
    named = "; ".join(f"“{value}”: {reason}" for value, reason in result.rejected)
    more = result.wrong + result.duplicate - len(result.rejected)
    return f"{summary} Not added: {named}{f'; and {more} more' if more > 0 else ''}."


def list_index(request, kind="recipients"):
    model = _model(kind)
    query = request.GET.get("q", "").strip()
    lists = model.objects.select_related("account").order_by("-enabled", "name")
    if query:
        lists = lists.filter(Q(name__icontains=query))
    page = Paginator(lists, 50).get_page(request.GET.get("page"))
    jobs = ImportJob.objects.filter(kind=kind).order_by("-created_at")[:5]
    return render(request, "recipients/list_index.html", {"page": page, "query": query, "kind": kind, "jobs": jobs,
                                                          "title": model._meta.verbose_name_plural.capitalize()})


def list_detail(request, kind, pk):
    model = _model(kind)
    obj = get_object_or_404(model, pk=pk)
    members = (obj.recipients if kind == "recipients" else obj.numbers).order_by("pk")
    phone = "".join(ch for ch in request.GET.get("phone", "") if ch.isdigit())
    paginator = Paginator(members.filter(phone__startswith=phone) if phone else members, 50)
    if phone:
        found = paginator.object_list[: MEMBERS_COUNT_CAP + 1].count()
        paginator.capped, paginator.count = found > MEMBERS_COUNT_CAP, min(found, MEMBERS_COUNT_CAP)
    else:
        paginator.count = obj.recipient_count if kind == "recipients" else obj.member_count
    return render(request, "recipients/list_detail.html", {
        "obj": obj, "kind": kind, "page": paginator.get_page(request.GET.get("page")), "phone": phone,
        "jobs": obj.import_jobs.order_by("-created_at")[:10],
    })


def list_new(request, kind):
    """A new list from pasted numbers (MessageWhiz's /recipientList/numbers, or an unsubscribe list)."""
    model = _model(kind)
    form = NumbersListForm(request.POST or None, accounts=mirror_accounts())
    if request.method == "POST" and form.is_valid():
        create = (services.recipient_list_create_from_numbers if kind == "recipients"
                  else services.unsubscribe_list_create_from_numbers)
        try:
            obj, result = create(account=form.cleaned_data["account"], name=form.cleaned_data["name"],
                                 numbers=form.cleaned_data["numbers"],
                                 default_country=form.cleaned_data["default_country"])
        except ImportProblem as problem:
            form.add_error(None, str(problem))
        else:
            messages.success(request, f"Created “{obj}”. {_numbers_result(result)}")
            return redirect("recipients:list_detail", kind=kind, pk=obj.pk)
    return render(request, "recipients/list_new.html", {
        "form": form, "kind": kind, "title": f"New {model._meta.verbose_name} from numbers",
    })


@require_POST
def list_action(request, kind, pk):
    obj = get_object_or_404(_model(kind), pk=pk)
    action = request.POST.get("action")
    prefix, arg = ("recipient_list", "recipient_list") if kind == "recipients" else ("unsubscribe_list",
                                                                                     "unsubscribe_list")
    try:
        if action == "rename":
            getattr(services, f"{prefix}_rename")(**{arg: obj}, name=request.POST.get("name", ""))
            messages.success(request, "Renamed.")
        elif action == "disable":
            getattr(services, f"{prefix}_disable")(**{arg: obj})
            messages.success(request, f"Disabled “{obj}”.")
        elif action == "add_numbers":
            result = getattr(services, f"{prefix}_add_numbers")(
                **{arg: obj}, numbers=request.POST.get("numbers", ""),
                default_country=request.POST.get("default_country", ""))
            messages.success(request, _numbers_result(result))
        else:
            raise Http404("Unknown action.")
    except ImportProblem as problem:
        messages.error(request, str(problem))
    return redirect("recipients:list_detail", kind=kind, pk=pk)


def list_download(request, kind, pk, fmt):
    obj = get_object_or_404(_model(kind), pk=pk)
    if fmt == "csv":
        rows = (exports.recipient_list_export_csv(recipient_list=obj) if kind == "recipients"
                else exports.unsubscribe_list_export_csv(unsubscribe_list=obj))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        if kind == "recipients":
            exports.recipient_list_export_xlsx(recipient_list=obj, output=response)
        else:
            exports.unsubscribe_list_export_xlsx(unsubscribe_list=obj, output=response)
    else:
        raise Http404("Downloads are CSV or XLSX.")
    audit.record("export", obj, detail=f"Download as {fmt.upper()}")
    response["Content-Disposition"] = content_disposition_header(True, f"{obj.name}.{fmt}")
    return response


@csrf_exempt
def import_upload(request, kind="recipients"):
    # The size limit applies while the upload arrives, so the handler goes in before anything
    # reads the request body — CSRF's check included, hence the check after it.
    request.upload_handlers.insert(0, UploadLimit(request))
    return _import_upload(request, kind)


@csrf_protect
def _import_upload(request, kind):
    _model(kind)
    posted = request.method == "POST"
    form = UploadForm(request.POST if posted else None, request.FILES if posted else None,
                      too_large=request.upload_too_large)
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        token = staged_upload_save(upload)
        try:
            staged_upload_preview(token)
        except ImportProblem as problem:
            staged_upload_discard(token)
            form.add_error("file", str(problem))
        else:
            request.session[f"staged:{token}"] = Path(upload.name).name[:200]
            return redirect("recipients:import_map", kind=kind, token=token)
    return render(request, "recipients/import_upload.html", {"form": form, "kind": kind, "size_limit": size_limit()})


def import_map(request, kind, token):
    model = _model(kind)
    path = staged_upload_path(token)
    source_name = request.session.get(f"staged:{token}")
    if path is None or source_name is None or not path.exists():
        messages.error(request, "That upload has expired; please upload the file again.")
        return redirect("recipients:import_upload", kind=kind)
    sheet = request.POST.get("sheet", request.GET.get("sheet", "")) or None
    if request.method == "POST":
        has_header = request.POST.get("has_header") == "on"
    else:
        has_header = request.GET.get("has_header", "on") == "on"
    try:
        preview = staged_upload_preview(token, sheet=sheet, has_header=has_header)
    except ImportProblem as problem:
        messages.error(request, str(problem))
        return redirect("recipients:import_upload", kind=kind)
    accounts, lists = mirror_accounts(), model.objects.filter(enabled=True)
    form = ImportOptionsForm(request.POST if request.POST.get("step") == "import" else None, accounts=accounts,
                             lists=lists, columns=preview.columns, kind=kind)
    errors = []
    if form.is_bound:
        if form.is_valid():
            options = form.cleaned_data
            try:
                with StagedUpload(open(path, "rb"), name=source_name) as upload:
                    job = services.import_job_create(
                        account=options["account"], upload=upload, mapping=options["mapping"], kind=kind,
                        mode=options["mode"], target=options["target"], name=options["name"],
                        truncate=options["truncate"], default_country=options["default_country"],
                        sheet=sheet or "", has_header=has_header, actor=request.user,
                    )
            except ImportProblem as problem:
                errors.append(str(problem))
            else:
                staged_upload_discard(token)  # its previews; the file itself is the job's now
                request.session.pop(f"staged:{token}", None)
                return redirect("recipients:import_job", pk=job.pk)
        errors += [error for field_errors in form.errors.values() for error in field_errors]
    columns = []
    for index in range(preview.columns):
        columns.append({
            "index": index,
            "header": preview.data[0][index] if has_header and preview.data and index < len(preview.data[0]) else "",
            "suggested": request.POST.get(f"column_{index}", preview.suggested_mapping.get(str(index), "")),
            "all_num": preview.is_all_num[index], "over50": preview.exceeds_50[index],
            "over255": preview.exceeds_255[index], "over5000": preview.exceeds_5000[index],
        })
    return render(request, "recipients/import_map.html", {
        "kind": kind, "token": token, "source_name": source_name, "preview": preview, "columns": columns,
        "rows": preview.data[1:] if has_header else preview.data, "markers": form.markers, "has_header": has_header,
        "sheet": sheet or preview.sheet, "accounts": accounts, "lists": lists, "errors": errors,
        "posted": request.POST,
    })


def import_job(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("recipient_list", "unsubscribe_list"), pk=pk)
    return render(request, "recipients/import_job.html", {
        "job": job, "progress": import_job_progress(job_id=pk), "rejected": import_job_rejected_rows(job=job),
    })


def import_job_status(request, pk):
    """Polled by the progress bar."""
    get_object_or_404(ImportJob, pk=pk)
    return JsonResponse(import_job_progress(job_id=pk))


def import_job_rejects(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.rejects:
        raise Http404("This import rejected no rows.")
    audit.record("export", job, detail="Rejected rows as CSV")
    return FileResponse(job.rejects.open("rb"), as_attachment=True,
                        filename=f"rejected-rows-{os.path.splitext(job.source_name)[0] or job.pk}.csv")
