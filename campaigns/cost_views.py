"""Cost pages: per country for a broadcast, a campaign and a period, each as CSV and XLSX too.

Reading them needs `campaigns.view_broadcast`. Every amount carries its currency; totals are per
currency (campaigns.costs)."""

from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from messaging import audit

from .costs import COLUMNS, broadcast_costs, campaign_costs, cost_totals, period_costs
from .exports import export_csv, export_xlsx
from .models import Broadcast, Campaign

VIEW = "campaigns.view_broadcast"
MAX_DAYS = 366


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("“From” must be on or before “To”.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data


def _period(request) -> PeriodForm:
    today = timezone.localdate()
    data = request.GET if "start" in request.GET or "end" in request.GET else {
        "start": (today - timedelta(days=29)).isoformat(), "end": today.isoformat()}
    form = PeriodForm(data)
    form.is_valid()
    return form


def _download(rows: list[dict], fmt: str, name: str, obj=None, detail: str = ""):
    if fmt not in ("csv", "xlsx"):
        raise Http404("Exports are CSV or XLSX.")
    audit.record("export", obj, detail=f"Cost by country{detail} as {fmt.upper()}",
                 object_type="" if obj is not None else "campaigns.costs", object_repr="" if obj else "Costs")
    lines = [[row[column] for column in COLUMNS] for row in rows]
    filename = f"{name}.{fmt}"
    if fmt == "xlsx":
        return FileResponse(export_xlsx(lines, COLUMNS, sheet_name="Costs"), as_attachment=True, filename=filename,
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = StreamingHttpResponse(export_csv(lines, COLUMNS), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _table(request, rows: list[dict], export: str, pk: int, note: str = ""):
    """The cost-by-country table (templates/campaigns/_costs_table.html), loaded into its page."""
    return render(request, "campaigns/_costs_table.html", {
        "costs": rows, "cost_totals": cost_totals(rows), "costs_note": note,
        "costs_csv": reverse(export, args=[pk, "csv"]), "costs_xlsx": reverse(export, args=[pk, "xlsx"])})


@permission_required(VIEW, raise_exception=True)
def broadcast_costs_partial(request, pk):
    broadcast = get_object_or_404(Broadcast, pk=pk)
    note = ("With the broadcasts derived from this one (later windows, retries, variants)."
            if broadcast.children.exists() else "")
    return _table(request, broadcast_costs(broadcast), "campaigns:broadcast_costs_export", broadcast.pk, note)


@permission_required(VIEW, raise_exception=True)
def campaign_costs_partial(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    return _table(request, campaign_costs(campaign), "campaigns:campaign_costs_export", campaign.pk)


@permission_required(VIEW, raise_exception=True)
def broadcast_costs_export(request, pk, fmt):
    broadcast = get_object_or_404(Broadcast, pk=pk)
    return _download(broadcast_costs(broadcast), fmt, f"broadcast-{broadcast.pk}-costs", broadcast)


@permission_required(VIEW, raise_exception=True)
def campaign_costs_export(request, pk, fmt):
    campaign = get_object_or_404(Campaign, pk=pk)
    return _download(campaign_costs(campaign), fmt, f"campaign-{campaign.pk}-costs", campaign)


@permission_required(VIEW, raise_exception=True)
def costs_page(request):
    form = _period(request)
    rows = period_costs(**form.cleaned_data) if form.is_valid() else []
    query = request.GET.urlencode() if form.is_valid() and request.GET else ""
    return render(request, "campaigns/costs.html", {"form": form, "costs": rows, "cost_totals": cost_totals(rows),
                                                    "query": f"?{query}" if query else ""})


@permission_required(VIEW, raise_exception=True)
def costs_export(request, fmt):
    form = _period(request)
    if not form.is_valid():
        raise Http404("Choose a valid period.")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return _download(period_costs(start=start, end=end), fmt, f"costs-{start}-{end}", detail=f" from {start} to {end}")
