"""Broadcast pages: the list, one broadcast's figures and messages, exports, cancel."""

import hashlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from messaging import audit
from messaging.models import ProviderAccount
from messaging.permissions import permission_required_for

from . import dispatch
from .abtests import abtest_of, abtest_results, abtest_stop, with_children_figures
from .compose import ContinueSegmentForm
from .compose_views import describe_recurrence
from .exports import broadcast_export_rows, export_csv, export_xlsx
from .models import AbTest, Broadcast, Message, RecurringBroadcast
from .parts import parts_of
from .scheduling import WAITING, broadcast_cancel
from .segments import continue_problem, segment_check, segment_continue, segment_estimate, segment_remaining
from .selectors import (
    broadcast_figures,
    broadcast_messages,
    broadcast_routes,
    broadcasts_search,
    messages_in_index_order,
)
from .sending import SubmissionProblem
from .states import TransitionRefused


@permission_required_for("campaigns.view_broadcast")
def broadcast_list(request):
    query, state = request.GET.get("q", "").strip(), request.GET.get("state", "")
    page = Paginator(broadcasts_search(query=query, state=state), 25).get_page(request.GET.get("page"))
    recurring = RecurringBroadcast.objects.filter(enabled=True).select_related("definition")
    for item in recurring:
        item.text = describe_recurrence(item)
    return render(request, "campaigns/broadcast_list.html", {
        "page": page, "query": query, "state": state, "states": Broadcast.State.choices, "recurring": recurring,
    })


# A filter matching more messages than this is shown as "200+ pages": counting a million index
# entries per request would make the page slow, and the export gives them all.
FILTERED_COUNT_CAP = 10_000


class CountedPaginator(Paginator):
    """A paginator that never counts a million rows: unfiltered, the broadcast's own count is used;
    filtered, matches are counted up to FILTERED_COUNT_CAP (`capped` tells the page there are more)."""

    def __init__(self, object_list, per_page, *, count=None):
        super().__init__(object_list, per_page)
        self.capped = False
        if count is None:
            count = object_list[:FILTERED_COUNT_CAP + 1].count()
            self.capped = count > FILTERED_COUNT_CAP
            count = min(count, FILTERED_COUNT_CAP)
        self.count = count  # overrides the cached_property


def _live_context(request, broadcast: Broadcast) -> dict:
    """What changes while a broadcast runs: figures, state, timeline and the message table's page
    (with the table's filters and page number, which the polling carries along)."""
    status, phone = request.GET.get("status", ""), request.GET.get("phone", "")
    known = None
    if not (phone or status) and broadcast.state in (Broadcast.State.SUBMITTED, Broadcast.State.COMPLETED):
        known = broadcast.recipients_count
    with messages_in_index_order():
        page = CountedPaginator(broadcast_messages(broadcast, status=status, phone=phone), 50,
                                count=known).get_page(request.GET.get("page"))
        page.object_list = list(page.object_list)
    query = {name: request.GET[name] for name in ("status", "phone", "page") if request.GET.get(name)}
    broadcast = with_children_figures(broadcast)
    figures = broadcast_figures(broadcast)
    # A finished broadcast whose parts still go keeps its figures polling.
    figures["is_final"] = figures["is_final"] and not broadcast.children.filter(state__in=(
        *WAITING, Broadcast.State.SUBMITTING, Broadcast.State.SUBMITTED)).exists()
    return {"broadcast": broadcast, "figures": figures, "routes": broadcast_routes(broadcast), "page": page,
            "waiting_parts": parts_of(broadcast).filter(state__in=WAITING).count(),
            "events": broadcast.events.select_related("actor"), "status": status, "phone": phone,
            "live_query": f"?{urlencode(query)}" if query else ""}


@permission_required_for("campaigns.view_broadcast")
def broadcast_detail(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("campaign", "account", "template", "parent"), pk=pk)
    context = _live_context(request, broadcast)
    return render(request, "campaigns/broadcast_detail.html", {
        **context, "segments": broadcast.segments.all(), "statuses": Message.Status.choices,
        "parts": parts_of(broadcast),
        "filters": _filters(context["status"], context["phone"]),
        "test_sends": broadcast.test_sends.order_by("-created_at")[:10],
        "ab": abtest_results(test) if (test := abtest_of(broadcast)) is not None else None,
    })


@permission_required_for("campaigns.view_broadcast")
def broadcast_figures_partial(request, pk):
    """Polled every few seconds until the broadcast is final (htmx): the figures, and out of band
    the state badge, the buttons that go with it, the timeline and the message table."""
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk)
    return render(request, "campaigns/_broadcast_live.html", {**_live_context(request, broadcast), "oob": True})


# A worksheet holds at most 1,048,576 rows, the header included; CSV has no limit.
XLSX_MAX_ROWS = 1_048_575


@permission_required_for("campaigns.view_message")
def broadcast_export(request, pk, fmt):
    if fmt not in ("csv", "xlsx"):
        raise Http404("Exports are CSV or XLSX.")
    broadcast = get_object_or_404(Broadcast.objects.select_related("account", "template"), pk=pk)
    status, phone = request.GET.get("status", ""), request.GET.get("phone", "")
    messages_ = broadcast_messages(broadcast, status=status, phone=phone)
    filename = f"broadcast-{broadcast.pk}-messages.{fmt}"
    audit.record("export", broadcast, detail=f"Messages as {fmt.upper()}{_filters(status, phone)}")
    if fmt == "xlsx":
        if messages_.order_by()[:XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS:
            messages.error(request, f"An XLSX file holds at most {XLSX_MAX_ROWS:,} messages and this export has "
                                    "more: download it as CSV, which has no limit.")
            return redirect(reverse("campaigns:broadcast_detail", args=[pk]) + _filters(status, phone))
        return FileResponse(export_xlsx(broadcast_export_rows(broadcast, messages_)), as_attachment=True,
                            filename=filename,
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = StreamingHttpResponse(export_csv(broadcast_export_rows(broadcast, messages_)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _filters(status: str, phone: str) -> str:
    """The message table's filters as a query string ("" or "?status=…&phone=…"), for export links."""
    query = urlencode({name: value for name, value in (("status", status), ("phone", phone)) if value})
    return f"?{query}" if query else ""


@permission_required_for("campaigns.send_broadcast")
def broadcast_continue(request, pk):
    """Continue a smart broadcast with a new segment: its message or templates, senders, when."""
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk)
    if problem := continue_problem(broadcast):
        messages.error(request, problem)
        return redirect("campaigns:broadcast_detail", pk=pk)
    form = ContinueSegmentForm(request.POST or None, broadcast=broadcast, remaining=segment_remaining(broadcast))
    estimate, key = None, ""
    if request.method == "POST" and form.is_valid():
        args = form.segment()
        # What the estimate was made for: a segment changed after its estimate is estimated again.
        key = hashlib.sha256(repr(sorted((k, v) for k, v in request.POST.lists()
                                         if k not in ("csrfmiddlewaretoken", "confirm", "estimate_key"))
                                  ).encode()).hexdigest()
        try:
            if request.POST.get("confirm") and request.POST.get("estimate_key") == key:
                segment = segment_continue(broadcast, **args)
                messages.success(request, f"Segment of {segment.size} recipients sent to MessageWhiz.")
                return redirect("campaigns:broadcast_detail", pk=pk)
            segment_check(broadcast, **args)
        except SubmissionProblem as problem:
            form.add_error(None, str(problem))
        else:
            estimate = segment_estimate(broadcast, size=args["size"], body=args["body"], templates=args["templates"])
            if request.POST.get("confirm"):
                form.add_error(None, "The segment changed after its estimate: check the new one and confirm.")
    return render(request, "campaigns/continue.html", {"broadcast": broadcast, "form": form, "estimate": estimate,
                                                       "estimate_key": key})


@permission_required_for("campaigns.send_broadcast")
@require_POST
def broadcast_cancel_view(request, pk):
    broadcast = get_object_or_404(Broadcast, pk=pk)
    was_waiting = broadcast.state in WAITING
    try:
        cancelled = broadcast_cancel(broadcast, actor=request.user,
                                     reason=request.POST.get("reason", "").strip() or "Cancelled")
    except TransitionRefused as problem:
        messages.error(request, str(problem))
    else:
        parts = f" and its {cancelled} scheduled part{'s' if cancelled > 1 else ''}" if cancelled else ""
        messages.success(request, f"Cancelled “{broadcast}”{parts}. Nothing will be sent." if was_waiting else
                         f"Cancelled the {cancelled} part{'s' if cancelled > 1 else ''} of “{broadcast}” not sent "
                         "yet; what was submitted already goes on.")
    return redirect("campaigns:broadcast_detail", pk=pk)


@permission_required("campaigns.change_abtest", raise_exception=True)
@require_POST
def abtest_stop_view(request, pk):
    test = get_object_or_404(AbTest.objects.select_related("broadcast"), broadcast_id=pk)
    if abtest_stop(test, actor=request.user):
        messages.success(request, "Stopped the A/B test: no winner will be sent.")
    else:
        messages.error(request, "The test is not waiting for its decision any more: it was decided or stopped.")
    return redirect("campaigns:broadcast_detail", pk=pk)


def _resend_unknown(request, broadcast):
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm: recipients whose message did go out get it twice.")
    elif count := dispatch.dispatch_resend_unknown(broadcast, actor=request.user):
        messages.success(request, f"{count} unknown message{'s' if count > 1 else ''} queued to be sent again.")
    else:
        messages.error(request, "There are no unknown messages to send again.")
    return redirect("campaigns:broadcast_dispatch", broadcast.pk)


@permission_required_for("campaigns.view_broadcast", "campaigns.send_broadcast")
def broadcast_dispatch(request, pk):
    broadcast = get_object_or_404(Broadcast.objects.select_related("account"), pk=pk,
                                  account__kind=ProviderAccount.Kind.GENERIC)
    if request.method == "POST":
        if request.POST.get("action") == "resend_unknown":
            return _resend_unknown(request, broadcast)
        action = {"pause": dispatch.dispatch_pause, "resume": dispatch.dispatch_resume,
                  "cancel": dispatch.dispatch_cancel}.get(request.POST.get("action"))
        if action is None:
            raise Http404
        if not action(broadcast):
            messages.error(request, "The broadcast is not in a state that allows this.")
        return redirect("campaigns:broadcast_dispatch", broadcast.pk)
    progress = dispatch.dispatch_progress(broadcast)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(progress)
    return render(request, "providers/dispatch.html", {"broadcast": broadcast, "progress": progress})
