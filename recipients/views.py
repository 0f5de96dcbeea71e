"""Recipient and unsubscribe lists in the dashboard, and the import wizard:

upload → preview with column flags → mapping and options → progress bar → result with rejects.
The uploaded file is kept (as a staged file named in the session) between the steps, so the
user picks the mapping on the real data and the import reads the same bytes.
"""

import os
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from messaging.models import ProviderAccount

from . import exports, services
from .errors import ImportProblem
from .mapping import MARKERS
from .models import ImportJob, RecipientList, UnsubscribeList
from .preview import preview_file
from .selectors import import_job_progress

KINDS = {"recipients": RecipientList, "unsubscribes": UnsubscribeList}
STAGED_DIR = "imports/staged"


def _model(kind: str):
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404("No such kind of list.") from None


def _staged_path(token: str) -> Path:
    if not token or not all(ch in "0123456789abcdef" for ch in token):
        raise Http404("No such upload.")
    return Path(settings.MEDIA_ROOT) / STAGED_DIR / token


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
    if phone:
        members = members.filter(phone__startswith=phone)
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    return render(request, "recipients/list_detail.html", {
        "obj": obj, "kind": kind, "page": page, "phone": phone,
        "jobs": obj.import_jobs.order_by("-created_at")[:10],
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
            messages.success(request, f"Added {result.inserted} of {result.total} numbers "
                                      f"({result.wrong} wrong, {result.duplicate} duplicate).")
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
    response["Content-Disposition"] = content_disposition_header(True, f"{obj.name}.{fmt}")
    return response


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (any encoding and delimiter), XLSX or XLS")


def import_upload(request, kind="recipients"):
    _model(kind)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.UPLOAD_MAX_BYTES:
            form.add_error("file", f"Files up to {settings.UPLOAD_MAX_BYTES // 1048576} MB are accepted.")
        else:
            token = uuid.uuid4().hex
            path = _staged_path(token)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                preview_file(path)
            except ImportProblem as problem:
                path.unlink(missing_ok=True)
                form.add_error("file", str(problem))
            else:
                request.session[f"staged:{token}"] = Path(upload.name).name[:200]
                return redirect("recipients:import_map", kind=kind, token=token)
    return render(request, "recipients/import_upload.html", {"form": form, "kind": kind,
                                                             "max_mb": settings.UPLOAD_MAX_BYTES // 1048576})


def import_map(request, kind, token):
    path = _staged_path(token)
    source_name = request.session.get(f"staged:{token}")
    if source_name is None or not path.exists():
        messages.error(request, "That upload has expired; please upload the file again.")
        return redirect("recipients:import_upload", kind=kind)
    sheet = request.POST.get("sheet", request.GET.get("sheet", "")) or None
    if request.method == "POST":
        has_header = request.POST.get("has_header") == "on"
    else:
        has_header = request.GET.get("has_header", "on") == "on"
    try:
        preview = preview_file(path, sheet=sheet, has_header=has_header)
    except ImportProblem as problem:
        messages.error(request, str(problem))
        return redirect("recipients:import_upload", kind=kind)
    model = _model(kind)
    accounts = ProviderAccount.objects.filter(is_active=True, kind=ProviderAccount.Kind.MESSAGEWHIZ)
    markers = ("phone_number",) if kind == "unsubscribes" else MARKERS
    errors = []
    if request.method == "POST" and request.POST.get("step") == "import":
        mapping = {str(i): request.POST.get(f"column_{i}", "") for i in range(preview.columns)}
        mode = request.POST.get("mode", "new")
        target = model.objects.filter(pk=request.POST.get("target") or 0).first() if mode != "new" else None
        account = target.account if target else accounts.filter(pk=request.POST.get("account") or 0).first()
        if account is None and accounts.count() == 1:
            account = accounts.first()
        if account is None:
            errors.append("Choose the provider account the list belongs to.")
        elif mode != "new" and target is None:
            errors.append("Choose the list to add to or replace.")
        else:
            try:
                job = services.import_job_create(
                    account=account, upload=path, mapping=mapping, kind=kind, mode=mode, target=target,
                    name=request.POST.get("name", "") if mode == "new" else "",
                    truncate=request.POST.get("truncate") == "on",
                    default_country=request.POST.get("default_country", ""),
                    sheet=sheet or "", has_header=has_header,
                )
            except ImportProblem as problem:
                errors.append(str(problem))
            else:
                ImportJob.objects.filter(pk=job.pk).update(source_name=source_name)
                path.unlink(missing_ok=True)
                request.session.pop(f"staged:{token}", None)
                return redirect("recipients:import_job", pk=job.pk)
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
        "rows": preview.data[1:] if has_header else preview.data, "markers": markers, "has_header": has_header,
        "sheet": sheet or preview.sheet, "accounts": accounts, "lists": model.objects.filter(enabled=True),
        "errors": errors, "posted": request.POST,
    })


def import_job(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("recipient_list", "unsubscribe_list"), pk=pk)
    return render(request, "recipients/import_job.html", {"job": job, "progress": import_job_progress(job_id=pk)})


def import_job_status(request, pk):
    """Polled by the progress bar."""
    get_object_or_404(ImportJob, pk=pk)
    return JsonResponse(import_job_progress(job_id=pk))


def import_job_rejects(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.rejects:
        raise Http404("This import rejected no rows.")
    return FileResponse(job.rejects.open("rb"), as_attachment=True,
                        filename=f"rejected-rows-{os.path.splitext(job.source_name)[0] or job.pk}.csv")
