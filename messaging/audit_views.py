"""The audit trail's page and its CSV export, with the same filters."""

import csv
import datetime
import json

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import audit
from .models import AuditEvent
from .spreadsheets import neutralise

ACTIONS = ["create", "change", "delete", "send", "cancel", "login", "login_failed", "logout", "export",
           "secret_view"]


class AuditFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Object or detail contains")
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.ChoiceField(required=False,
                               choices=[("", "Any action"), *((a, a.replace("_", " ")) for a in ACTIONS)])
    object_type = forms.ChoiceField(required=False, label="Kind of object",
                                    choices=[("", "Any kind"), *((label, label.split(".")[1]) for label in
                                                                 sorted(audit.AUDITED))])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}),
                            help_text="Dates in the site's time zone; both ends included")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end is before the start.")
        return data


def audit_events(data: dict) -> QuerySet[AuditEvent]:
    """The trail filtered by an AuditFilterForm's cleaned data, newest first."""
    events = AuditEvent.objects.all()
    if data.get("q"):
        events = events.filter(Q(object_repr__icontains=data["q"]) | Q(detail__icontains=data["q"]))
    if data.get("actor"):
        events = events.filter(actor_name__iexact=data["actor"])
    for name in ("action", "object_type"):
        if data.get(name):
            events = events.filter(**{name: data[name]})
    zone = timezone.get_current_timezone()
    if data.get("since"):
        events = events.filter(at__gte=datetime.datetime.combine(data["since"], datetime.time.min, zone))
    if data.get("until"):
        events = events.filter(at__lt=datetime.datetime.combine(data["until"] + datetime.timedelta(days=1),
                                                                datetime.time.min, zone))
    return events


def _filtered(request) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, AuditEvent.objects.none()
    return form, audit_events(form.cleaned_data if form.is_bound else {})


@permission_required("messaging.view_auditevent", raise_exception=True)
def audit_trail(request):
    form, events = _filtered(request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "messaging/audit.html", {"form": form, "page": page,
                                                    "query": request.GET.urlencode()})


class _Echo:
    def write(self, value):
        return value


COLUMNS = ["time (UTC)", "user", "action", "kind", "id", "object", "changes", "detail", "address"]


@permission_required("messaging.view_auditevent", raise_exception=True)
def audit_export(request):
    _, events = _filtered(request)
    audit.record("export", None, object_type="messaging.auditevent", object_repr="Audit trail",
                 detail=f"CSV{'?' + request.GET.urlencode() if request.GET else ''}")
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow([neutralise(value) for value in (
                event.at.astimezone(datetime.UTC).isoformat(), event.actor_name or "system", event.action,
                event.object_type, event.object_id, event.object_repr,
                json.dumps(event.changes, ensure_ascii=False) if event.changes else "", event.detail,
                event.ip or "")])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
